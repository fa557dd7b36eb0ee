// Streaming GGUF v3 writer (docs/GEMMA4.md §3.1): header, metadata and tensor infos,
// then each tensor's bytes from its fill callback through one reusable buffer, each padded to
// the alignment; written to PATH.tmp, fsync'd and renamed so readers never see a partial file.
#include "gguf/gguf_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "gguf/gguf_values.h"

namespace gemmad::gguf {
namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxAlignment = 1u << 20;
constexpr uint32_t kMaxDims = 4;

template <typename T>
void append(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

void append_string(std::vector<uint8_t>& out, std::string_view s) {
  append<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

template <typename T>
std::vector<uint8_t> pod_array(std::span<const T> v) {
  std::vector<uint8_t> raw(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
  return raw;
}

uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

// Rows of a tensor (ne[1] * ne[2] * ...); call only after tensor_bytes() accepted ne.
uint64_t tensor_rows(const std::vector<uint64_t>& ne) {
  uint64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d)
    rows *= ne[d];
  return rows;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Bytes of a tensor of shape ne, or an error naming the tensor and the bad dimension.
Result<uint64_t> tensor_bytes(const std::string& name, quant::GgmlType type,
                              const std::vector<uint64_t>& ne) {
  const std::string what = "tensor '" + name + "'";
  if (ne.empty() || ne.size() > kMaxDims) {
    return make_error(ErrorCode::kInvalidArgument,
                      what + ": " + std::to_string(ne.size()) + " dimensions, expected 1..4");
  }
  uint64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] == 0) {
      return make_error(ErrorCode::kInvalidArgument, what + ": ne[" + std::to_string(d) + "] is 0");
    }
    if (d > 0) {
      if (rows > UINT64_MAX / ne[d]) {
        return make_error(ErrorCode::kInvalidArgument, what + ": row count overflows");
      }
      rows *= ne[d];
    }
  }
  Result<uint64_t> row = quant::row_bytes(type, ne[0]);
  if (!row.ok()) {
    return make_error(ErrorCode::kInvalidArgument, what + ": " + row.error().message);
  }
  if (*row != 0 && rows > UINT64_MAX / *row) {
    return make_error(ErrorCode::kInvalidArgument, what + ": byte size overflows");
  }
  return rows * *row;
}

}  // namespace

void GgufWriter::put(std::string_view key, ValueType type, ValueType array_type, uint64_t count,
                     std::vector<uint8_t> raw) {
  for (Entry& e : kvs_) {
    if (e.key == key) {
      e = Entry{std::string(key), type, array_type, count, std::move(raw)};
      return;
    }
  }
  kvs_.push_back(Entry{std::string(key), type, array_type, count, std::move(raw)});
}

