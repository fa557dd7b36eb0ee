// Media requests on the real daemon (issue 11): images and audio in a ChatRequest are
// decoded and checked at admission; a bad file, a file past a [media] limit, or a model
// without an mmproj is an error naming what is wrong, and the daemon keeps serving text.
// With an mmproj (a tiny synthetic model with the real vocabulary, so the media tokens
// exist), image and audio turns produce tokens, and the encoders' pages are resident only
// while their modality is in use (read from the daemon's /proc/PID/smaps).
#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "daemon_process.h"

namespace gemmad::testing {
namespace {

std::string seed(const std::string& name) {
  std::ifstream in(std::string(GEMMAD_SOURCE_DIR) + "/tests/fuzz/seeds/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

v1::ChatRequest with_media(v1::MediaKind kind, const std::string& bytes) {
  v1::ChatRequest r;
  r.set_new_session(true);
  r.set_user_text("What is this?");
  r.mutable_sampling()->set_max_tokens(4);
  v1::MediaPart* p = r.add_media();
  p->set_kind(kind);
  p->set_data(bytes);
  return r;
}

std::string error_of(client::Client& c, const v1::ChatRequest& r) {
  auto done = c.chat(r, [](const v1::Token&) {});
  return done.ok() ? "ok" : done.error().message;
}

TEST(MediaRequests, AreCheckedAtAdmissionAndTheDaemonKeepsServingText) {
  DaemonProcess d("media.max_image_pixels = 64\nmedia.max_audio_seconds = 1\n");
  ASSERT_TRUE(d.start()) << d.log();
  auto c = d.connect("media-app");
  EXPECT_NE(error_of(c, with_media(v1::MEDIA_KIND_IMAGE, "GIF89a...")).find("not a PNG or JPEG"),
            std::string::npos);
  std::string png = seed("png/rgb8.png");
  png[20] = 0x7f;  // a broken IHDR (width and CRC)
  EXPECT_NE(error_of(c, with_media(v1::MEDIA_KIND_IMAGE, png)).find("media[0]: image:"),
            std::string::npos);
  EXPECT_NE(error_of(c, with_media(v1::MEDIA_KIND_AUDIO, seed("png/rgb8.png")))
                .find("bad WAV: not a RIFF/WAVE file"),
            std::string::npos);
  // A valid image and clip reach the model check: the tiny model has no mmproj.
  v1::ChatRequest both = with_media(v1::MEDIA_KIND_IMAGE, seed("png/rgb8.png"));
  both.add_media()->set_data(seed("wav/mono16_16k.wav"));
  both.mutable_media(1)->set_kind(v1::MEDIA_KIND_AUDIO);
  EXPECT_NE(error_of(c, both).find("has no mmproj"), std::string::npos) << error_of(c, both);

  v1::ChatRequest text;
  text.set_new_session(true);
  text.set_user_text("hello");
  text.mutable_sampling()->set_max_tokens(2);
  EXPECT_EQ(error_of(c, text), "ok");
}

TEST(MediaRequests, GemmactlSendsImageAndAudioFiles) {
  DaemonProcess d;
  ASSERT_TRUE(d.start()) << d.log();
  const std::string seeds = std::string(GEMMAD_SOURCE_DIR) + "/tests/fuzz/seeds/";
  std::string out, err;
  int rc =
      run_command({gemmactl_binary(), "--socket", d.socket(), "chat", "--image",
                   seeds + "png/rgb8.png", "--audio", seeds + "wav/mono8_8k.wav", "-n", "2", "hi"},
                  &out, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("has no mmproj"), std::string::npos) << err;  // decoded, then refused
  rc = run_command(
      {gemmactl_binary(), "--socket", d.socket(), "chat", "--image", seeds + "missing.png", "hi"},
      &out, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("--image '" + seeds + "missing.png' cannot be read"), std::string::npos)
      << err;
}

// The tiny synthetic model with the real 262,144-token vocabulary and its tiny mmproj
// (vision and audio towers), written once per test binary.
struct MediaModel {
  std::string text, mmproj;
};
std::string& media_dir() {
  static std::string dir;
  return dir;
}
const MediaModel& media_model() {
  static const MediaModel m = [] {
    namespace fs = std::filesystem;
    const std::string dir =
        fs::temp_directory_path() / ("gemmad-it-media-" + std::to_string(getpid()));
    fs::create_directories(dir);
    // ~75 MB per test process (the real vocabulary): removed when the test binary exits.
    media_dir() = dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(media_dir(), ec);
    });
    const char* env = std::getenv("GEMMAD_TOKENIZER_JSON");
    const std::string json = env != nullptr && *env != '\0'
                                 ? std::string(env)
                                 : std::string(GEMMAD_SOURCE_DIR) + "/models/tokenizer.json";
    MediaModel out{dir + "/tiny-vocab.gguf", dir + "/tiny-mmproj.gguf"};
    std::string o, err;
    if (run_command({gemmactl_binary(), "model", "import-vocab", json, "-o", dir + "/vocab.gguf"},
                    &o, &err) != 0) {
      throw std::runtime_error("import-vocab (" + json + ", scripts/fetch-tokenizer.sh): " + err);
    }
    if (run_command(
            {gemmactl_binary(), "model", "synth", "--preset", "tiny", "--quant", "q4_0", "--vocab",
             dir + "/vocab.gguf", "--seed", "7", "-o", out.text, "--mmproj", out.mmproj},
            &o, &err) != 0) {
      throw std::runtime_error("model synth --mmproj failed: " + err);
    }
    return out;
  }();
  return m;
}

// A mono 16-bit 16 kHz WAV of `seconds` of a 440 Hz tone.
std::string tone_wav(double seconds) {
  const uint32_t n = static_cast<uint32_t>(seconds * 16000);
  std::string w;
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i)
      w.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto u16 = [&](uint16_t v) {
    w.push_back(static_cast<char>(v));
    w.push_back(static_cast<char>(v >> 8));
  };
  w += "RIFF";
  u32(36 + 2 * n);
  w += "WAVEfmt ";
  u32(16);
  u16(1);
  u16(1);
  u32(16000);
  u32(32000);
  u16(2);
  u16(16);
  w += "data";
  u32(2 * n);
  for (uint32_t i = 0; i < n; ++i)
    u16(static_cast<uint16_t>(static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * i / 16000.0))));
  return w;
}

