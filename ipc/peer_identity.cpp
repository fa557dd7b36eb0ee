// Peer identity checks: overflow ids and the user namespace's uid map (see peer_identity.h).
#include "ipc/peer_identity.h"

#include <fstream>
#include <sstream>

namespace gemmad::ipc {
namespace {

// The largest id a uid_map range can reach: uid_t is 32 bits and (uid_t)-1 is never valid.
constexpr std::uint64_t kAllIds = 4294967295ull;

bool read_id(const std::string& path, std::uint32_t& out) {
  std::ifstream in(path);
  std::uint64_t value = 0;
  if (!(in >> value) || value > 0xFFFFFFFFull) return false;
  out = static_cast<std::uint32_t>(value);
  return true;
}

}  // namespace

OverflowIds read_overflow_ids(const std::string& proc_root) {
  OverflowIds ids;
  std::uint32_t value = 0;
  if (read_id(proc_root + "/sys/kernel/overflowuid", value)) ids.uid = value;
  if (read_id(proc_root + "/sys/kernel/overflowgid", value)) ids.gid = value;
  return ids;
}

Status check_peer_identity(const PeerCredentials& peer, const OverflowIds& overflow) {
  const char* which = peer.uid == overflow.uid ? "uid" : peer.gid == overflow.gid ? "gid" : nullptr;
  if (which == nullptr) return {};
  const std::uint32_t id = peer.uid == overflow.uid ? peer.uid : peer.gid;
  return make_error(ErrorCode::kPermissionDenied,
                    std::string("refused: the caller's ") + which + " reads as " +
                        std::to_string(id) +
                        ", the kernel's overflow id for identities gemmad's user namespace does "
                        "not map (e.g. a PrivateUsers=yes service); gemmad cannot tell such "
                        "callers apart, so it serves none of them");
}

Result<IdMapping> parse_uid_map(const std::string& text) {
  IdMapping mapping;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  bool identity_all = false;
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream fields(line);
    std::uint64_t inside = 0, outside = 0, count = 0;
    if (!(fields >> inside >> outside >> count)) {
      return make_error(ErrorCode::kInvalidArgument, "uid_map line " + std::to_string(number) +
                                                         " is not 'inside outside count'");
    }
    mapping.mapped_ids += count;
    if (inside == 0 && outside == 0 && count >= kAllIds) identity_all = true;
  }
  mapping.maps_all = identity_all;
  if (identity_all) {
    mapping.summary = "all uids mapped (initial user namespace): peer ids are the callers' own";
  } else {
    mapping.summary = "user namespace maps only " + std::to_string(mapping.mapped_ids) +
                      " uid(s): other callers read as the overflow id and are refused";
  }
  return mapping;
}

IdMapping read_uid_mapping(const std::string& proc_root) {
  std::ifstream in(proc_root + "/self/uid_map");
  std::stringstream text;
  if (!in.is_open()) {
    IdMapping unknown;
    unknown.summary = "uid map unreadable (" + proc_root + "/self/uid_map)";
    return unknown;
  }
  text << in.rdbuf();
  auto parsed = parse_uid_map(text.str());
  if (!parsed.ok()) {
    IdMapping unknown;
    unknown.summary = "uid map unparsable: " + parsed.error().message;
    return unknown;
  }
  return std::move(parsed).value();
}

}  // namespace gemmad::ipc