void GgufWriter::set_u32(std::string_view key, uint32_t v) {
  std::vector<uint8_t> raw;
  append(raw, v);
  put(key, ValueType::kU32, ValueType::kU8, 0, std::move(raw));
}
void GgufWriter::set_i32(std::string_view key, int32_t v) {
  std::vector<uint8_t> raw;
  append(raw, v);
  put(key, ValueType::kI32, ValueType::kU8, 0, std::move(raw));
}
void GgufWriter::set_u64(std::string_view key, uint64_t v) {
  std::vector<uint8_t> raw;
  append(raw, v);
  put(key, ValueType::kU64, ValueType::kU8, 0, std::move(raw));
}
void GgufWriter::set_f32(std::string_view key, float v) {
  std::vector<uint8_t> raw;
  append(raw, v);
  put(key, ValueType::kF32, ValueType::kU8, 0, std::move(raw));
}
void GgufWriter::set_bool(std::string_view key, bool v) {
  put(key, ValueType::kBool, ValueType::kU8, 0, {static_cast<uint8_t>(v ? 1 : 0)});
}
void GgufWriter::set_string(std::string_view key, std::string_view v) {
  std::vector<uint8_t> raw;
  append_string(raw, v);
  put(key, ValueType::kString, ValueType::kU8, 0, std::move(raw));
}
void GgufWriter::set_i32_array(std::string_view key, std::span<const int32_t> v) {
  put(key, ValueType::kArray, ValueType::kI32, v.size(), pod_array(v));
}
void GgufWriter::set_u32_array(std::string_view key, std::span<const uint32_t> v) {
  put(key, ValueType::kArray, ValueType::kU32, v.size(), pod_array(v));
}
void GgufWriter::set_f32_array(std::string_view key, std::span<const float> v) {
  put(key, ValueType::kArray, ValueType::kF32, v.size(), pod_array(v));
}
void GgufWriter::set_bool_array(std::string_view key, std::span<const bool> v) {
  std::vector<uint8_t> raw;
  raw.reserve(v.size());
  for (bool b : v)
    raw.push_back(b ? 1 : 0);
  put(key, ValueType::kArray, ValueType::kBool, v.size(), std::move(raw));
}
void GgufWriter::set_string_array(std::string_view key, std::span<const std::string> v) {
  std::vector<uint8_t> raw;
  size_t total = 0;
  for (const std::string& s : v)
    total += 8 + s.size();
  raw.reserve(total);
  for (const std::string& s : v)
    append_string(raw, s);
  put(key, ValueType::kArray, ValueType::kString, v.size(), std::move(raw));
}

void GgufWriter::copy_kv(const KeyValue& kv) {
  if (kv.type == ValueType::kString) {
    // The reader's raw string excludes the u64 length; the file encoding includes it.
    std::vector<uint8_t> raw;
    append_string(raw,
                  std::string_view(reinterpret_cast<const char*>(kv.raw.data()), kv.raw.size()));
    put(kv.key, kv.type, ValueType::kU8, 0, std::move(raw));
    return;
  }
  put(kv.key, kv.type, kv.array_type, kv.array_count,
      std::vector<uint8_t>(kv.raw.begin(), kv.raw.end()));
}

void GgufWriter::add_tensor(std::string name, quant::GgmlType type, std::vector<uint64_t> ne,
                            FillFn fill) {
  // The shape is validated by write(), which can report an error.
  tensors_.push_back(Tensor{std::move(name), type, std::move(ne), 0, std::move(fill), nullptr});
}

void GgufWriter::add_tensor_rows(std::string name, quant::GgmlType type, std::vector<uint64_t> ne,
                                 RowFillFn fill) {
  tensors_.push_back(Tensor{std::move(name), type, std::move(ne), 0, nullptr, std::move(fill)});
}

