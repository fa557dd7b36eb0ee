// Raw protocol access for integration tests: a bare AF_UNIX connection, frames built and read
// by hand, for clients that break (or stretch) the protocol on purpose.
#pragma once

#include <optional>
#include <string>

#include "ipc/proto/gemmad.pb.h"

namespace gemmad::testing {

// A raw AF_UNIX connection with a 5 s receive timeout; -1 when connect fails.
int raw_connect(const std::string& path);
// Reads until EOF (or timeout); returns everything received.
std::string read_all(int fd);
// The first frame of `bytes`, parsed as a ServerMessage.
std::optional<v1::ServerMessage> first_frame(const std::string& bytes);
// Reads one whole frame from `fd` (nullopt on EOF, timeout or a bad frame).
std::optional<v1::ServerMessage> read_frame(int fd);
// `m` serialized behind its 4-byte big-endian length.
std::string frame(const v1::ClientMessage& m);
// Writes all of `bytes`; false on error.
bool write_all(int fd, const std::string& bytes);

}  // namespace gemmad::testing
