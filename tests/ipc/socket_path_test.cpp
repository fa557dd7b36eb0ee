// Tests of the one socket lookup shared by gemmad and its clients (ipc/socket_path.h).
#include "ipc/socket_path.h"

#include <gtest/gtest.h>

#include <set>

namespace gemmad::ipc {
namespace {

auto existing(std::set<std::string> paths) {
  return [paths = std::move(paths)](const std::string& p) { return paths.count(p) > 0; };
}

SocketEnv user(std::string xdg, std::string env_socket = "") {
  return SocketEnv{std::move(env_socket), std::move(xdg), 1000};
}

TEST(DefaultListenPath, IsTheSystemPathForRootEvenWithARuntimeDir) {
  EXPECT_EQ(default_listen_path(SocketEnv{"", "", 0}), kSystemSocketPath);
  EXPECT_EQ(default_listen_path(SocketEnv{"", "/run/user/0", 0}), kSystemSocketPath);
}

TEST(DefaultListenPath, IsInTheRuntimeDirForAUser) {
  EXPECT_EQ(default_listen_path(user("/run/user/1000/")), "/run/user/1000/gemmad.sock");
}

TEST(DefaultListenPath, IsAPerUserNameInTmpWithoutARuntimeDir) {
  EXPECT_EQ(default_listen_path(user("")), "/tmp/gemmad-1000.sock");
}

TEST(DefaultListenPath, FollowsGemmadSocket) {
  EXPECT_EQ(default_listen_path(SocketEnv{"/env.sock", "", 0}), "/env.sock");
}

TEST(ResolveSocketPath, PrefersTheFlagOverEverything) {
  EXPECT_EQ(resolve_socket_path("/flag.sock", user("/run/user/1000", "/env.sock"),
                                existing({"/run/user/1000/gemmad.sock"})),
            "/flag.sock");
}

TEST(ResolveSocketPath, UsesGemmadSocketWithoutAFlagEvenIfAbsent) {
  EXPECT_EQ(resolve_socket_path("", user("/run/user/1000", "/env.sock"),
                                existing({"/run/user/1000/gemmad.sock"})),
            "/env.sock");
}

TEST(ResolveSocketPath, UsesTheUserModeSocketWhenItExists) {
  EXPECT_EQ(resolve_socket_path("", user("/run/user/1000/"),
                                existing({"/run/user/1000/gemmad.sock", kSystemSocketPath})),
            "/run/user/1000/gemmad.sock");
}

TEST(ResolveSocketPath, FallsBackToTheSystemSocketWhenNoUserDaemonRuns) {
  EXPECT_EQ(resolve_socket_path("", user("/run/user/1000"), existing({kSystemSocketPath})),
            kSystemSocketPath);
}

TEST(ResolveSocketPath, NamesTheOwnDaemonDefaultWhenNothingExists) {
  EXPECT_EQ(resolve_socket_path("", user("/run/user/1000"), existing({})),
            "/run/user/1000/gemmad.sock");
  EXPECT_EQ(resolve_socket_path("", user(""), existing({})), "/tmp/gemmad-1000.sock");
}

// The quick start's case: whatever the environment, a daemon started with its defaults and a
// plain client afterwards, in the same environment, meet on one path.
TEST(ResolveSocketPath, FindsTheDaemonDefaultOfTheSameEnvironment) {
  const SocketEnv envs[] = {{"", "", 0},      {"", "/run/user/0", 0}, user(""),
                            user("/run/u/1"), user("", "/e.sock"),    {"/e.sock", "", 0}};
  for (const SocketEnv& env : envs) {
    const std::string listening = default_listen_path(env);
    EXPECT_EQ(resolve_socket_path("", env, existing({listening, kSystemSocketPath})), listening)
        << "uid " << env.uid << " xdg '" << env.xdg_runtime_dir << "'";
  }
}

}  // namespace
}  // namespace gemmad::ipc
