// GGUF v3 reader: maps the file read-only and validates header, metadata and tensor infos in
// one linear pass (docs/GEMMA4.md §3.1). Every count is bounded by the bytes left
// before anything is allocated, so a hostile header cannot make us allocate or loop for long.
#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "gguf/gguf_values.h"

namespace gemmad::gguf {
namespace {

using detail::fixed_size;
using detail::kMaxValueType;
using detail::kStringLenBytes;
using detail::load;

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kMaxAlignment = 1u << 20;
constexpr uint32_t kMaxDims = 4;
// Smallest encodings, used to bound counts by the bytes left: a key/value is at least a key
// length, a type and a one-byte value; a tensor info is a name length, n_dims, one ne, a
// type and an offset.
constexpr uint64_t kMinKvBytes = kStringLenBytes + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = kStringLenBytes + 4 + 8 + 4 + 8;
// Absolute limits on top of the size bounds: a parsed entry takes ~10x its minimal encoding
// in memory, so a large hostile file of tiny entries could otherwise exhaust memory. Real
// files have ~50 keys and ~2,000 tensors at most.
constexpr uint64_t kMaxKvCount = uint64_t{1} << 20;
constexpr uint64_t kMaxTensorCount = uint64_t{1} << 20;
// Vectors are reserved up to this many entries; beyond it they grow as entries are parsed.
constexpr uint64_t kMaxReserve = 4096;

// Reads little-endian fields from [pos, size); every read is bounds-checked and a failure
// says what was being read, where, and how many bytes were missing.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return bytes_.size() - pos_; }
  const uint8_t* at(uint64_t off) const { return bytes_.data() + off; }

