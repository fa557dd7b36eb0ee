// Length-prefixed framing: incremental decoder and encoders (see frame_codec.h).
#include "ipc/frame_codec.h"

#include <google/protobuf/message_lite.h>

#include <algorithm>
#include <utility>

namespace gemmad::ipc {

Status FrameDecoder::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return *failed_;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (!in_payload_) {
      const std::size_t take = std::min(kFrameHeaderBytes - header_have_, bytes.size() - pos);
      std::copy_n(bytes.data() + pos, take, header_ + header_have_);
      header_have_ += take;
      pos += take;
      if (header_have_ < kFrameHeaderBytes) break;
      header_have_ = 0;
      const std::uint32_t size = (std::uint32_t{header_[0]} << 24) |
                                 (std::uint32_t{header_[1]} << 16) |
                                 (std::uint32_t{header_[2]} << 8) | std::uint32_t{header_[3]};
      // Checked before anything is reserved: a hostile header costs nothing.
      if (size > max_frame_bytes_) {
        failed_ =
            make_error(ErrorCode::kOutOfRange, "frame length " + std::to_string(size) +
                                                   " bytes is over the limit of " +
                                                   std::to_string(max_frame_bytes_) + " bytes");
        return *failed_;
      }
      if (size == 0) {
        ready_.emplace_back();
        continue;
      }
      in_payload_ = true;
      payload_size_ = size;
      payload_.clear();
      continue;
    }
    // Grow with the bytes that actually arrived, not with the announced size: a peer that
    // announces 4 MiB and sends 10 bytes holds 10 bytes.
    const std::size_t take =
        std::min<std::size_t>(payload_size_ - payload_.size(), bytes.size() - pos);
    payload_.append(reinterpret_cast<const char*>(bytes.data() + pos), take);
    pos += take;
    if (payload_.size() == payload_size_) {
      ready_bytes_ += payload_.size();
      ready_.push_back(std::move(payload_));
      payload_ = std::string();
      in_payload_ = false;
    }
  }
  return {};
}

std::optional<std::string> FrameDecoder::next_frame() {
  if (ready_.empty()) return std::nullopt;
  std::string frame = std::move(ready_.front());
  ready_.pop_front();
  ready_bytes_ -= frame.size();
  return frame;
}

std::size_t FrameDecoder::buffered_bytes() const {
  return ready_bytes_ + payload_.size() + header_have_;
}

void put_frame_header(std::uint32_t payload_size, std::uint8_t out[kFrameHeaderBytes]) {
  out[0] = static_cast<std::uint8_t>(payload_size >> 24);
  out[1] = static_cast<std::uint8_t>(payload_size >> 16);
  out[2] = static_cast<std::uint8_t>(payload_size >> 8);
  out[3] = static_cast<std::uint8_t>(payload_size);
}

Result<std::string> encode_frame(std::string_view payload, std::uint32_t max_frame_bytes) {
  if (payload.size() > max_frame_bytes) {
    return make_error(ErrorCode::kOutOfRange, "frame payload of " + std::to_string(payload.size()) +
                                                  " bytes is over the limit of " +
                                                  std::to_string(max_frame_bytes) + " bytes");
  }
  std::string frame(kFrameHeaderBytes + payload.size(), '\0');
  put_frame_header(static_cast<std::uint32_t>(payload.size()),
                   reinterpret_cast<std::uint8_t*>(frame.data()));
  std::copy(payload.begin(), payload.end(), frame.begin() + kFrameHeaderBytes);
  return frame;
}

Result<std::string> encode_message_frame(const google::protobuf::MessageLite& message,
                                         std::uint32_t max_frame_bytes) {
  const std::size_t size = message.ByteSizeLong();
  if (size > max_frame_bytes) {
    return make_error(ErrorCode::kOutOfRange, message.GetTypeName() + " of " +
                                                  std::to_string(size) +
                                                  " bytes is over the frame limit of " +
                                                  std::to_string(max_frame_bytes) + " bytes");
  }
  std::string frame(kFrameHeaderBytes + size, '\0');
  auto* data = reinterpret_cast<std::uint8_t*>(frame.data());
  put_frame_header(static_cast<std::uint32_t>(size), data);
  // ByteSizeLong() above cached the sizes; the serializer fills exactly `size` bytes.
  const std::uint8_t* end = message.SerializeWithCachedSizesToArray(data + kFrameHeaderBytes);
  if (end != data + frame.size()) {
    return make_error(ErrorCode::kInternal, "serializing " + message.GetTypeName() + " failed");
  }
  return frame;
}

}  // namespace gemmad::ipc
