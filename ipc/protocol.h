// Protocol-level helpers shared by the server transport, the daemon and the clients: the
// protocol version, parsing of frame payloads into envelopes, error-code mapping and Error
// replies (ipc/proto/gemmad.proto).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "ipc/proto/gemmad.pb.h"

namespace gemmad::ipc {

// The version this build speaks (Hello.protocol_version / HelloReply.protocol_version).
inline constexpr std::uint32_t kProtocolVersion = v1::PROTOCOL_VERSION_CURRENT;
// The oldest version this build still serves; Hello outside [min, current] is UNSUPPORTED.
inline constexpr std::uint32_t kMinProtocolVersion = 1;
// Hello.app_name is 1 to this many bytes (gemmad.proto).
inline constexpr std::size_t kMaxAppNameBytes = 128;

// A frame payload as an envelope. Error kInvalidArgument naming the payload size when the
// bytes are not a valid message (truncated, bad wire type, invalid UTF-8 in a string).
Result<v1::ClientMessage> parse_client_message(std::string_view payload);
Result<v1::ServerMessage> parse_server_message(std::string_view payload);

// Where a payload that does not parse holds a string field that is not UTF-8 (proto3 refuses
// those): the message's request_id and the field's full name, e.g.
// "gemmad.v1.ChatRequest.user_text". nullopt when the payload is malformed in another way.
struct InvalidUtf8 {
  std::uint64_t request_id = 0;
  std::string field;
};
std::optional<InvalidUtf8> find_invalid_utf8(std::string_view payload);

// Message names of the oneof cases ("Hello", "ChatRequest", ...; "no body" when unset), for
// error messages and logs.
const char* body_name(v1::ClientMessage::BodyCase body);
const char* body_name(v1::ServerMessage::BodyCase body);

// gemmad::ErrorCode <-> wire ErrorCode. kIo and kInternal both become INTERNAL; PROTOCOL
// becomes kInvalidArgument (the peer sent something malformed); unknown wire values (a newer
// daemon) become kInternal.
v1::ErrorCode to_wire_error_code(ErrorCode code);
ErrorCode from_wire_error_code(v1::ErrorCode code);

// A ServerMessage carrying Error{code, message} for `request_id`.
v1::ServerMessage make_error_reply(std::uint64_t request_id, v1::ErrorCode code,
                                   std::string message);
v1::ServerMessage make_error_reply(std::uint64_t request_id, const Error& error);

// The wire Error as a gemmad::Error (code mapped, message kept).
Error from_wire_error(const v1::Error& error);

}  // namespace gemmad::ipc
