// Saved KV files; see kv_store.h.
#include "daemon/kv_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "daemon/kv_checksum.h"

namespace gemmad::daemon {
namespace {

constexpr const char* kSuffix = ".kv";

std::string hex16(uint64_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    s[static_cast<size_t>(i)] = d[v & 15];
  return s;
}

std::string errno_text() {
  return std::strerror(errno);
}

// "<app>-<key>.kv" -> (app, key); false for anything else.
bool parse_name(const std::string& name, std::string& app, std::string& key) {
  if (name.size() != 16 + 1 + 16 + 3 || name[16] != '-' || !name.ends_with(kSuffix)) return false;
  for (size_t i = 0; i < 33; ++i) {
    if (i == 16) continue;
    const char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  app = name.substr(0, 16);
  key = name.substr(17, 16);
  return true;
}

bool read_all(int fd, uint8_t* p, size_t n, off_t at) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, at);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    at += r;
  }
  return true;
}

}  // namespace

std::string kv_store_key(const std::string& s) {
  return hex16(
      kv_checksum(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0x4b56u));
}

Result<std::unique_ptr<KvStore>> KvStore::open(KvStoreOptions options) {
  if (::mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error(ErrorCode::kIo, options.dir + ": mkdir: " + errno_text());
  }
  const int fd = ::open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorCode::kIo,
                      options.dir + ": open (a symlink is refused): " + errno_text());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    ::close(fd);
    return make_error(ErrorCode::kPermissionDenied,
                      options.dir + ": must be a directory of uid " + std::to_string(::geteuid()) +
                          " with mode 0700 (has uid " + std::to_string(st.st_uid) + ", mode 0" +
                          std::to_string((st.st_mode >> 6 & 7) * 100 + (st.st_mode >> 3 & 7) * 10 +
                                         (st.st_mode & 7)) +
                          ")");
  }
  std::unique_ptr<KvStore> s(new KvStore(std::move(options), fd));
  return s;
}

KvStore::KvStore(KvStoreOptions options, int dir_fd) : opts_(std::move(options)), dir_fd_(dir_fd) {
  scan();
  thread_ = std::thread([this] { run(); });
}

KvStore::~KvStore() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  thread_.join();
  ::close(dir_fd_);
}

// Indexes the files a previous run left, oldest first by mtime; drops stray temporaries.
void KvStore::scan() {
  const int fd = ::dup(dir_fd_);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (!d) {
    if (fd >= 0) ::close(fd);
    spdlog::warn("saved KV: cannot list {}: {}", opts_.dir, errno_text());
    return;
  }
  std::multimap<int64_t, Entry> by_age;
  std::vector<std::string> stray;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string app, key;
    if (name.ends_with(".tmp") && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) {
      stray.push_back(name);
      continue;
    }
    if (!parse_name(name, app, key) || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
      spdlog::warn("saved KV: ignoring {}/{} (not a regular saved-KV file of uid {})", opts_.dir,
                   name, ::geteuid());
      continue;
    }
    const int64_t age = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    by_age.emplace(age, Entry{name, app, static_cast<uint64_t>(st.st_size), 0});
  }
  ::closedir(d);
  for (const auto& n : stray)
    ::unlinkat(dir_fd_, n.c_str(), 0);
  std::lock_guard lock(mu_);
  for (auto& [age, e] : by_age) {
    e.last_used = ++clock_;
    stats_.bytes += e.bytes;
    files_[e.name.substr(17, 16)] = e;
  }
  stats_.files = files_.size();
  enforce_bounds_locked("");
}

void KvStore::save(const std::string& cache_key, const std::string& fair_key,
                   std::vector<uint8_t> bytes) {
  const std::string key = kv_store_key(cache_key);
  const uint64_t limit = std::min(opts_.max_bytes, opts_.max_bytes_per_app);
  std::lock_guard lock(mu_);
  if (removed_.count(key)) return;
  if (bytes.size() > limit) {
    spdlog::info("saved KV: {} bytes for one session exceed store.kv_max_bytes{} ({}); not saved",
                 bytes.size(), opts_.max_bytes_per_app < opts_.max_bytes ? "_per_app" : "", limit);
    return;
  }
  auto p = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  pending_[key] = p;
  tasks_.push_back(Task{key, kv_store_key(fair_key), std::move(p)});
  cv_.notify_all();
}

Result<int> KvStore::open_checked(const std::string& key, uint64_t& size) {
  std::string name;
  {
    std::lock_guard lock(mu_);
    auto it = files_.find(key);
    if (it == files_.end()) return make_error(ErrorCode::kNotFound, "no saved KV");
    it->second.last_used = ++clock_;
    name = it->second.name;
  }
  const int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kIo, name + ": open: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
    ::close(fd);
    return make_error(ErrorCode::kPermissionDenied,
                      name + ": not a regular file of uid " + std::to_string(::geteuid()));
  }
  const uint64_t limit = std::min(opts_.max_bytes, opts_.max_bytes_per_app);
  if (static_cast<uint64_t>(st.st_size) > limit) {
    ::close(fd);
    return make_error(ErrorCode::kOutOfRange, name + ": " + std::to_string(st.st_size) +
                                                  " bytes exceed the bound of " +
                                                  std::to_string(limit));
  }
  size = static_cast<uint64_t>(st.st_size);
  // Keeps the LRU order across restarts (scan() sorts by mtime).
  ::futimens(fd, nullptr);
  return fd;
}

