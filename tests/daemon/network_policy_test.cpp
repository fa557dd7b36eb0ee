// The no-network policy, installed in a forked child (it is irreversible): every socket but
// AF_UNIX is refused, in threads that existed before it too, and io_uring is closed.
#include "daemon/network_policy.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

namespace gemmad::daemon {
namespace {

constexpr int kCannotLoad = 77;

// 0 when the socket is refused with EACCES, else a distinct failure bit.
int refused(int domain, int type) {
  const int fd = ::socket(domain, type, 0);
  if (fd >= 0) {
    ::close(fd);
    return 1;
  }
  return errno == EACCES ? 0 : 2;
}

// Runs in the child; the exit code is a bit set of what went wrong.
int child_checks() {
  // A thread that exists before the filter, and opens a socket after it.
  std::atomic<bool> go{false};
  std::atomic<int> thread_result{-1};
  std::thread early([&] {
    while (!go.load())
      std::this_thread::yield();
    thread_result = refused(AF_INET, SOCK_STREAM);
  });
  if (!install_no_network_policy().ok()) {
    go = true;
    early.join();
    return kCannotLoad;
  }
  go = true;
  early.join();
  int bad = 0;
  if (!seccomp_filter_active()) bad |= 1 << 0;
  if (refused(AF_INET, SOCK_STREAM) != 0) bad |= 1 << 1;
  if (refused(AF_INET6, SOCK_DGRAM) != 0) bad |= 1 << 2;
  if (refused(AF_NETLINK, SOCK_RAW) != 0) bad |= 1 << 3;
  if (thread_result.load() != 0) bad |= 1 << 4;
  int pair[2];
  if (::socketpair(AF_INET, SOCK_STREAM, 0, pair) == 0 || errno != EACCES) bad |= 1 << 5;
  // Local sockets still work: the daemon's own listener and sd_notify.
  const int unix_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (unix_fd < 0) bad |= 1 << 6;
  if (unix_fd >= 0) ::close(unix_fd);
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
    bad |= 1 << 7;
  } else {
    ::close(pair[0]);
    ::close(pair[1]);
  }
#ifdef __NR_io_uring_setup
  if (::syscall(__NR_io_uring_setup, 1, nullptr) != -1 || errno != EPERM) bad |= 1 << 8;
#endif
  return bad;
}

TEST(NetworkPolicy, RefusesEverySocketButAfUnixInEveryThread) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(child_checks());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  if (WEXITSTATUS(status) == kCannotLoad) {
    // qemu-user cannot load seccomp filters; a real kernel can.
    GTEST_SKIP() << "this kernel would not load a seccomp filter";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed checks, as bits (see child_checks)";
}

}  // namespace
}  // namespace gemmad::daemon
