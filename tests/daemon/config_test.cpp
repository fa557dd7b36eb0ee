// Config: precedence, validation messages that name the key and line, --print-config sources.
#include "daemon/config.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gemmad::daemon {
namespace {

std::string write_temp(const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() /
             ("gemmad-config-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "gemmad.toml").string();
  std::ofstream(path) << text;
  return path;
}

TEST(Config, UnknownKeyIsAnErrorNamingKeyAndLine) {
  Config c;
  Status s = apply_toml(c, "[model]\nthreads = 2\nthredas = 3\n", "g.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("g.toml:3"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("model.thredas"), std::string::npos);
  EXPECT_NE(s.error().message.find("unknown key"), std::string::npos);
}

TEST(Config, OutOfRangeValueNamesTheRange) {
  Config c;
  Status s = apply_toml(c, "[server]\nmax_clients = 0\n", "g.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("server.max_clients"), std::string::npos);
  EXPECT_NE(s.error().message.find("outside [1, 4096]"), std::string::npos) << s.error().message;
}

TEST(Config, WrongTypeAndEnumValuesAreRejected) {
  Config c;
  EXPECT_FALSE(apply_toml(c, "[model]\nthreads = \"two\"\n", "g.toml").ok());
  Status s = apply_toml(c, "[log]\nlevel = \"loud\"\n", "g.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("trace, debug"), std::string::npos) << s.error().message;
  EXPECT_FALSE(apply_toml(c, "threads = 2\n", "g.toml").ok());  // outside a section
}

TEST(Config, KvTypeTakesAPresetPerLayerType) {
  Config c;
  for (const char* ok :
       {"f16", "f32", "q8", "q4", "mobile", "sliding:q8,full:q4", "full:f16,sliding:q8"}) {
    EXPECT_TRUE(apply_toml(c, std::string("[model]\nkv_type = \"") + ok + "\"\n", "g.toml").ok())
        << ok;
    EXPECT_EQ(c.kv_type, ok);
  }
  for (const char* bad :
       {"q2", "sliding:q8", "sliding:q8,full:q3", "sliding:q8,sliding:q4", "middle:q8,full:q4"}) {
    Status s = apply_toml(c, std::string("[model]\nkv_type = \"") + bad + "\"\n", "g.toml");
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().message.find("model.kv_type"), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find("mobile"), std::string::npos) << s.error().message;
  }
}

TEST(Config, SyntaxErrorsNameTheLine) {
  Config c;
  Status s = apply_toml(c, "[model]\nthreads = = 2\n", "g.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("g.toml:2"), std::string::npos) << s.error().message;
}

TEST(Config, FlagsOverrideFileOverrideDefaults) {
  const std::string path = write_temp(
      "[model]\npath = \"/file/model.gguf\"\nthreads = 3\n[server]\nsocket = \"/f.sock\"\n");
  FlagOverrides flags;
  flags.config_file = path;
  flags.model_paths = {"/flag/model.gguf"};
  auto c = load_config(flags);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->model_path, "/flag/model.gguf");
  EXPECT_EQ(c->threads, 3);
  EXPECT_EQ(c->socket_path, "/f.sock");
  EXPECT_EQ(c->max_sequences, 4u);
  const std::string printed = print_config(*c);
  EXPECT_NE(printed.find("path = \"/flag/model.gguf\"  # --model"), std::string::npos) << printed;
  EXPECT_NE(printed.find("threads = 3  # " + path + ":3"), std::string::npos) << printed;
  EXPECT_NE(printed.find("max_sequences = 4  # default"), std::string::npos) << printed;
}

TEST(Config, MissingExplicitFileAndMissingModelAreErrors) {
  FlagOverrides flags;
  flags.config_file = "/nonexistent/gemmad.toml";
  flags.model_paths = {"/m.gguf"};
  EXPECT_FALSE(load_config(flags).ok());
  FlagOverrides no_model;
  no_model.config_file = write_temp("[model]\nthreads = 1\n");
  auto c = load_config(no_model);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("--model"), std::string::npos);
}

TEST(Config, ShippedDefaultConfigParses) {
  std::ifstream in(std::string(GEMMAD_SOURCE_DIR) + "/config/gemmad.toml");
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  Config c;
  Status s = apply_toml(c, ss.str(), "config/gemmad.toml");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(c.socket_mode, 0660u);
  Config defaults;
  EXPECT_EQ(c.context_length, defaults.context_length);
  EXPECT_EQ(c.max_frame_bytes, defaults.max_frame_bytes);
}

}  // namespace
}  // namespace gemmad::daemon

namespace gemmad::daemon {
namespace {

TEST(Config, SeveralModelsGetNamesFromTheirFilesAndKeepAlive) {
  const std::string path = write_temp(
      "[model]\npath = \"/m/first.gguf\"\nkeep_alive = \"30s\"\n"
      "[[models]]\npath = \"/m/e4b-q4.gguf\"\nkeep_alive = \"-1\"\n"
      "[[models]]\nname = \"fast\"\npath = \"/m/e2b.gguf\"\n");
  FlagOverrides flags;
  flags.config_file = path;
  auto c = load_config(flags);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->models.size(), 3u);
  EXPECT_EQ(c->models[0].name, "first");
  EXPECT_EQ(c->models[0].keep_alive_ms, 30000);
  EXPECT_EQ(c->models[1].name, "e4b-q4");
  EXPECT_EQ(c->models[1].keep_alive_ms, -1);
  EXPECT_EQ(c->models[2].name, "fast");
  EXPECT_EQ(c->models[2].keep_alive_ms, 30000);
  // --model replaces the file's models, in order.
  flags.model_paths = {"/x/a.gguf", "/y/b.gguf"};
  auto f = load_config(flags);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->models.size(), 2u);
  EXPECT_EQ(f->models[1].name, "b");
  EXPECT_EQ(f->model_path, "/x/a.gguf");
}

TEST(Config, ModelMistakesAreNamed) {
  FlagOverrides flags;
  flags.model_paths = {"/x/a.gguf", "/y/a.gguf"};
  auto dup = load_config(flags);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("model name 'a'"), std::string::npos) << dup.error().message;
  Config c;
  Status bad = apply_toml(c, "[[models]]\npath = \"/a\"\nkeep_alive = \"soon\"\n", "g.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("g.toml:3"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("'soon'"), std::string::npos) << bad.error().message;
  Status unknown = apply_toml(c, "[[models]]\npath = \"/a\"\ncolour = 1\n", "g.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("models.colour"), std::string::npos);
  EXPECT_EQ(*parse_keep_alive("250ms"), 250);
  EXPECT_EQ(*parse_keep_alive("2h"), 7200000);
  EXPECT_EQ(*parse_keep_alive("0"), 0);
  EXPECT_FALSE(parse_keep_alive("").ok());
}

}  // namespace
}  // namespace gemmad::daemon

