// The no-network policy's second layer (docs/ARCHITECTURE.md "Privacy"): where the kernel
// offers Landlock, gemmad restricts its own file-system access to what it serves from (model
// and config directories, read) and keeps (state and database directories, write), and from
// Landlock ABI 4 on also denies TCP bind and connect. Raw syscalls, no library.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace gemmad::daemon {

// The highest Landlock ABI this kernel offers; 0 when it has none (not built in, disabled at
// boot, or a syscall emulator such as qemu-user that does not pass it through).
int landlock_abi();

struct LandlockPaths {
  std::vector<std::string> read;   // read files, list directories (beneath each)
  std::vector<std::string> write;  // also create, write, truncate and remove regular files
  // Directories where the daemon only creates and removes its socket file.
  std::vector<std::string> socket_dirs;
};

struct LandlockState {
  int abi = 0;       // 0: not in force
  bool net = false;  // TCP bind/connect denied too (ABI >= 4)
  // For people (log, Status): "landlock ABI 4: fs + net", "landlock ABI 3: fs", or
  // "unavailable (...)".
  std::string description;
};

// Restricts the calling thread and every thread it creates afterwards (threads that already
// exist are not affected, so call it before any starts). Paths that do not exist are skipped.
// Sets no_new_privs. Irreversible. A kernel without Landlock is not an error: the state says
// "unavailable". Any other failure (a rule the kernel rejects) is an error naming the path.
Result<LandlockState> install_landlock_policy(const LandlockPaths& paths);

// The paths gemmad itself needs besides its own directories: /proc/self (Status reads smaps),
// /dev/null and /dev/urandom (session ids), the account databases (admin group checks), and
// the shared-library directories (glibc loads NSS modules lazily).
LandlockPaths system_paths();

}  // namespace gemmad::daemon
