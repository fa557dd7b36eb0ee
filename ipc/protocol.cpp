// Protocol-level helpers: envelope parsing, body names, error-code mapping (see protocol.h).
#include "ipc/protocol.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include <limits>
#include <utility>

namespace gemmad::ipc {
namespace {

template <typename Message>
Result<Message> parse_envelope(std::string_view payload, const char* type_name) {
  Message message;
  // Frames are bounded far below INT_MAX by max_frame_bytes; the check keeps the cast honest.
  if (payload.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      !message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return make_error(ErrorCode::kInvalidArgument, "frame of " + std::to_string(payload.size()) +
                                                       " bytes is not a valid " + type_name);
  }
  return message;
}

// Strict UTF-8 as proto3 demands it: no overlong forms, no surrogates, nothing past U+10FFFF.
bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      if ((t & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (t & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// The full name of the first string field under `type` in `bytes` that is not UTF-8. Reads the
// wire format without the UTF-8 check (UnknownFieldSet) and follows the descriptor; nesting
// is bounded like protobuf's own recursion limit.
std::optional<std::string> first_bad_string(const google::protobuf::Descriptor* type,
                                            std::string_view bytes, int depth) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::UnknownField;
  google::protobuf::UnknownFieldSet fields;
  if (depth > 32 || !fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return std::nullopt;
  }
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& f = fields.field(i);
    if (f.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* field = type->FindFieldByNumber(f.number());
    if (field == nullptr) continue;
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (!is_utf8(f.length_delimited())) return field->full_name();
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (auto bad = first_bad_string(field->message_type(), f.length_delimited(), depth + 1)) {
        return bad;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<InvalidUtf8> find_invalid_utf8(std::string_view payload) {
  if (payload.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return std::nullopt;
  }
  auto field = first_bad_string(v1::ClientMessage::descriptor(), payload, 0);
  if (!field) return std::nullopt;
  InvalidUtf8 out;
  out.field = std::move(*field);
  google::protobuf::UnknownFieldSet top;
  if (top.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    const int request_id = v1::ClientMessage::kRequestIdFieldNumber;
    for (int i = 0; i < top.field_count(); ++i) {
      const auto& f = top.field(i);
      if (f.number() == request_id && f.type() == google::protobuf::UnknownField::TYPE_VARINT) {
        out.request_id = f.varint();  // the last one wins, as in a normal parse
      }
    }
  }
  return out;
}

Result<v1::ClientMessage> parse_client_message(std::string_view payload) {
  return parse_envelope<v1::ClientMessage>(payload, "gemmad.v1.ClientMessage");
}

Result<v1::ServerMessage> parse_server_message(std::string_view payload) {
  return parse_envelope<v1::ServerMessage>(payload, "gemmad.v1.ServerMessage");
}

const char* body_name(v1::ClientMessage::BodyCase body) {
  switch (body) {
    case v1::ClientMessage::kHello:
      return "Hello";
    case v1::ClientMessage::kChat:
      return "ChatRequest";
    case v1::ClientMessage::kGenerate:
      return "GenerateRequest";
    case v1::ClientMessage::kCancel:
      return "Cancel";
    case v1::ClientMessage::kListSessions:
      return "ListSessions";
    case v1::ClientMessage::kShowSession:
      return "ShowSession";
    case v1::ClientMessage::kDeleteSession:
      return "DeleteSession";
    case v1::ClientMessage::kExportSession:
      return "ExportSession";
    case v1::ClientMessage::kStatus:
      return "StatusRequest";
    case v1::ClientMessage::kTokenize:
      return "TokenizeRequest";
    case v1::ClientMessage::kDetokenize:
      return "DetokenizeRequest";
    case v1::ClientMessage::kListModels:
      return "ListModels";
    case v1::ClientMessage::kShutdown:
      return "Shutdown";
    case v1::ClientMessage::BODY_NOT_SET:
      return "no body";
  }
  return "unknown body";
}

const char* body_name(v1::ServerMessage::BodyCase body) {
  switch (body) {
    case v1::ServerMessage::kHelloReply:
      return "HelloReply";
    case v1::ServerMessage::kToken:
      return "Token";
    case v1::ServerMessage::kDone:
      return "Done";
    case v1::ServerMessage::kError:
      return "Error";
    case v1::ServerMessage::kSessionList:
      return "SessionList";
    case v1::ServerMessage::kSessionDetail:
      return "SessionDetail";
    case v1::ServerMessage::kSessionExport:
      return "SessionExport";
    case v1::ServerMessage::kStatusReply:
      return "StatusReply";
    case v1::ServerMessage::kTokenizeReply:
      return "TokenizeReply";
    case v1::ServerMessage::kDetokenizeReply:
      return "DetokenizeReply";
    case v1::ServerMessage::kAck:
      return "Ack";
    case v1::ServerMessage::kModelList:
      return "ModelList";
    case v1::ServerMessage::BODY_NOT_SET:
      return "no body";
  }
  return "unknown body";
}

v1::ErrorCode to_wire_error_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return v1::ERROR_CODE_INVALID_ARGUMENT;
    case ErrorCode::kBadModelFile:
      return v1::ERROR_CODE_BAD_MODEL;
    case ErrorCode::kIo:
      return v1::ERROR_CODE_INTERNAL;
    case ErrorCode::kNotFound:
      return v1::ERROR_CODE_NOT_FOUND;
    case ErrorCode::kOutOfRange:
      return v1::ERROR_CODE_TOO_LARGE;
    case ErrorCode::kUnsupported:
      return v1::ERROR_CODE_UNSUPPORTED;
    case ErrorCode::kResourceExhausted:
      return v1::ERROR_CODE_BUSY;
    case ErrorCode::kPermissionDenied:
      return v1::ERROR_CODE_PERMISSION_DENIED;
    case ErrorCode::kCancelled:
      return v1::ERROR_CODE_CANCELLED;
    case ErrorCode::kInternal:
      return v1::ERROR_CODE_INTERNAL;
  }
  return v1::ERROR_CODE_INTERNAL;
}

ErrorCode from_wire_error_code(v1::ErrorCode code) {
  switch (code) {
    case v1::ERROR_CODE_INVALID_ARGUMENT:
      return ErrorCode::kInvalidArgument;
    case v1::ERROR_CODE_NOT_FOUND:
      return ErrorCode::kNotFound;
    case v1::ERROR_CODE_PERMISSION_DENIED:
      return ErrorCode::kPermissionDenied;
    case v1::ERROR_CODE_BUSY:
      return ErrorCode::kResourceExhausted;
    case v1::ERROR_CODE_TOO_LARGE:
      return ErrorCode::kOutOfRange;
    case v1::ERROR_CODE_CANCELLED:
      return ErrorCode::kCancelled;
    case v1::ERROR_CODE_BAD_MODEL:
      return ErrorCode::kBadModelFile;
    case v1::ERROR_CODE_UNSUPPORTED:
      return ErrorCode::kUnsupported;
    case v1::ERROR_CODE_PROTOCOL:
      return ErrorCode::kInvalidArgument;
    case v1::ERROR_CODE_INTERNAL:
    case v1::ERROR_CODE_UNSPECIFIED:
    // The generated enum carries two sentinels that are never on the wire.
    case v1::ErrorCode_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::ErrorCode_INT_MAX_SENTINEL_DO_NOT_USE_:
      return ErrorCode::kInternal;
  }
  return ErrorCode::kInternal;  // a value this build does not know (newer peer)
}

v1::ServerMessage make_error_reply(std::uint64_t request_id, v1::ErrorCode code,
                                   std::string message) {
  v1::ServerMessage reply;
  reply.set_request_id(request_id);
  v1::Error* error = reply.mutable_error();
  error->set_code(code);
  error->set_message(std::move(message));
  return reply;
}

v1::ServerMessage make_error_reply(std::uint64_t request_id, const Error& error) {
  return make_error_reply(request_id, to_wire_error_code(error.code), error.message);
}

Error from_wire_error(const v1::Error& error) {
  return make_error(from_wire_error_code(error.code()), error.message());
}

}  // namespace gemmad::ipc