v1::ChatRequest media_turn(const std::string& text) {
  v1::ChatRequest r;
  r.set_new_session(true);
  r.set_model("media");
  r.set_user_text(text);
  r.mutable_sampling()->set_temperature(0);
  r.mutable_sampling()->set_max_tokens(8);
  r.mutable_sampling()->set_ignore_eos(true);
  return r;
}

void add_part(v1::ChatRequest& r, v1::MediaKind kind, const std::string& bytes, uint32_t at) {
  v1::MediaPart* p = r.add_media();
  p->set_kind(kind);
  p->set_data(bytes);
  p->set_text_offset(at);
}

struct Reply {
  std::string error;
  std::vector<uint32_t> tokens;
  uint32_t prompt_tokens = 0;
  std::string session_id;
};
Reply run(client::Client& c, const v1::ChatRequest& r) {
  Reply out;
  auto done = c.chat(r, [&](const v1::Token& t) { out.tokens.push_back(t.token_id()); });
  if (!done.ok()) {
    out.error = done.error().message;
  } else {
    out.prompt_tokens = done->usage().prompt_tokens();
    out.session_id = done->session_id();
  }
  return out;
}

std::string media_config(uint32_t idle_s) {
  const MediaModel& m = media_model();
  return "media.encoder_idle_s = " + std::to_string(idle_s) +
         "\n[[models]]\nname = \"media\"\npath = \"" + m.text + "\"\nmmproj = \"" + m.mmproj +
         "\"\n";
}

TEST(MediaTurns, ImageAndAudioProduceDeterministicTokensThatDependOnTheMedia) {
  DaemonProcess d(media_config(600));
  ASSERT_TRUE(d.start()) << d.log();
  auto c = d.connect("media-app");
  const std::string png = seed("png/rgb8.png"), jpg = seed("jpeg/rgb_16x8.jpg");
  const Reply text = run(c, media_turn("Describe it."));
  ASSERT_EQ(text.error, "") << d.log();
  v1::ChatRequest image = media_turn("Describe it.");
  add_part(image, v1::MEDIA_KIND_IMAGE, png, 0);
  const Reply a = run(c, image), b = run(c, image);
  ASSERT_EQ(a.error, "") << d.log();
  EXPECT_FALSE(a.tokens.empty());
  EXPECT_EQ(a.tokens, b.tokens) << "greedy: the same image turn twice gives the same tokens";
  EXPECT_NE(a.tokens, text.tokens) << "the image must change the reply";
  // 4x3 at the default budget of 280 soft tokens: a 19 x 14 grid (docs/ENCODERS.md §2.2)
  // plus <|image> <image|> and the template's "\n\n" on each side.
  EXPECT_GT(a.prompt_tokens, text.prompt_tokens + 200);
  v1::ChatRequest other = media_turn("Describe it.");
  add_part(other, v1::MEDIA_KIND_IMAGE, jpg, 0);
  const Reply o = run(c, other);
  ASSERT_EQ(o.error, "");
  EXPECT_NE(o.tokens, a.tokens) << "another image, another reply";

  v1::ChatRequest audio = media_turn("What is this sound?");
  add_part(audio, v1::MEDIA_KIND_AUDIO, tone_wav(1.0), 19);
  const Reply x = run(c, audio), y = run(c, audio);
  ASSERT_EQ(x.error, "") << d.log();
  EXPECT_FALSE(x.tokens.empty());
  EXPECT_EQ(x.tokens, y.tokens);
  const Reply plain = run(c, media_turn("What is this sound?"));
  EXPECT_NE(x.tokens, plain.tokens);
  EXPECT_EQ(x.prompt_tokens, plain.prompt_tokens + 25 + 2) << "1 s = 25 soft tokens";
}