namespace gemmad::daemon {
namespace {

TEST(Config, ApplyingAFileWithModelsTwiceChangesNothing) {
  const std::string text = "[[models]]\npath = \"/a.gguf\"\n[[models]]\npath = \"/b.gguf\"\n";
  Config once;
  ASSERT_TRUE(apply_toml(once, text, "g.toml").ok());
  Config twice = once;
  ASSERT_TRUE(apply_toml(twice, text, "g.toml").ok());
  EXPECT_EQ(twice.models.size(), 2u);
  EXPECT_EQ(print_config(once), print_config(twice));
}

}  // namespace
}  // namespace gemmad::daemon

namespace gemmad::daemon {
namespace {

TEST(MediaConfig, ModelsTablesCarryTheirMmproj) {
  Config c;
  Status s = apply_toml(c,
                        "[[models]]\npath = \"/m/e2b.gguf\"\nmmproj = \"/m/e2b-mmproj.gguf\"\n"
                        "[[models]]\npath = \"/m/e4b.gguf\"\n",
                        "t.toml");
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[0].mmproj, "/m/e2b-mmproj.gguf");
  EXPECT_EQ(c.models[1].mmproj, "");
  Config bad;
  Status st = apply_toml(bad, "[[models]]\npath = \"/m/a.gguf\"\nmmproj = 3\n", "t.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("models.mmproj"), std::string::npos) << st.error().message;
}

TEST(MediaConfig, MmprojFlagBelongsToTheModelBeforeIt) {
  FlagOverrides flags;
  ASSERT_TRUE(
      apply_model_flags(
          flags, {{"--model", "a.gguf"}, {"--model", "b.gguf"}, {"--mmproj", "b-mmproj.gguf"}})
          .ok());
  EXPECT_EQ(flags.model_paths, (std::vector<std::string>{"a.gguf", "b.gguf"}));
  EXPECT_EQ(flags.mmproj_paths, (std::vector<std::string>{"", "b-mmproj.gguf"}));
  flags.config_file = write_temp("");
  auto c = load_config(flags);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->models[0].mmproj, "");
  EXPECT_EQ(c->models[1].mmproj, "b-mmproj.gguf");

  FlagOverrides early;
  Status st = apply_model_flags(early, {{"--mmproj", "x.gguf"}, {"--model", "a.gguf"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("comes before any --model"), std::string::npos);
  FlagOverrides twice;
  st = apply_model_flags(twice, {{"--model", "a.gguf"}, {"--mmproj", "x"}, {"--mmproj", "y"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("already has --mmproj 'x'"), std::string::npos);
}

TEST(MediaConfig, LimitsAreKeysWithRangesNamedInErrors) {
  Config c;
  ASSERT_TRUE(apply_toml(c,
                         "[media]\nencoder_idle_s = 5\nmax_image_pixels = 4096\n"
                         "max_audio_seconds = 10\nmax_media_per_request = 2\n",
                         "t.toml")
                  .ok());
  const media::MediaLimits l = media_limits(c);
  EXPECT_EQ(c.media_encoder_idle_s, 5u);
  EXPECT_EQ(l.max_image_pixels, 4096u);
  EXPECT_EQ(l.max_audio_seconds, 10u);
  EXPECT_EQ(l.max_media_per_request, 2u);
  Status st = apply_toml(c, "[media]\nmax_audio_seconds = 31\n", "t.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("media.max_audio_seconds': value 31 outside [1, 30]"),
            std::string::npos)
      << st.error().message;
}

}  // namespace
}  // namespace gemmad::daemon