  Result<std::span<const uint8_t>> take(uint64_t n, std::string_view what) {
    if (n > left()) {
      return make_error(ErrorCode::kBadModelFile, "truncated at byte " + std::to_string(pos_) +
                                                      " reading " + std::string(what) + " (need " +
                                                      std::to_string(n) + " bytes, " +
                                                      std::to_string(left()) + " left)");
    }
    std::span<const uint8_t> s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  template <typename T>
  Result<T> read(std::string_view what) {
    GEMMAD_ASSIGN_OR_RETURN(auto s, take(sizeof(T), what));
    return load<T>(s.data());
  }
  // A GGUF string: u64 length, then that many bytes (not NUL-terminated).
  Result<std::string_view> read_string(std::string_view what) {
    GEMMAD_ASSIGN_OR_RETURN(uint64_t len, read<uint64_t>(what));
    if (len > left()) {
      return make_error(ErrorCode::kBadModelFile,
                        std::string(what) + ": string length " + std::to_string(len) + " at byte " +
                            std::to_string(pos_ - 8) + " runs past the end (" +
                            std::to_string(left()) + " bytes left)");
    }
    GEMMAD_ASSIGN_OR_RETURN(auto s, take(len, what));
    return std::string_view(reinterpret_cast<const char*>(s.data()), s.size());
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

Error bad(std::string message) {
  return make_error(ErrorCode::kBadModelFile, std::move(message));
}

std::string quoted(std::string_view s) {
  // Names from hostile files may be long or binary: show at most 80 bytes.
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  out.append(s.substr(0, kMaxShown));
  if (s.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

bool valid_value_type(uint32_t t) {
  return t <= kMaxValueType;
}

// Validates one value of type `t` (not an array) at the cursor and returns its raw bytes
// (for a string: the bytes without the length prefix).
Result<std::span<const uint8_t>> read_scalar(Cursor& c, ValueType t, const std::string& what) {
  if (t == ValueType::kString) {
    GEMMAD_ASSIGN_OR_RETURN(std::string_view s, c.read_string(what));
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  return c.take(fixed_size(t), what);
}

// Validates an array's elements and returns their raw bytes. Counts are checked against the
// bytes left first; string arrays are then walked once (length prefixes only, no copies).
Result<std::span<const uint8_t>> read_array(Cursor& c, ValueType et, uint64_t count,
                                            const std::string& what) {
  const uint64_t start = c.pos();
  const uint64_t min_elem = et == ValueType::kString ? kStringLenBytes : fixed_size(et);
  if (count > c.left() / min_elem) {
    return bad(what + ": array count " + std::to_string(count) + " of " +
               std::string(value_type_name(et)) + " exceeds what the " + std::to_string(c.left()) +
               " bytes left can hold");
  }
  if (et != ValueType::kString) return c.take(count * min_elem, what);
  // One tight pass over the length prefixes (262144 tokens and ~500k merges in a real
  // vocabulary): plain pointer arithmetic, no per-element Result or allocation.
  const uint8_t* p = c.at(start);
  uint64_t left = c.left();
  for (uint64_t i = 0; i < count; ++i) {
    if (left < kStringLenBytes) {
      return bad(what + ": truncated in element " + std::to_string(i) + " of " +
                 std::to_string(count) + " (string length needs 8 bytes, " + std::to_string(left) +
                 " left)");
    }
    const uint64_t len = load<uint64_t>(p);
    p += kStringLenBytes;
    left -= kStringLenBytes;
    if (len > left) {
      return bad(what + ": element " + std::to_string(i) + " has string length " +
                 std::to_string(len) + ", past the end of the file (" + std::to_string(left) +
                 " bytes left)");
    }
    p += len;
    left -= len;
  }
  GEMMAD_TRY(c.take(c.left() - left, what));
  return std::span<const uint8_t>(c.at(start), c.pos() - start);
}

}  // namespace

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kU8:
      return "u8";
    case ValueType::kI8:
      return "i8";
    case ValueType::kU16:
      return "u16";
    case ValueType::kI16:
      return "i16";
    case ValueType::kU32:
      return "u32";
    case ValueType::kI32:
      return "i32";
    case ValueType::kF32:
      return "f32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kU64:
      return "u64";
    case ValueType::kI64:
      return "i64";
    case ValueType::kF64:
      return "f64";
  }
  return "unknown";
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::kBadModelFile, path + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return make_error(ErrorCode::kBadModelFile, path + ": file is empty (no GGUF header)");
  }
  const auto size = static_cast<size_t>(st.st_size);
  // MAP_PRIVATE read-only and no MAP_POPULATE: pages are faulted in only when touched, so
  // resident memory is what the engine reads (docs/DESIGN.md, engine principles).
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (base == MAP_FAILED) {
    return make_error(ErrorCode::kIo, path + ": cannot mmap " + std::to_string(size) +
                                          " bytes: " + std::strerror(err));
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = path;
  f->map_base_ = base;
  f->map_len_ = size;
  f->bytes_ = std::span<const uint8_t>(static_cast<const uint8_t*>(base), size);
  GEMMAD_TRY(f->parse_all());
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::parse(std::span<const uint8_t> bytes,
                                                  std::string name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = std::move(name);
  f->bytes_ = bytes;
  GEMMAD_TRY(f->parse_all());
  return f;
}

GgufFile::~GgufFile() {
  if (map_base_ != nullptr) ::munmap(map_base_, map_len_);
}

Status GgufFile::parse_all() {
  Status s = [this]() -> Status {
    Cursor c(bytes_);
    // Header: magic, version, tensor_count, kv_count (docs/GEMMA4.md §3.1).
    GEMMAD_ASSIGN_OR_RETURN(uint32_t magic, c.read<uint32_t>("magic"));
    if (magic != kMagic) {
      char shown[5] = {};
      std::memcpy(shown, &magic, 4);
      for (char& ch : shown) {
        if (ch != 0 && (ch < 0x20 || ch > 0x7e)) ch = '?';
      }
      return bad("bad magic '" + std::string(shown, 4) + "' (expected 'GGUF'); not a GGUF file");
    }
    GEMMAD_ASSIGN_OR_RETURN(version_, c.read<uint32_t>("version"));
    if (version_ != kVersion) {
      return bad("GGUF version " + std::to_string(version_) + " is not supported (only " +
                 std::to_string(kVersion) + ")");
    }
    GEMMAD_ASSIGN_OR_RETURN(uint64_t tensor_count, c.read<uint64_t>("tensor_count"));
    GEMMAD_ASSIGN_OR_RETURN(uint64_t kv_count, c.read<uint64_t>("kv_count"));
    const std::string file_bytes = std::to_string(bytes_.size()) + "-byte file";
    if (kv_count > c.left() / kMinKvBytes) {
      return bad("kv_count " + std::to_string(kv_count) + " exceeds what a " + file_bytes +
                 " can hold");
    }
    if (tensor_count > (c.left() - kv_count * kMinKvBytes) / kMinTensorInfoBytes) {
      return bad("tensor_count " + std::to_string(tensor_count) + " exceeds what a " + file_bytes +
                 " can hold");
    }

    if (kv_count > kMaxKvCount) {
      return bad("kv_count " + std::to_string(kv_count) + " exceeds the limit " +
                 std::to_string(kMaxKvCount));
    }
    if (tensor_count > kMaxTensorCount) {
      return bad("tensor_count " + std::to_string(tensor_count) + " exceeds the limit " +
                 std::to_string(kMaxTensorCount));
    }

    // Key/value pairs.
    kvs_.reserve(std::min(kv_count, kMaxReserve));
    kv_index_.reserve(std::min(kv_count, kMaxReserve));
    for (uint64_t i = 0; i < kv_count; ++i) {
      const std::string kv_what = "key " + std::to_string(i);
      GEMMAD_ASSIGN_OR_RETURN(std::string_view key, c.read_string(kv_what + " name"));
      if (key.empty()) return bad(kv_what + " has an empty name");
      const std::string what = "key " + quoted(key);
      GEMMAD_ASSIGN_OR_RETURN(uint32_t raw_type, c.read<uint32_t>(what + " type"));
      if (!valid_value_type(raw_type)) {
        return bad(what + ": unknown value type " + std::to_string(raw_type) + " (max " +
                   std::to_string(kMaxValueType) + ")");
      }
      KeyValue kv;
      kv.type = static_cast<ValueType>(raw_type);
      if (kv.type == ValueType::kArray) {
        GEMMAD_ASSIGN_OR_RETURN(uint32_t raw_et, c.read<uint32_t>(what + " array type"));
        if (!valid_value_type(raw_et)) {
          return bad(what + ": unknown array element type " + std::to_string(raw_et));
        }
        kv.array_type = static_cast<ValueType>(raw_et);
        if (kv.array_type == ValueType::kArray) {
          return bad(what + ": nested arrays are not supported");
        }
        GEMMAD_ASSIGN_OR_RETURN(kv.array_count, c.read<uint64_t>(what + " array count"));
        GEMMAD_ASSIGN_OR_RETURN(kv.raw, read_array(c, kv.array_type, kv.array_count, what));
      } else {
        GEMMAD_ASSIGN_OR_RETURN(kv.raw, read_scalar(c, kv.type, what + " value"));
      }
      if (!kv_index_.emplace(key, kvs_.size()).second) {
        return bad(what + " appears twice");
      }
      kv.key = std::string(key);
      kvs_.push_back(std::move(kv));
    }

    // general.alignment: u32, a power of two, at most 1 MiB (default 32).
    if (const KeyValue* a = find("general.alignment")) {
      if (a->type != ValueType::kU32) {
        return bad("key 'general.alignment' has type " + std::string(value_type_name(a->type)) +
                   ", expected u32");
      }
      const uint32_t v = load<uint32_t>(a->raw.data());
      if (v == 0 || (v & (v - 1)) != 0 || v > kMaxAlignment) {
        return bad("key 'general.alignment' is " + std::to_string(v) +
                   "; expected a power of two no larger than " + std::to_string(kMaxAlignment));
      }
      alignment_ = v;
    }

    // Tensor infos.
    if (tensor_count > c.left() / kMinTensorInfoBytes) {
      return bad("tensor_count " + std::to_string(tensor_count) + " exceeds what the " +
                 std::to_string(c.left()) + " bytes after the metadata can hold");
    }
    tensors_.reserve(std::min(tensor_count, kMaxReserve));
    tensor_index_.reserve(std::min(tensor_count, kMaxReserve));
    for (uint64_t i = 0; i < tensor_count; ++i) {
      const std::string t_what = "tensor " + std::to_string(i);
      GEMMAD_ASSIGN_OR_RETURN(std::string_view name, c.read_string(t_what + " name"));
      if (name.empty()) return bad(t_what + " has an empty name");
      const std::string what = "tensor " + quoted(name);
      TensorInfo t;
      GEMMAD_ASSIGN_OR_RETURN(t.n_dims, c.read<uint32_t>(what + " n_dims"));
      if (t.n_dims < 1 || t.n_dims > kMaxDims) {
        return bad(what + ": n_dims " + std::to_string(t.n_dims) + " is outside [1, " +
                   std::to_string(kMaxDims) + "]");
      }
      uint64_t n_elements = 1;
      for (uint32_t d = 0; d < t.n_dims; ++d) {
        const std::string ne_what = what + " ne[" + std::to_string(d) + "]";
        GEMMAD_ASSIGN_OR_RETURN(t.ne[d], c.read<uint64_t>(ne_what));
        if (t.ne[d] == 0 || t.ne[d] > static_cast<uint64_t>(INT64_MAX)) {
          return bad(ne_what + " is " + std::to_string(t.ne[d]) + "; must be in [1, 2^63)");
        }
        if (n_elements > static_cast<uint64_t>(INT64_MAX) / t.ne[d]) {
          return bad(what + ": element count overflows at ne[" + std::to_string(d) +
                     "] = " + std::to_string(t.ne[d]));
        }
        n_elements *= t.ne[d];
      }
      t.n_elements = n_elements;
      GEMMAD_ASSIGN_OR_RETURN(uint32_t raw_type, c.read<uint32_t>(what + " type"));
      const std::optional<quant::TypeTraits> tt = quant::type_traits(raw_type);
      if (!tt) return bad(what + ": unknown ggml type id " + std::to_string(raw_type));
      t.type = tt->type;
      if (t.ne[0] % tt->block_elems != 0) {
        return bad(what + ": ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                   std::string(tt->name) + " block size " + std::to_string(tt->block_elems));
      }
      // n_bytes = rows * row bytes; n_elements fits in 2^63, so blocks do too, but the byte
      // count can still overflow (e.g. 36-byte blocks).
      const uint64_t blocks = n_elements / tt->block_elems;
      if (blocks > UINT64_MAX / tt->block_bytes) {
        return bad(what + ": byte size overflows 64 bits");
      }
      t.n_bytes = blocks * tt->block_bytes;
      GEMMAD_ASSIGN_OR_RETURN(t.offset, c.read<uint64_t>(what + " offset"));
      if (t.offset % alignment_ != 0) {
        return bad(what + ": offset " + std::to_string(t.offset) +
                   " is not a multiple of the alignment " + std::to_string(alignment_));
      }
      if (!tensor_index_.emplace(name, tensors_.size()).second) {
        return bad(what + " appears twice");
      }
      t.name = std::string(name);
      tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment.
    const uint64_t pos = c.pos();
    data_offset_ = (pos + alignment_ - 1) / alignment_ * alignment_;
    const uint64_t size = bytes_.size();
    // A file without tensors (a vocabulary) need not be padded: its data section is empty.
    if (tensors_.empty()) {
      data_offset_ = std::min(data_offset_, size);
      return Status();
    }
    if (data_offset_ > size) {
      return bad("data section starts at byte " + std::to_string(data_offset_) +
                 ", past the end of the " + file_bytes);
    }
    const uint64_t data_size = size - data_offset_;
    for (TensorInfo& t : tensors_) {
      if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
        return bad("tensor " + quoted(t.name) + ": data [" + std::to_string(t.offset) + ", " +
                   std::to_string(t.offset) + " + " + std::to_string(t.n_bytes) +
                   ") runs past the end of the data section (" + std::to_string(data_size) +
                   " bytes)");
      }
      t.data = bytes_.data() + data_offset_ + t.offset;
    }
    // No two tensors may share bytes: sort (offset, index) pairs and compare neighbours.
    std::vector<std::pair<uint64_t, size_t>> order;
    order.reserve(tensors_.size());
    for (size_t i = 0; i < tensors_.size(); ++i)
      order.emplace_back(tensors_[i].offset, i);
    std::sort(order.begin(), order.end());
    for (size_t k = 1; k < order.size(); ++k) {
      const TensorInfo& a = tensors_[order[k - 1].second];
      const TensorInfo& b = tensors_[order[k].second];
      if (a.offset + a.n_bytes > b.offset) {
        return bad("tensor " + quoted(a.name) + " [" + std::to_string(a.offset) + ", " +
                   std::to_string(a.offset + a.n_bytes) + ") overlaps tensor " + quoted(b.name) +
                   " at " + std::to_string(b.offset));
      }
    }
    return Status();
  }();
  if (!s.ok()) return std::move(s).error().with_context(name_);
  return Status();
}

const KeyValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace gemmad::gguf
