// Landlock through its three syscalls (see landlock_policy.h). The structures and constants
// are the kernel's stable ABI; Debian 12's headers predate ABI 4, so the newer ones are
// declared here when the installed <linux/landlock.h> lacks them.
#include "daemon/landlock_policy.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

namespace gemmad::daemon {
namespace {

// File-system access rights by the ABI that introduced them.
constexpr uint64_t kFsAbi1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ULL << 13;       // ABI 2
constexpr uint64_t kFsTruncate = 1ULL << 14;    // ABI 3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;    // ABI 5
constexpr uint64_t kNetBindTcp = 1ULL << 0;     // ABI 4
constexpr uint64_t kNetConnectTcp = 1ULL << 1;  // ABI 4

constexpr uint64_t kExecute = 1ULL << 0;
constexpr uint64_t kWriteFile = 1ULL << 1;
constexpr uint64_t kReadFile = 1ULL << 2;
constexpr uint64_t kReadDir = 1ULL << 3;
constexpr uint64_t kRemoveFile = 1ULL << 5;
constexpr uint64_t kMakeReg = 1ULL << 8;
constexpr uint64_t kMakeSock = 1ULL << 9;
// Rights that make sense on a file (not a directory): the kernel rejects the others there.
constexpr uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kFsTruncate | kFsIoctlDev;

// struct landlock_ruleset_attr as of ABI 6; older kernels take a prefix (size says how much).
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
constexpr int kRulePathBeneath = 1;  // LANDLOCK_RULE_PATH_BENEATH

uint64_t handled_fs(int abi) {
  uint64_t fs = kFsAbi1;
  if (abi >= 2) fs |= kFsRefer;
  if (abi >= 3) fs |= kFsTruncate;
  if (abi >= 5) fs |= kFsIoctlDev;
  return fs;
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// Adds one rule; a missing path is skipped (a machine without /lib64, say).
Status allow(int ruleset, const std::string& path, uint64_t access, uint64_t handled) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return {};
    return make_error(ErrorCode::kIo, "landlock: opening " + path + ": " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= kFileRights;
  PathBeneathAttr rule{access & handled, fd};
  const long r = ::syscall(__NR_landlock_add_rule, ruleset, kRulePathBeneath, &rule, 0);
  const int e = errno;
  ::close(fd);
  if (r != 0) {
    return make_error(ErrorCode::kIo, "landlock: rule for " + path + ": " + errno_text(e));
  }
  return {};
}

}  // namespace

int landlock_abi() {
  const long abi =
      ::syscall(__NR_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

LandlockPaths system_paths() {
  LandlockPaths p;
  p.read = {"/proc/self", "/dev/urandom", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
            "/usr/lib",   "/lib",         "/lib64",      "/usr/lib64"};
  p.write = {"/dev/null"};
  return p;
}

Result<LandlockState> install_landlock_policy(const LandlockPaths& paths) {
  LandlockState state;
  state.abi = landlock_abi();
  if (state.abi <= 0) {
    state.abi = 0;
    state.description = "unavailable (this kernel offers no Landlock)";
    return state;
  }
  RulesetAttr attr{};
  attr.handled_access_fs = handled_fs(state.abi);
  size_t attr_size = 8;  // ABI 1-3: handled_access_fs only
  if (state.abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;  // no rule: both denied
    attr_size = 16;
    state.net = true;
  }
  const long ruleset = ::syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
  if (ruleset < 0) {
    return make_error(ErrorCode::kIo, "landlock: create_ruleset (ABI " + std::to_string(state.abi) +
                                          "): " + errno_text(errno));
  }
  const int rs = static_cast<int>(ruleset);
  const uint64_t handled = attr.handled_access_fs;
  const uint64_t read = kReadFile | kReadDir | kExecute;
  const uint64_t write = kReadFile | kReadDir | kWriteFile | kMakeReg | kRemoveFile | kFsTruncate;
  Status st;
  for (const auto& p : paths.read) {
    if (st.ok()) st = allow(rs, p, read, handled);
  }
  for (const auto& p : paths.write) {
    if (st.ok()) st = allow(rs, p, write, handled);
  }
  for (const auto& p : paths.socket_dirs) {
    if (st.ok()) st = allow(rs, p, kMakeSock | kRemoveFile, handled);
  }
  if (st.ok() && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    st = make_error(ErrorCode::kIo, std::string("landlock: no_new_privs: ") + errno_text(errno));
  }
  if (st.ok() && ::syscall(__NR_landlock_restrict_self, rs, 0) != 0) {
    st = make_error(ErrorCode::kIo, std::string("landlock: restrict_self: ") + errno_text(errno));
  }
  ::close(rs);
  GEMMAD_TRY(st);
  state.description =
      "landlock ABI " + std::to_string(state.abi) + (state.net ? ": fs + net" : ": fs");
  return state;
}

}  // namespace gemmad::daemon
