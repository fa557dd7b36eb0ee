// The Landlock policy for real (daemon/landlock_policy.h): a forked child restricts itself
// exactly as gemmad does and then tries what the daemon may and may not do. Each check's
// outcome comes back as one bit of the exit status, so a broken policy names the check.
#include "daemon/landlock_policy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

namespace gemmad::daemon {
namespace {

namespace fs = std::filesystem;

struct Dirs {
  fs::path root, models, state, outside;
};

Dirs make_dirs() {
  char tmpl[] = "/tmp/gemmad-landlock-XXXXXX";
  Dirs d;
  d.root = mkdtemp(tmpl);
  d.models = d.root / "models";
  d.state = d.root / "state";
  d.outside = d.root / "outside";
  for (const auto& p : {d.models, d.state, d.outside})
    fs::create_directories(p);
  std::ofstream(d.models / "m.gguf") << "weights";
  std::ofstream(d.outside / "secret") << "not for gemmad";
  return d;
}

bool opens(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// What a TCP bind to 127.0.0.1:0 returns (0 or errno), from a socket seccomp does not stop.
int tcp_bind_errno() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int r = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int e = r == 0 ? 0 : errno;
  ::close(s);
  return e;
}

enum Check : int {
  kInstalled = 1 << 0,
  kReadsModel = 1 << 1,
  kCannotWriteModels = 1 << 2,
  kCannotReadOutside = 1 << 3,
  kCannotCreateOutside = 1 << 4,
  kWritesState = 1 << 5,
  kReadsProcSelf = 1 << 6,
  kTcpBindDenied = 1 << 7,  // only checked from ABI 4
};

TEST(TheLandlockPolicy, ConfinesTheProcessToItsModelAndStateDirectories) {
  const int abi = landlock_abi();
  if (abi == 0) GTEST_SKIP() << "this kernel offers no Landlock";
  std::cout << "Landlock ABI in force here: " << abi << "\n";
  const Dirs d = make_dirs();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    LandlockPaths paths = system_paths();
    paths.read.push_back(d.models);
    paths.write.push_back(d.state);
    auto st = install_landlock_policy(paths);
    int bits = 0;
    if (st.ok() && st->abi == abi) bits |= kInstalled;
    if (opens(d.models / "m.gguf", O_RDONLY)) bits |= kReadsModel;
    if (!opens(d.models / "new", O_WRONLY | O_CREAT) && errno == EACCES) bits |= kCannotWriteModels;
    if (!opens(d.outside / "secret", O_RDONLY) && errno == EACCES) bits |= kCannotReadOutside;
    if (!opens(d.outside / "x", O_WRONLY | O_CREAT) && errno == EACCES)
      bits |= kCannotCreateOutside;
    if (opens(d.state / "gemmad.db", O_RDWR | O_CREAT) &&
        ::unlink((d.state / "gemmad.db").c_str()) == 0)
      bits |= kWritesState;
    if (opens("/proc/self/smaps", O_RDONLY)) bits |= kReadsProcSelf;
    if (abi < 4 || tcp_bind_errno() == EACCES) bits |= kTcpBindDenied;
    _exit(bits);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  fs::remove_all(d.root);
  ASSERT_TRUE(WIFEXITED(status));
  const int bits = WEXITSTATUS(status);
  EXPECT_TRUE(bits & kInstalled) << "install_landlock_policy failed";
  EXPECT_TRUE(bits & kReadsModel) << "the model directory must stay readable";
  EXPECT_TRUE(bits & kCannotWriteModels) << "the model directory must be read-only";
  EXPECT_TRUE(bits & kCannotReadOutside) << "a file outside the allowed dirs was readable";
  EXPECT_TRUE(bits & kCannotCreateOutside) << "a file outside the allowed dirs was creatable";
  EXPECT_TRUE(bits & kWritesState) << "the state directory must stay writable";
  EXPECT_TRUE(bits & kReadsProcSelf) << "/proc/self must stay readable (Status)";
  EXPECT_TRUE(bits & kTcpBindDenied) << "ABI >= 4 must deny TCP bind";
}

TEST(TheLandlockPolicy, DescribesWhatIsInForce) {
  const int abi = landlock_abi();
  if (abi == 0) GTEST_SKIP() << "this kernel offers no Landlock";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto st = install_landlock_policy(system_paths());
    const std::string want =
        "landlock ABI " + std::to_string(abi) + (abi >= 4 ? ": fs + net" : ": fs");
    _exit(st.ok() && st->description == want ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace gemmad::daemon
