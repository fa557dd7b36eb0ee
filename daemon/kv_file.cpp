// The saved-KV file format; see kv_file.h. Integers little-endian.
#include "daemon/kv_file.h"

#include <sys/stat.h>

#include <cstring>

#include "daemon/kv_checksum.h"
#include "daemon/model_registry.h"
#include "runtime/kv_snapshot.h"

namespace gemmad::daemon {
namespace {

constexpr char kMagic[8] = {'G', 'M', 'D', 'K', 'V', 'S', 'A', 'V'};
// magic, u32 version, u32 head_len, u64 total_len
constexpr size_t kFixed = 8 + 4 + 4 + 8;

template <typename T>
void put(std::vector<uint8_t>& out, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
void put_str(std::vector<uint8_t>& out, const std::string& s) {
  put(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}
void put_ids(std::vector<uint8_t>& out, const std::vector<int32_t>& ids) {
  put(out, static_cast<uint32_t>(ids.size()));
  const auto* p = reinterpret_cast<const uint8_t*>(ids.data());
  out.insert(out.end(), p, p + ids.size() * sizeof(int32_t));
}
template <typename T>
void patch(std::vector<uint8_t>& out, size_t at, const T& v) {
  std::memcpy(out.data() + at, &v, sizeof(T));
}

Error bad(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "saved KV file: " + what);
}

// Bounds-checked reads over [at, end).
class Reader {
 public:
  Reader(std::span<const uint8_t> b, size_t at, size_t end) : b_(b), at_(at), end_(end) {}
  template <typename T>
  Status get(T& v, const char* field) {
    if (end_ - at_ < sizeof(T)) return bad(std::string(field) + " past the end of the head");
    std::memcpy(&v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return {};
  }
  Status str(std::string& s, const char* field) {
    uint32_t n = 0;
    GEMMAD_TRY(get(n, field));
    if (n > kKvFileMaxString) {
      return bad(std::string(field) + " of " + std::to_string(n) + " bytes exceeds " +
                 std::to_string(kKvFileMaxString));
    }
    if (end_ - at_ < n) return bad(std::string(field) + " past the end of the head");
    s.assign(reinterpret_cast<const char*>(b_.data() + at_), n);
    at_ += n;
    return {};
  }
  Status ids(std::vector<int32_t>& v, const char* field) {
    uint32_t n = 0;
    GEMMAD_TRY(get(n, field));
    if ((end_ - at_) / sizeof(int32_t) < n) {
      return bad(std::string(field) + ": " + std::to_string(n) + " ids do not fit the head");
    }
    v.resize(n);
    if (n > 0) std::memcpy(v.data(), b_.data() + at_, size_t{n} * sizeof(int32_t));
    at_ += size_t{n} * sizeof(int32_t);
    return {};
  }
  size_t at() const { return at_; }

 private:
  std::span<const uint8_t> b_;
  size_t at_, end_;
};

struct Fixed {
  uint32_t head_len = 0;
  uint64_t total_len = 0;
};

Result<Fixed> read_fixed(std::span<const uint8_t> bytes) {
  if (bytes.size() < kFixed + 8) {
    return bad(std::to_string(bytes.size()) + " bytes, shorter than the fixed head");
  }
  if (std::memcmp(bytes.data(), kMagic, 8) != 0) return bad("bad magic (not a saved KV file)");
  uint32_t version = 0;
  Fixed f;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&f.head_len, bytes.data() + 12, 4);
  std::memcpy(&f.total_len, bytes.data() + 16, 8);
  if (version != kKvFileVersion) {
    return bad("version " + std::to_string(version) + ", this gemmad reads " +
               std::to_string(kKvFileVersion));
  }
  if (f.head_len < kFixed + 8 || f.head_len > kKvFileMaxHead || f.head_len > bytes.size()) {
    return bad("head_len " + std::to_string(f.head_len) + " outside [" +
               std::to_string(kFixed + 8) + ", min(" + std::to_string(kKvFileMaxHead) + ", " +
               std::to_string(bytes.size()) + ")]");
  }
  return f;
}

}  // namespace

Result<ModelIdentity> model_identity(const LoadedModel& model) {
  ModelIdentity id;
  id.path = model.path;
  struct stat st {};
  if (::stat(model.path.c_str(), &st) != 0) {
    return make_error(ErrorCode::kIo, model.path + ": stat: " + std::strerror(errno));
  }
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  // The header and tensor table are the mapping's first data_offset bytes; the first tensor's
  // data pointer locates the mapping (its offset is relative to the data section).
  const gguf::GgufFile& f = model.model->file();
  if (!f.tensors().empty()) {
    const gguf::TensorInfo& t = f.tensors().front();
    const uint8_t* base = t.data - t.offset - f.data_offset();
    id.header_hash = kv_checksum(std::span(base, f.data_offset()));
  }
  return id;
}

std::vector<uint8_t> encode_kv_file(const KvFileHead& h, const runtime::SequenceKv& seq) {
  std::vector<uint8_t> out;
  out.reserve(kFixed + 256 + (h.tokens.size() + h.tail.size()) * 4 +
              runtime::kv_snapshot_bytes(seq) + 16);
  out.insert(out.end(), kMagic, kMagic + 8);
  put(out, kKvFileVersion);
  put(out, uint32_t{0});  // head_len, patched
  put(out, uint64_t{0});  // total_len, patched
  put(out, h.model.size);
  put(out, h.model.mtime_ns);
  put(out, h.model.header_hash);
  put_str(out, h.model.path);
  put_str(out, h.kv_type);
  put_str(out, h.cache_key);
  put_str(out, h.fair_key);
  put_str(out, h.tag);
  put_ids(out, h.tokens);
  put_ids(out, h.tail);
  patch(out, 12, static_cast<uint32_t>(out.size() + 8));
  put(out, kv_checksum(std::span(out.data(), out.size())));
  runtime::kv_snapshot_append(seq, out);
  patch(out, 16, static_cast<uint64_t>(out.size() + 8));
  // The head's checksum covered total_len as 0; the whole-file one covers the patched value.
  put(out, kv_checksum(std::span(out.data(), out.size())));
  return out;
}

Result<KvFileHead> decode_kv_head(std::span<const uint8_t> bytes) {
  GEMMAD_ASSIGN_OR_RETURN(Fixed f, read_fixed(bytes));
  // The head checksum was computed with total_len 0.
  std::vector<uint8_t> head(bytes.begin(), bytes.begin() + f.head_len - 8);
  std::memset(head.data() + 16, 0, 8);
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + f.head_len - 8, 8);
  if (kv_checksum(head) != sum) return bad("head checksum mismatch (corrupted)");
  KvFileHead h;
  Reader r(bytes, kFixed, f.head_len - 8);
  GEMMAD_TRY(r.get(h.model.size, "model size"));
  GEMMAD_TRY(r.get(h.model.mtime_ns, "model mtime"));
  GEMMAD_TRY(r.get(h.model.header_hash, "model header hash"));
  GEMMAD_TRY(r.str(h.model.path, "model path"));
  GEMMAD_TRY(r.str(h.kv_type, "kv_type"));
  GEMMAD_TRY(r.str(h.cache_key, "cache_key"));
  GEMMAD_TRY(r.str(h.fair_key, "fair_key"));
  GEMMAD_TRY(r.str(h.tag, "tag"));
  GEMMAD_TRY(r.ids(h.tokens, "tokens"));
  GEMMAD_TRY(r.ids(h.tail, "tail"));
  if (r.at() != f.head_len - 8) {
    return bad(std::to_string(f.head_len - 8 - r.at()) + " stray bytes at the end of the head");
  }
  return h;
}

Result<KvFileView> decode_kv_file(std::span<const uint8_t> bytes) {
  GEMMAD_ASSIGN_OR_RETURN(Fixed f, read_fixed(bytes));
  if (f.total_len != bytes.size()) {
    return bad("total_len " + std::to_string(f.total_len) + " but the file has " +
               std::to_string(bytes.size()) + " bytes (truncated?)");
  }
  if (f.total_len < uint64_t{f.head_len} + 8) {
    return bad("total_len " + std::to_string(f.total_len) + " shorter than the head");
  }
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (kv_checksum(bytes.first(bytes.size() - 8)) != sum) {
    return bad("checksum mismatch (corrupted)");
  }
  KvFileView v;
  GEMMAD_ASSIGN_OR_RETURN(v.head, decode_kv_head(bytes));
  v.snapshot = bytes.subspan(f.head_len, bytes.size() - 8 - f.head_len);
  return v;
}

}  // namespace gemmad::daemon
