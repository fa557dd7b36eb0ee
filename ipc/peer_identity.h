// Whether the kernel's peer credentials (SO_PEERCRED) can tell callers apart: the overflow ids
// a user namespace reports for unmapped users, and what this process's namespace maps.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "ipc/connection.h"

namespace gemmad::ipc {

// The ids the kernel reports for a uid or gid that has no mapping in the reader's user
// namespace (/proc/sys/kernel/overflowuid and overflowgid, 65534 by default). Every unmapped
// caller looks like this one id, so such a peer cannot be told from any other.
struct OverflowIds {
  uid_t uid = 65534;
  gid_t gid = 65534;
};

// Reads both files; a missing or unreadable file keeps the kernel's default (65534).
OverflowIds read_overflow_ids(const std::string& proc_root = "/proc");

// Error kPermissionDenied naming the id when the peer's uid or gid is the overflow id.
Status check_peer_identity(const PeerCredentials& peer, const OverflowIds& overflow);

// What /proc/self/uid_map says about the callers' ids.
struct IdMapping {
  // Every uid of the initial namespace (0 .. 2^32-2) is mapped to itself: peer uids are the
  // callers' real ones.
  bool maps_all = false;
  // Ids covered by the map's ranges (a PrivateUsers=yes service maps only root and itself).
  std::uint64_t mapped_ids = 0;
  // One line for the log and StatusReply, e.g. "all uids mapped (initial user namespace)".
  std::string summary;
};

// Parses uid_map text ("inside outside count" lines). Error kInvalidArgument naming the line.
Result<IdMapping> parse_uid_map(const std::string& text);
// Reads and parses /proc/self/uid_map; an unreadable file is reported in `summary`.
IdMapping read_uid_mapping(const std::string& proc_root = "/proc");

}  // namespace gemmad::ipc
