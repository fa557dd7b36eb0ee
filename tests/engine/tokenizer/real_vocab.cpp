// Test helper: builds the real Gemma 4 vocabulary GGUF through the import code path, once per
// test executable build (ctest runs every test in its own process; importing the 33 MB JSON
// each time would dominate the sanitizer CI run).
#include "real_vocab.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tokenizer/vocab_import.h"

namespace gemmad::tokenizer::testing {
namespace {

namespace fs = std::filesystem;

// size and mtime (ns) of a file, or zeros.
std::pair<uint64_t, uint64_t> file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {static_cast<uint64_t>(st.st_size),
          static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
              static_cast<uint64_t>(st.st_mtim.tv_nsec)};
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

std::string tokenizer_json_path() {
  if (const char* env = std::getenv("GEMMAD_TOKENIZER_JSON"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::string(GEMMAD_SOURCE_DIR) + "/models/tokenizer.json";
}

std::string reference_jsonl_path() {
  // The same variable the CLI tests read (tests/cli/cli_support.py).
  if (const char* env = std::getenv("GEMMAD_TOKENIZER_REFERENCE"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::string(GEMMAD_TEST_DATA_DIR) + "/gemma4-tokenizer-reference.jsonl";
}

std::unique_ptr<Tokenizer> load_real_vocab(std::string* error, std::string* gguf_path) {
  const std::string json_path = tokenizer_json_path();
  if (!fs::exists(json_path)) {
    *error = json_path +
             " does not exist: run scripts/fetch-tokenizer.sh (or set GEMMAD_TOKENIZER_JSON)";
    return nullptr;
  }
  // The cached GGUF is keyed by this executable and the JSON file: rebuilding the test (e.g.
  // after a change to the importer) or replacing the JSON makes a new import.
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const auto [exe_size, exe_mtime] = file_stamp(exe.string());
  const auto [json_size, json_mtime] = file_stamp(json_path);
  uint64_t key = mix(mix(mix(mix(0, exe_size), exe_mtime), json_size), json_mtime);
  // Beside the executable (its build tree), else in the temp dir.
  fs::path dir = exe.empty() ? fs::temp_directory_path() : exe.parent_path() / "test-data";
  fs::create_directories(dir, ec);
  if (ec) {
    dir = fs::temp_directory_path();
    ec.clear();
  }
  const std::string prefix = exe.filename().string() + "-gemma4-vocab-";
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(key));
  const fs::path cached = dir / (prefix + hex + ".gguf");

  // One importer at a time per executable: processes that ctest starts together wait for
  // the first one's GGUF instead of each parsing the JSON (released when this returns).
  const std::string lock_path = (dir / (prefix + "lock")).string();
  const int lock_fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd >= 0) ::flock(lock_fd, LOCK_EX);
  struct Unlock {
    int fd;
    ~Unlock() {
      if (fd >= 0) ::close(fd);
    }
  } unlock{lock_fd};

  if (fs::exists(cached)) {
    auto tok = Tokenizer::load(cached.string());
    if (tok.ok()) {
      if (gguf_path != nullptr) *gguf_path = cached.string();
      return std::move(tok).value();
    }
  }
  auto data = import_hf_tokenizer_file(json_path);
  if (!data.ok()) {
    *error = "import failed: " + data.error().message;
    return nullptr;
  }
  // Write under a name of our own, then rename: concurrent test processes never see a
  // partial file.
  const fs::path mine = dir / (prefix + hex + ".gguf." + std::to_string(::getpid()));
  if (auto st = write_vocab_gguf(*data, mine.string()); !st.ok()) {
    *error = "writing the vocabulary GGUF failed: " + st.error().message;
    return nullptr;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {  // drop stale imports
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.ends_with(".gguf") && entry.path() != cached) {
      fs::remove(entry.path(), ec);
    }
  }
  fs::rename(mine, cached, ec);
  const fs::path& path = ec ? mine : cached;
  auto tok = Tokenizer::load(path.string());
  if (!tok.ok()) {
    *error = "loading the vocabulary GGUF failed: " + tok.error().message;
    return nullptr;
  }
  if (gguf_path != nullptr) *gguf_path = path.string();
  return std::move(tok).value();
}

}  // namespace gemmad::tokenizer::testing
