// Length-prefixed framing of the gemmad protocol: a 4-byte big-endian payload length, then the
// payload (one serialized Protobuf message, ipc/proto/gemmad.proto). Pure byte handling, no
// I/O, so it can be fuzzed (tests/fuzz/fuzz_frame.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace google::protobuf {
class MessageLite;
}

namespace gemmad::ipc {

inline constexpr std::size_t kFrameHeaderBytes = 4;
// docs/DESIGN.md "Protocol": frames over the configured limit (default 4 MiB) close the connection.
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 4u << 20;

// Incremental decoder: feed whatever bytes a read returned, then take the complete frames.
//
// Zero-length frames are allowed: an empty payload is the valid encoding of an all-default
// message, so refusing it would make the framing reject a legal message; what an empty
// message means is the protocol layer's business.
//
// A header announcing more than max_frame_bytes fails feed() as soon as its 4 bytes are in,
// before any payload memory is reserved, and the decoder stays failed (every later feed()
// returns the same error): the stream has lost sync and must be closed. Memory held is at most
// the bytes of one partial frame plus the complete frames not yet taken.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}

  // Consumes all of `bytes`. Error kOutOfRange naming the announced length and the limit.
  Status feed(std::span<const std::uint8_t> bytes);
  Status feed(std::string_view bytes) {
    return feed(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                              bytes.size()));
  }

  // The oldest complete frame's payload, or nullopt when none is complete.
  std::optional<std::string> next_frame();

  // Complete frames waiting in next_frame().
  std::size_t ready_frames() const { return ready_.size(); }
  // True when bytes of an incomplete frame (header or payload) are buffered.
  bool mid_frame() const { return header_have_ > 0 || in_payload_; }
  // Bytes held: partial frame plus ready frames.
  std::size_t buffered_bytes() const;
  bool failed() const { return failed_.has_value(); }

  std::uint32_t max_frame_bytes() const { return max_frame_bytes_; }
  // Changes the limit for frames whose header has not been read yet (e.g. after HelloReply
  // announced the daemon's limit).
  void set_max_frame_bytes(std::uint32_t limit) { max_frame_bytes_ = limit; }

 private:
  std::uint32_t max_frame_bytes_;
  std::uint8_t header_[kFrameHeaderBytes] = {};
  std::size_t header_have_ = 0;
  bool in_payload_ = false;
  std::uint32_t payload_size_ = 0;
  std::string payload_;
  std::deque<std::string> ready_;
  std::size_t ready_bytes_ = 0;
  std::optional<Error> failed_;
};

// Writes the 4-byte big-endian header of a `payload_size`-byte frame into `out`.
void put_frame_header(std::uint32_t payload_size, std::uint8_t out[kFrameHeaderBytes]);

// Header + payload. Error kOutOfRange when payload.size() > max_frame_bytes.
Result<std::string> encode_frame(std::string_view payload,
                                 std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// Serializes `message` into one frame. Error kOutOfRange naming the message type, its size and
// the limit when it does not fit; kInternal if serialization fails (unset required fields
// cannot occur in proto3, so that is a bug).
Result<std::string> encode_message_frame(const google::protobuf::MessageLite& message,
                                         std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

}  // namespace gemmad::ipc