// Rss (kB) of the daemon's mappings of `path`, from /proc/PID/smaps.
uint64_t mapping_rss_kb(pid_t pid, const std::string& path) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool inside = false;
  uint64_t kb = 0;
  while (std::getline(in, line)) {
    const bool header = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
                        line.find('-') != std::string::npos && line.find(':') > line.find(' ');
    if (header) {
      inside = line.size() >= path.size() &&
               line.compare(line.size() - path.size(), path.size(), path) == 0;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      kb += std::strtoull(line.c_str() + 4, nullptr, 10);
    }
  }
  return kb;
}

uint64_t vm_rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

const v1::ModalityInfo* modality(const v1::StatusReply& s, const std::string& name) {
  for (const auto& m : s.models()) {
    if (m.model() != "media") continue;
    for (const auto& x : m.modalities()) {
      if (x.modality() == name) return &x;
    }
  }
  return nullptr;
}

TEST(MediaTurns, EncoderPagesAreResidentOnlyWhileTheirModalityIsInUse) {
  // Fault-around and the header reads may map a few pages next to what was read: the slack.
  constexpr uint64_t kSlackKb = 160;
  DaemonProcess d(media_config(3));
  ASSERT_TRUE(d.start()) << d.log();
  auto c = d.connect("media-app");
  const std::string& mm = media_model().mmproj;
  ASSERT_EQ(run(c, media_turn("hello")).error, "") << d.log();
  auto s = c.status();
  ASSERT_TRUE(s.ok());
  const v1::ModalityInfo* v = modality(*s, "vision");
  const v1::ModalityInfo* au = modality(*s, "audio");
  ASSERT_NE(v, nullptr);
  ASSERT_NE(au, nullptr);
  const uint64_t vision_kb = v->mapped_bytes() / 1024, audio_kb = au->mapped_bytes() / 1024;
  ASSERT_GT(vision_kb, 2 * kSlackKb);
  ASSERT_GT(audio_kb, 2 * kSlackKb);
  EXPECT_FALSE(v->bound());
  EXPECT_FALSE(au->bound());
  const uint64_t after_text = mapping_rss_kb(d.pid(), mm);
  EXPECT_LE(after_text, kSlackKb) << "a text turn made mmproj pages resident";

  v1::ChatRequest image = media_turn("Describe it.");
  add_part(image, v1::MEDIA_KIND_IMAGE, seed("png/rgb8.png"), 0);
  ASSERT_EQ(run(c, image).error, "") << d.log();
  const uint64_t after_image = mapping_rss_kb(d.pid(), mm);
  EXPECT_GE(after_image + kSlackKb, vision_kb) << "an image encode reads every vision weight";
  EXPECT_LE(after_image, vision_kb + kSlackKb) << "an image turn touched audio weights";
  s = c.status();
  ASSERT_TRUE(s.ok());
  v = modality(*s, "vision");
  au = modality(*s, "audio");
  EXPECT_TRUE(v->bound());
  EXPECT_EQ(v->encodes(), 1u);
  EXPECT_GT(v->last_used_ms(), 0);
  EXPECT_GE(v->resident_bytes() / 1024 + kSlackKb, vision_kb);
  EXPECT_FALSE(au->bound());
  EXPECT_LE(au->resident_bytes() / 1024, kSlackKb);

  v1::ChatRequest audio = media_turn("Listen.");
  add_part(audio, v1::MEDIA_KIND_AUDIO, tone_wav(0.5), 0);
  ASSERT_EQ(run(c, audio).error, "") << d.log();
  // Audio is resident now. Vision may already be released: in a sanitizer build the audio
  // turn can outlast media.encoder_idle_s (3 s) after the image's encode.
  EXPECT_GE(mapping_rss_kb(d.pid(), mm) + kSlackKb, audio_kb)
      << "an audio encode reads every audio weight";
  // media.encoder_idle_s = 3: both released a little after (no request keeps the io
  // thread's timer from firing).
  uint64_t released = UINT64_MAX;
  for (int i = 0; i < 80 && released > kSlackKb; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (i >= 25) released = mapping_rss_kb(d.pid(), mm);
  }
  EXPECT_LE(released, kSlackKb) << "idle encoders keep their pages";
  s = c.status();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(modality(*s, "vision")->bound());
  EXPECT_FALSE(modality(*s, "audio")->bound());
  EXPECT_EQ(modality(*s, "audio")->encodes(), 1u);
  // A released encoder serves the next request again.
  ASSERT_EQ(run(c, image).error, "") << d.log();
  EXPECT_GE(mapping_rss_kb(d.pid(), mm) + kSlackKb, vision_kb);
}

