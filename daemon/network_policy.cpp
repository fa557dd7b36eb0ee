// seccomp filter of the no-network policy; see network_policy.h.
#include "daemon/network_policy.h"

#include <seccomp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

namespace gemmad::daemon {
namespace {

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

Error seccomp_error(const std::string& doing, int rc) {
  // libseccomp returns -errno.
  return make_error(ErrorCode::kInternal,
                    "no-network policy: " + doing + ": " + std::strerror(rc < 0 ? -rc : rc));
}

}  // namespace

Status install_no_network_policy() {
  // Allow by default: the policy is about sockets, not a full syscall allow-list.
  Filter filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) return seccomp_error("seccomp_init", ENOMEM);
  scmp_filter_ctx ctx = filter.get();
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc != 0) return seccomp_error("synchronising threads", rc);
  // A syscall of another ABI (32-bit x86 socketcall from a 64-bit process) ends the process.
  rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc != 0) return seccomp_error("setting the foreign-ABI action", rc);
  // Argument 0 (the domain) is not AF_UNIX. Spelled out: SCMP_A0 is a C compound literal.
  const scmp_arg_cmp not_unix{0, SCMP_CMP_NE, static_cast<scmp_datum_t>(AF_UNIX), 0};
  for (int sys : {SCMP_SYS(socket), SCMP_SYS(socketpair)}) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), sys, 1, not_unix);
    if (rc != 0) return seccomp_error("adding the socket rule", rc);
  }
  // IORING_OP_SOCKET makes sockets without socket(2); gemmad does not use io_uring.
  for (int sys :
       {SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register)}) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), sys, 0);
    if (rc != 0) return seccomp_error("adding the io_uring rule", rc);
  }
  rc = seccomp_load(ctx);
  if (rc != 0) return seccomp_error("loading the filter into the kernel", rc);
  return {};
}

bool seccomp_filter_active() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Seccomp:", 0) == 0) return line.find('2') != std::string::npos;
  }
  return false;
}

}  // namespace gemmad::daemon
