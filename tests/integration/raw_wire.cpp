// Raw protocol access for integration tests (see raw_wire.h).
#include "raw_wire.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>

#include "ipc/protocol.h"

namespace gemmad::testing {

int raw_connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string read_all(int fd) {
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    got.append(buf, static_cast<size_t>(n));
  return got;
}

namespace {
uint32_t header_length(const char* b) {
  return (uint32_t(uint8_t(b[0])) << 24) | (uint32_t(uint8_t(b[1])) << 16) |
         (uint32_t(uint8_t(b[2])) << 8) | uint32_t(uint8_t(b[3]));
}
bool read_exact(int fd, char* out, size_t n) {
  while (n > 0) {
    const ssize_t got = read(fd, out, n);
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}
}  // namespace

std::optional<v1::ServerMessage> first_frame(const std::string& bytes) {
  if (bytes.size() < 4) return std::nullopt;
  const uint32_t len = header_length(bytes.data());
  if (bytes.size() < 4 + len) return std::nullopt;
  auto m = ipc::parse_server_message(std::string_view(bytes).substr(4, len));
  if (!m.ok()) return std::nullopt;
  return *m;
}

std::optional<v1::ServerMessage> read_frame(int fd) {
  char header[4];
  if (!read_exact(fd, header, 4)) return std::nullopt;
  std::string payload(header_length(header), '\0');
  if (!read_exact(fd, payload.data(), payload.size())) return std::nullopt;
  auto m = ipc::parse_server_message(payload);
  if (!m.ok()) return std::nullopt;
  return *m;
}

std::string frame(const v1::ClientMessage& m) {
  std::string payload = m.SerializeAsString();
  std::string out(4, '\0');
  const uint32_t n = static_cast<uint32_t>(payload.size());
  out[0] = char(n >> 24), out[1] = char(n >> 16), out[2] = char(n >> 8), out[3] = char(n);
  return out + payload;
}

bool write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace gemmad::testing
