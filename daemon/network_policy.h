// The no-network privacy policy (docs/DESIGN.md "Privacy rules"): once installed, this
// process and every thread it has or will have can create only AF_UNIX sockets. The kernel
// enforces it (seccomp-bpf via libseccomp), on top of the systemd unit's own isolation, so
// neither a bug in gemmad nor a library it links can reach the network.
#pragma once

#include "common/result.h"

namespace gemmad::daemon {

// socket(2) and socketpair(2) with a domain other than AF_UNIX fail with EACCES; io_uring,
// which can create sockets without passing through socket(2), fails with EPERM; any syscall
// of a foreign ABI (e.g. 32-bit x86 socketcall) kills the process. Applies to all threads
// (TSYNC) and sets no_new_privs. Irreversible. Errors name what the kernel refused (seccomp
// cannot load under qemu-user, for instance).
Status install_no_network_policy();

// True when this process runs under a seccomp filter (/proc/self/status "Seccomp: 2").
bool seccomp_filter_active();

}  // namespace gemmad::daemon