Status GgufWriter::write(const std::string& path,
                         const std::function<void(uint64_t, uint64_t)>& progress) const {
  const uint64_t align = alignment_;
  if (align == 0 || (align & (align - 1)) != 0 || align > kMaxAlignment) {
    return make_error(ErrorCode::kInvalidArgument, "GGUF alignment " + std::to_string(align) +
                                                       " is not a power of two in [1, " +
                                                       std::to_string(kMaxAlignment) + "]");
  }
  // general.alignment must agree with the layout we write; add it when not the default.
  bool has_alignment_key = false;
  for (const Entry& e : kvs_) {
    if (e.key != "general.alignment") continue;
    has_alignment_key = true;
    if (e.type != ValueType::kU32 || detail::load<uint32_t>(e.raw.data()) != align) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "key 'general.alignment' disagrees with the writer's alignment " + std::to_string(align));
    }
  }
  const bool add_alignment_key = !has_alignment_key && align != kDefaultAlignment;

  // Sizes and offsets of every tensor, before any byte is written.
  std::vector<uint64_t> sizes(tensors_.size());
  std::vector<uint64_t> offsets(tensors_.size());
  std::unordered_set<std::string_view> names;
  uint64_t data_size = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    if (!names.insert(t.name).second) {
      return make_error(ErrorCode::kInvalidArgument, "tensor '" + t.name + "' added twice");
    }
    GEMMAD_ASSIGN_OR_RETURN(sizes[i], tensor_bytes(t.name, t.type, t.ne));
    offsets[i] = data_size;
    data_size = align_up(data_size + sizes[i], align);
  }

  std::vector<uint8_t> head;
  append<uint32_t>(head, 0x46554747);  // "GGUF"
  append<uint32_t>(head, 3);
  append<uint64_t>(head, tensors_.size());
  append<uint64_t>(head, kvs_.size() + (add_alignment_key ? 1 : 0));
  auto append_kv = [&head](const Entry& e) {
    append_string(head, e.key);
    append<uint32_t>(head, static_cast<uint32_t>(e.type));
    if (e.type == ValueType::kArray) {
      append<uint32_t>(head, static_cast<uint32_t>(e.array_type));
      append<uint64_t>(head, e.array_count);
    }
    head.insert(head.end(), e.raw.begin(), e.raw.end());
  };
  if (add_alignment_key) {
    std::vector<uint8_t> raw;
    append<uint32_t>(raw, static_cast<uint32_t>(align));
    append_kv(Entry{"general.alignment", ValueType::kU32, ValueType::kU8, 0, std::move(raw)});
  }
  for (const Entry& e : kvs_)
    append_kv(e);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    append_string(head, t.name);
    append<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t n : t.ne)
      append<uint64_t>(head, n);
    append<uint32_t>(head, static_cast<uint32_t>(t.type));
    append<uint64_t>(head, offsets[i]);
  }
  if (!tensors_.empty()) head.resize(align_up(head.size(), align), 0);

  const std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) {
    return make_error(ErrorCode::kIo, tmp + ": cannot create: " + std::strerror(errno));
  }
  auto fail = [&](const std::string& doing) -> Status {
    Error e = make_error(ErrorCode::kIo, tmp + ": " + doing + ": " + std::strerror(errno));
    f.reset();
    std::remove(tmp.c_str());
    return e;
  };
  if (std::fwrite(head.data(), 1, head.size(), f.get()) != head.size()) return fail("write");

  std::vector<uint8_t> buf;  // reused: memory is one chunk, or the largest whole-filled tensor
  uint64_t done = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    const uint64_t n_rows = tensor_rows(t.ne);
    const uint64_t row_bytes = sizes[i] / n_rows;
    // Rows per chunk: the whole tensor for a whole-tensor fill, else as many rows as fit.
    const uint64_t chunk_rows =
        t.row_fill ? std::max<uint64_t>(1, kChunkBytes / row_bytes) : n_rows;
    for (uint64_t r = 0; r < n_rows; r += chunk_rows) {
      const uint64_t r_end = std::min(n_rows, r + chunk_rows);
      const uint64_t n = (r_end - r) * row_bytes;
      buf.assign(n, 0);
      if (t.row_fill) {
        t.row_fill(r, r_end, std::span<uint8_t>(buf.data(), n));
      } else if (t.fill) {
        t.fill(std::span<uint8_t>(buf.data(), n));
      }
      if (std::fwrite(buf.data(), 1, n, f.get()) != n) {
        return fail("write tensor '" + t.name + "'");
      }
    }
    // Every tensor (the last too) is padded, so each one's data ends on an aligned boundary.
    const uint64_t pad = align_up(sizes[i], align) - sizes[i];
    if (pad > 0) {
      buf.assign(pad, 0);
      if (std::fwrite(buf.data(), 1, pad, f.get()) != pad) {
        return fail("write tensor '" + t.name + "'");
      }
    }
    done += sizes[i] + pad;
    if (progress) progress(done, data_size);
  }
  if (std::fflush(f.get()) != 0) return fail("flush");
  if (::fsync(fileno(f.get())) != 0) return fail("fsync");
  if (std::fclose(f.release()) != 0) {
    std::remove(tmp.c_str());
    return make_error(ErrorCode::kIo, tmp + ": close: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    return make_error(ErrorCode::kIo,
                      "cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
  return Status();
}

}  // namespace gemmad::gguf
