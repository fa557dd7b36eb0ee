// Session ids from getrandom(2), with /dev/urandom for kernels older than 3.17.
#include "store/session_id.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace gemmad::store {
namespace {

Status fill_from_urandom(uint8_t* out, size_t size) {
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorCode::kIo,
                      std::string("session id: open /dev/urandom: ") + std::strerror(errno));
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, out + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = n < 0 ? errno : EIO;
      ::close(fd);
      return make_error(ErrorCode::kIo,
                        std::string("session id: read /dev/urandom: ") + std::strerror(saved));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return {};
}

Status fill_random(uint8_t* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    // Blocks only until the kernel's pool is first initialised at boot, never afterwards.
    const ssize_t n = ::getrandom(out + done, size - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOSYS) return fill_from_urandom(out + done, size - done);
    if (n < 0) {
      return make_error(ErrorCode::kIo,
                        std::string("session id: getrandom: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::string> new_session_id() {
  uint8_t bytes[kSessionIdChars / 2];
  GEMMAD_TRY(fill_random(bytes, sizeof bytes));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(kSessionIdChars);
  for (uint8_t b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xf]);
  }
  return id;
}

bool is_valid_session_id(std::string_view id) {
  if (id.size() != kSessionIdChars) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace gemmad::store
