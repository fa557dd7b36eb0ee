// Media requests on the real daemon (issue 11): images and audio in a ChatRequest are
// decoded and checked at admission; a bad file, a file past a [media] limit, or a model
// without an mmproj is an error naming what is wrong, and the daemon keeps serving text.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

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

}  // namespace
}  // namespace gemmad::testing