Result<std::vector<uint8_t>> KvStore::load(const std::string& cache_key) {
  const std::string key = kv_store_key(cache_key);
  {
    std::lock_guard lock(mu_);
    if (auto it = pending_.find(key); it != pending_.end()) return *it->second;
  }
  uint64_t size = 0;
  GEMMAD_ASSIGN_OR_RETURN(int fd, open_checked(key, size));
  std::vector<uint8_t> bytes(size);
  const bool ok = read_all(fd, bytes.data(), bytes.size(), 0);
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kIo, "saved KV: short read of " + std::to_string(size));
  return bytes;
}

Result<KvFileHead> KvStore::load_head(const std::string& cache_key) {
  const std::string key = kv_store_key(cache_key);
  {
    std::lock_guard lock(mu_);
    if (auto it = pending_.find(key); it != pending_.end()) return decode_kv_head(*it->second);
  }
  uint64_t size = 0;
  GEMMAD_ASSIGN_OR_RETURN(int fd, open_checked(key, size));
  uint8_t fixed[24];
  std::vector<uint8_t> head;
  bool ok = size >= sizeof(fixed) && read_all(fd, fixed, sizeof(fixed), 0);
  if (ok) {
    uint32_t head_len = 0;
    std::memcpy(&head_len, fixed + 12, 4);
    ok = head_len >= sizeof(fixed) && head_len <= kKvFileMaxHead && head_len <= size;
    if (ok) {
      head.resize(head_len);
      ok = read_all(fd, head.data(), head.size(), 0);
    }
  }
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kInvalidArgument, "saved KV file: bad or short head");
  return decode_kv_head(head);
}

void KvStore::remove(const std::string& cache_key) {
  const std::string key = kv_store_key(cache_key);
  std::lock_guard lock(mu_);
  removed_.insert(key);
  pending_.erase(key);
  tasks_.push_back(Task{key, "", nullptr});
  cv_.notify_all();
}

void KvStore::reject(const std::string& cache_key, const std::string& why) {
  spdlog::warn("saved KV of a session rejected, re-prefilling: {}", why);
  const std::string key = kv_store_key(cache_key);
  std::lock_guard lock(mu_);
  ++stats_.rejected;
  if (pending_.count(key)) return;  // a newer save replaces it anyway
  tasks_.push_back(Task{key, "", nullptr});
  cv_.notify_all();
}

void KvStore::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return tasks_.empty() && !busy_; });
}

KvStoreStats KvStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void KvStore::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
    if (tasks_.empty()) {
      if (stop_) return;
      continue;
    }
    Task t = std::move(tasks_.front());
    tasks_.pop_front();
    if (!t.bytes) {
      unlink_locked(t.key);
    } else if (auto it = pending_.find(t.key); it != pending_.end() && it->second == t.bytes) {
      busy_ = true;
      lock.unlock();
      write_file(t);
      lock.lock();
      busy_ = false;
      // A newer save of the key may have replaced it meanwhile.
      if (auto p = pending_.find(t.key); p != pending_.end() && p->second == t.bytes) {
        pending_.erase(p);
      }
    }
    if (tasks_.empty()) idle_cv_.notify_all();
  }
}

void KvStore::unlink_locked(const std::string& key) {
  auto it = files_.find(key);
  if (it == files_.end()) return;
  ::unlinkat(dir_fd_, it->second.name.c_str(), 0);
  stats_.bytes -= it->second.bytes;
  files_.erase(it);
  stats_.files = files_.size();
}

// Runs on the writer thread without the lock; takes it to publish the file.
void KvStore::write_file(const Task& t) {
  const std::string name = t.app + "-" + t.key + kSuffix;
  const std::string tmp = name + ".tmp";
  ::unlinkat(dir_fd_, tmp.c_str(), 0);
  const int fd =
      ::openat(dir_fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    spdlog::warn("saved KV: {}/{}: {}", opts_.dir, tmp, errno_text());
    return;
  }
  const uint8_t* p = t.bytes->data();
  size_t n = t.bytes->size();
  bool ok = true;
  while (n > 0 && ok) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) {
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (ok) ok = ::renameat(dir_fd_, tmp.c_str(), dir_fd_, name.c_str()) == 0;
  if (ok) ::fsync(dir_fd_);
  if (!ok) {
    spdlog::warn("saved KV: writing {}/{}: {}", opts_.dir, name, errno_text());
    ::unlinkat(dir_fd_, tmp.c_str(), 0);
    return;
  }
  std::lock_guard lock(mu_);
  if (removed_.count(t.key)) {  // the session went while the file was written
    ::unlinkat(dir_fd_, name.c_str(), 0);
    return;
  }
  if (auto it = files_.find(t.key); it != files_.end()) {
    stats_.bytes -= it->second.bytes;
    if (it->second.name != name) ::unlinkat(dir_fd_, it->second.name.c_str(), 0);
  }
  files_[t.key] = Entry{name, t.app, t.bytes->size(), ++clock_};
  stats_.bytes += t.bytes->size();
  ++stats_.saved;
  stats_.files = files_.size();
  enforce_bounds_locked(t.key);
}

// Least recently used files go until both bounds hold; `keep` (just written) stays.
void KvStore::enforce_bounds_locked(const std::string& keep) {
  for (;;) {
    std::map<std::string, uint64_t> per_app;
    for (const auto& [k, e] : files_)
      per_app[e.app] += e.bytes;
    const std::string* victim = nullptr;
    uint64_t oldest = UINT64_MAX;
    for (const auto& [k, e] : files_) {
      if (k == keep) continue;
      const bool over = stats_.bytes > opts_.max_bytes || per_app[e.app] > opts_.max_bytes_per_app;
      if (over && e.last_used < oldest) {
        oldest = e.last_used;
        victim = &k;
      }
    }
    if (!victim) return;
    const std::string k = *victim;
    ++stats_.evicted;
    unlink_locked(k);
  }
}

}  // namespace gemmad::daemon
