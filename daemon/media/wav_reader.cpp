// The WAV reader: walks RIFF chunks with every size checked against the bytes left, so a
// hostile header cannot read past the buffer or ask for an allocation beyond the limits.
#include "daemon/media/wav_reader.h"

#include <cmath>
#include <cstring>
#include <string>

namespace gemmad::media {
namespace {

constexpr uint16_t kFormatPcm = 1, kFormatFloat = 3, kFormatExtensible = 0xfffe;
constexpr uint32_t kMinRate = 1000, kMaxRate = 384000;

uint16_t le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

Error bad(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "audio: bad WAV: " + what);
}

struct Layout {
  WavFormat format;
  uint64_t data_offset = 0;
  uint16_t block_align = 0;
};

Status parse_fmt(const uint8_t* p, uint32_t size, Layout& l) {
  if (size < 16) return bad("fmt chunk is " + std::to_string(size) + " bytes, at least 16 needed");
  WavFormat& f = l.format;
  f.format = le16(p);
  f.channels = le16(p + 2);
  f.sample_rate = le32(p + 4);
  l.block_align = le16(p + 12);
  f.bits = le16(p + 14);
  if (f.format == kFormatExtensible) {
    if (size < 40) {
      return bad("WAVE_FORMAT_EXTENSIBLE fmt chunk is " + std::to_string(size) +
                 " bytes, 40 needed");
    }
    f.format = le16(p + 24);  // the first two bytes of the sub-format GUID
  }
  if (f.format != kFormatPcm && f.format != kFormatFloat) {
    return bad("format code " + std::to_string(f.format) +
               " is not supported (1 = PCM integer, 3 = float)");
  }
  const bool bits_ok = f.format == kFormatFloat
                           ? f.bits == 32
                           : (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32);
  if (!bits_ok) {
    return bad(std::to_string(f.bits) + " bits per sample is not supported (" +
               (f.format == kFormatFloat ? "float: 32" : "PCM: 8, 16, 24 or 32") + ")");
  }
  if (f.channels < 1 || f.channels > 2) {
    return bad(std::to_string(f.channels) + " channels; 1 or 2 are supported");
  }
  if (f.sample_rate < kMinRate || f.sample_rate > kMaxRate) {
    return bad("sample rate " + std::to_string(f.sample_rate) + " Hz outside [" +
               std::to_string(kMinRate) + ", " + std::to_string(kMaxRate) + "]");
  }
  const uint32_t expected_align = uint32_t{f.channels} * (f.bits / 8u);
  if (l.block_align != expected_align) {
    return bad("block align " + std::to_string(l.block_align) +
               " is not channels x bytes = " + std::to_string(expected_align));
  }
  return {};
}

Result<Layout> parse_layout(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  GEMMAD_TRY(
      check_byte_limit(bytes.size(), limits.max_audio_bytes, "audio", "media.max_audio_bytes"));
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    return bad("not a RIFF/WAVE file (only WAV audio is accepted)");
  }
  Layout l;
  bool have_fmt = false;
  uint64_t pos = 12;
  while (pos + 8 <= bytes.size()) {
    const uint8_t* h = bytes.data() + pos;
    const uint32_t size = le32(h + 4);
    const uint64_t body = pos + 8;
    const uint64_t left = bytes.size() - body;
    if (std::memcmp(h, "fmt ", 4) == 0) {
      if (size > left)
        return bad("fmt chunk says " + std::to_string(size) + " bytes, " + std::to_string(left) +
                   " left");
      GEMMAD_TRY(parse_fmt(bytes.data() + body, size, l));
      have_fmt = true;
    } else if (std::memcmp(h, "data", 4) == 0) {
      if (!have_fmt) return bad("data chunk before the fmt chunk");
      if (size > left) {
        return bad("data chunk says " + std::to_string(size) + " bytes, " + std::to_string(left) +
                   " left (truncated file?)");
      }
      l.data_offset = body;
      l.format.frames = size / l.block_align;
      if (l.format.frames == 0) return bad("the data chunk holds no samples");
      const uint64_t max_frames = uint64_t{limits.max_audio_seconds} * l.format.sample_rate;
      if (l.format.frames > max_frames) {
        return make_error(
            ErrorCode::kOutOfRange,
            "audio: " +
                std::to_string(static_cast<double>(l.format.frames) / l.format.sample_rate) +
                " s; the limit is " + std::to_string(limits.max_audio_seconds) +
                " s (media.max_audio_seconds)");
      }
      return l;
    }
    pos = body + uint64_t{size} + (size & 1u);  // chunks are padded to an even size
  }
  return bad(have_fmt ? "no data chunk" : "no fmt chunk");
}

float sample_at(const uint8_t* p, const WavFormat& f) {
  switch (f.bits) {
    case 8:
      return (static_cast<float>(p[0]) - 128.0f) / 128.0f;  // 8-bit WAV is unsigned
    case 16:
      return static_cast<float>(static_cast<int16_t>(le16(p))) / 32768.0f;
    case 24: {
      const uint32_t u = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16);
      const int32_t v = static_cast<int32_t>(u << 8) >> 8;  // sign-extend 24 bits
      return static_cast<float>(v) / 8388608.0f;
    }
    default:
      if (f.format == kFormatFloat) {
        float v;
        const uint32_t u = le32(p);
        std::memcpy(&v, &u, sizeof v);
        return v;
      }
      return static_cast<float>(static_cast<double>(static_cast<int32_t>(le32(p))) / 2147483648.0);
  }
}

}  // namespace

Result<WavFormat> read_wav_format(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  GEMMAD_ASSIGN_OR_RETURN(Layout l, parse_layout(bytes, limits));
  return l.format;
}

Result<DecodedAudio> decode_wav(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  GEMMAD_ASSIGN_OR_RETURN(Layout l, parse_layout(bytes, limits));
  const WavFormat& f = l.format;
  const uint32_t sample_bytes = f.bits / 8u;
  DecodedAudio out;
  out.sample_rate = f.sample_rate;
  out.mono.resize(f.frames);
  const uint8_t* p = bytes.data() + l.data_offset;
  for (uint64_t i = 0; i < f.frames; ++i, p += l.block_align) {
    float sum = 0.0f;
    for (uint16_t c = 0; c < f.channels; ++c) {
      const float v = sample_at(p + c * sample_bytes, f);
      if (!std::isfinite(v)) {
        return bad("sample " + std::to_string(i) + " of channel " + std::to_string(c) +
                   " is not a finite number");
      }
      sum += v;
    }
    out.mono[i] = std::fmax(-1.0f, std::fmin(1.0f, sum / f.channels));
  }
  return out;
}

}  // namespace gemmad::media