TEST(MediaTurns, TheTextPathCostsTheSameWithAndWithoutAnMmproj) {
  const MediaModel& m = media_model();
  auto rss_after_text = [&](const std::string& config, uint64_t& model_kb) {
    DaemonProcess d(config);
    EXPECT_TRUE(d.start()) << d.log();
    auto c = d.connect("media-app");
    EXPECT_EQ(run(c, media_turn("hello there")).error, "") << d.log();
    // The constrained-decoding token index is built on its own thread after READY (~15 MB,
    // docs/CONSTRAINED.md); a JSON turn waits for it, so both daemons are measured with it.
    v1::ChatRequest json = media_turn("as JSON");
    json.mutable_response_format()->set_type(v1::RESPONSE_FORMAT_JSON_OBJECT);
    EXPECT_EQ(run(c, json).error, "") << d.log();
    model_kb = mapping_rss_kb(d.pid(), m.text);
    return vm_rss_kb(d.pid());
  };
  uint64_t with_model = 0, without_model = 0;
  const uint64_t with = rss_after_text(media_config(600), with_model);
  const uint64_t without =
      rss_after_text("[[models]]\nname = \"media\"\npath = \"" + m.text + "\"\n", without_model);
  RecordProperty("vm_rss_kb_with_mmproj", std::to_string(with));
  RecordProperty("vm_rss_kb_without_mmproj", std::to_string(without));
  // Fault-around maps whatever neighbouring pages the page cache holds, so the same reads
  // can map slightly different page counts: equal within 256 kB.
  EXPECT_LE(with_model, without_model + 256) << "the text weights touched differ";
  EXPECT_LE(without_model, with_model + 256) << "the text weights touched differ";
  // The mmproj adds its mapped header pages and the encoders' bookkeeping, nothing else.
  EXPECT_LE(with, without + 1024) << with << " kB with an mmproj, " << without << " without";
}

TEST(MediaTurns, ASessionKeepsItsImageAcrossARestart) {
  DaemonProcess d(media_config(600));
  ASSERT_TRUE(d.start()) << d.log();
  std::string session;
  uint32_t first_prompt = 0;
  {
    auto c = d.connect("media-app");
    v1::ChatRequest r = media_turn("What is in the picture?");
    add_part(r, v1::MEDIA_KIND_IMAGE, seed("png/rgb8.png"), 0);
    const Reply a = run(c, r);
    ASSERT_EQ(a.error, "") << d.log();
    session = a.session_id;
    first_prompt = a.prompt_tokens;
    auto shown = c.show_session(session);
    ASSERT_TRUE(shown.ok()) << shown.error().message;
    ASSERT_EQ(shown->media_size(), 1);
    EXPECT_EQ(shown->media(0).kind(), v1::MEDIA_KIND_IMAGE);
    EXPECT_EQ(shown->media(0).mime_type(), "image/png");
    EXPECT_EQ(shown->media(0).bytes(), seed("png/rgb8.png").size());
    EXPECT_EQ(shown->media(0).message_index(), 0u);
  }
  ASSERT_EQ(d.stop(), 0) << d.log();
  ASSERT_TRUE(d.start()) << d.log();
  auto c = d.connect("media-app");
  // The next turn re-renders the history with the stored image, encoded again.
  v1::ChatRequest next = media_turn("And its colour?");
  next.set_new_session(false);
  next.set_session_id(session);
  const Reply b = run(c, next);
  ASSERT_EQ(b.error, "") << d.log();
  EXPECT_GT(b.prompt_tokens, first_prompt + 8) << "history with the image, reply, new turn";
  auto s = c.status();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(modality(*s, "vision")->encodes(), 1u) << "the stored image was encoded again";
  // The same conversation without the image is shorter by the image's rows.
  const Reply plain_first = run(c, media_turn("What is in the picture?"));
  ASSERT_EQ(plain_first.error, "");
  EXPECT_GT(first_prompt, plain_first.prompt_tokens + 200);
  // gemmactl lists it; rm removes the session and its media.
  std::string out, err;
  ASSERT_EQ(run_command({gemmactl_binary(), "--socket", d.socket(), "--app", "media-app", "session",
                         "show", session},
                        &out, &err),
            0)
      << err;
  EXPECT_NE(out.find("[image image/png, "), std::string::npos) << out;
  ASSERT_TRUE(c.delete_session(session).ok());
  EXPECT_FALSE(c.show_session(session).ok());
}

}  // namespace
}  // namespace gemmad::testing
