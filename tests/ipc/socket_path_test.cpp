// Tests of the client's socket path resolution (DESIGN.md "Command-line contract").
#include "clients/cpp/socket_path.h"

#include <gtest/gtest.h>

#include <set>

namespace gemmad::client {
namespace {

auto existing(std::set<std::string> paths) {
  return [paths = std::move(paths)](const std::string& p) { return paths.count(p) > 0; };
}

TEST(ResolveSocketPath, PrefersTheFlagOverEverything) {
  SocketPathSources s{"/flag.sock", "/env.sock", "/run/user/1000"};
  EXPECT_EQ(resolve_socket_path(s, existing({"/run/user/1000/gemmad.sock"})), "/flag.sock");
}

TEST(ResolveSocketPath, UsesGemmadSocketWithoutAFlag) {
  SocketPathSources s{"", "/env.sock", "/run/user/1000"};
  EXPECT_EQ(resolve_socket_path(s, existing({"/run/user/1000/gemmad.sock"})), "/env.sock");
}

TEST(ResolveSocketPath, UsesTheUserModeSocketWhenItExists) {
  SocketPathSources s{"", "", "/run/user/1000/"};
  EXPECT_EQ(resolve_socket_path(s, existing({"/run/user/1000/gemmad.sock", kSystemSocketPath})),
            "/run/user/1000/gemmad.sock");
}

TEST(ResolveSocketPath, FallsBackToTheSystemSocketWhenNoUserDaemonRuns) {
  SocketPathSources s{"", "", "/run/user/1000"};
  EXPECT_EQ(resolve_socket_path(s, existing({kSystemSocketPath})), kSystemSocketPath);
}

TEST(ResolveSocketPath, NamesTheUserPathWhenNeitherExistsAndXdgIsSet) {
  SocketPathSources s{"", "", "/run/user/1000"};
  EXPECT_EQ(resolve_socket_path(s, existing({})), "/run/user/1000/gemmad.sock");
}

TEST(ResolveSocketPath, NamesTheSystemPathWithoutXdgRuntimeDir) {
  EXPECT_EQ(resolve_socket_path(SocketPathSources{}, existing({})), kSystemSocketPath);
}

}  // namespace
}  // namespace gemmad::client
