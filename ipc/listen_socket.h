// Creating or adopting the daemon's listening Unix stream socket (plain POSIX, no Asio), with
// the stale-socket rule: an existing socket file is removed only when nothing listens on it.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace gemmad::ipc {

// Identity of the socket file this process bound, so that shutdown removes it only if it is
// still ours (a newer daemon may have replaced it).
struct SocketFile {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

struct ListeningSocket {
  int fd = -1;  // owned by the caller; close-on-exec
  SocketFile file;
};

// socket(AF_UNIX, SOCK_STREAM) bound to `path` with permission bits `mode` (0660 by default:
// owner and group, i.e. the gemmad admin group of the system service), listening with
// `backlog`. An existing path: a socket nobody listens on (connect gets ECONNREFUSED) is
// removed; a live socket is an error kIo ("another process is listening"); anything that is
// not a socket is an error kInvalidArgument and is left alone. A path of 108 bytes or more
// (sun_path) is kInvalidArgument naming the length and the limit.
//
// chmod follows bind, so for an instant the socket has the umask's mode; the directory
// (/run/gemmad, 0750, or $XDG_RUNTIME_DIR, 0700) is what keeps strangers out meanwhile.
Result<ListeningSocket> listen_unix_socket(const std::string& path, mode_t mode, int backlog);

// Checks that `fd` (e.g. from systemd socket activation, LISTEN_FDS) is a listening AF_UNIX
// SOCK_STREAM socket. Error kInvalidArgument naming what it is instead.
Status check_listening_unix_socket(int fd);

// Removes `file.path` if it is still the socket we bound (same device and inode).
void remove_socket_file(const SocketFile& file);

}  // namespace gemmad::ipc
