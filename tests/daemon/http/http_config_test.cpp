// The [http] config block: the socket next to the main one by default, --http-socket, the
// limits' ranges, and http.enabled = false.
#include <gtest/gtest.h>
#include <unistd.h>

#include "daemon/config.h"

namespace gemmad::daemon {
namespace {

TEST(HttpConfig, TheSocketDefaultsToTheMainSocketsDirectory) {
  const std::string name = ::geteuid() == 0 ? "/http.sock" : "/gemmad-http.sock";
  EXPECT_EQ(default_http_socket_path("/run/x/gemmad.sock"), "/run/x" + name);
  FlagOverrides flags;
  flags.config_file = "/dev/null";
  flags.model_paths = {"/m/tiny.gguf"};
  flags.socket_path = "/tmp/d/gemmad.sock";
  auto c = load_config(flags);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->http_socket_path, "/tmp/d" + name);
  EXPECT_TRUE(c->http_enabled);
  flags.http_socket_path = "/tmp/e/api.sock";
  c = load_config(flags);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->http_socket_path, "/tmp/e/api.sock");
  EXPECT_EQ(c->source.at("http.socket"), "--http-socket");
}

TEST(HttpConfig, KeysAreReadAndRangesNamed) {
  Config c;
  ASSERT_TRUE(apply_toml(c, "[http]\nenabled = false\nmax_body_bytes = 2048\n", "g.toml").ok());
  EXPECT_FALSE(c.http_enabled);
  EXPECT_EQ(c.http_max_body_bytes, 2048u);
  Status s = apply_toml(c, "[http]\nheader_timeout_ms = 5\n", "g.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("http.header_timeout_ms"), std::string::npos);
  EXPECT_NE(s.error().message.find("outside [100, 600000]"), std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace gemmad::daemon
