// libFuzzer target: arbitrary socket bytes through the frame decoder, each frame parsed as a
// ClientMessage, exactly what the daemon does with a client's bytes. Checks that the decoder
// gives the same frames however the bytes are split, holds no more than it was given, and
// that a parsed message survives encode -> decode -> parse unchanged.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ipc/frame_codec.h"
#include "ipc/protocol.h"

namespace {

constexpr std::uint32_t kLimit = 64 * 1024;

struct Decoded {
  std::vector<std::string> frames;
  bool failed = false;
};

Decoded decode(std::span<const std::uint8_t> bytes, std::size_t chunk) {
  gemmad::ipc::FrameDecoder decoder(kLimit);
  Decoded out;
  for (std::size_t pos = 0; pos < bytes.size() && !out.failed; pos += chunk) {
    const std::size_t n = std::min(chunk, bytes.size() - pos);
    out.failed = !decoder.feed(bytes.subspan(pos, n)).ok();
    // The decoder never holds more than it was fed (no amplification by a length prefix).
    if (decoder.buffered_bytes() > bytes.size()) __builtin_trap();
    while (auto frame = decoder.next_frame())
      out.frames.push_back(std::move(*frame));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Protobuf logs invalid UTF-8 in string fields; that is expected here, and slow.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  const std::span<const std::uint8_t> bytes(data, size);
  const Decoded whole = decode(bytes, size == 0 ? 1 : size);
  const Decoded pieces = decode(bytes, 7);
  if (whole.frames != pieces.frames || whole.failed != pieces.failed) __builtin_trap();

  for (const std::string& payload : whole.frames) {
    auto message = gemmad::ipc::parse_client_message(payload);
    if (!message.ok()) continue;
    auto frame = gemmad::ipc::encode_message_frame(*message, kLimit);
    if (!frame.ok()) continue;  // re-serialization may grow (e.g. packed vs unpacked)
    gemmad::ipc::FrameDecoder decoder(kLimit);
    if (!decoder.feed(*frame).ok()) __builtin_trap();
    auto again = decoder.next_frame();
    if (!again) __builtin_trap();
    auto reparsed = gemmad::ipc::parse_client_message(*again);
    if (!reparsed.ok()) __builtin_trap();
    if (reparsed->SerializeAsString() != message->SerializeAsString()) __builtin_trap();
  }
  return 0;
}
