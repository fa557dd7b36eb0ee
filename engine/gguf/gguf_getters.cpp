// Typed metadata getters and value formatting of GgufFile (docs/GEMMA4.md §3.1:
// integer keys may be stored as any integer type; "scalar or array" keys).
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "gguf/gguf_file.h"
#include "gguf/gguf_values.h"

namespace gemmad::gguf {
namespace {

using detail::fixed_size;
using detail::is_integer;
using detail::load;
using detail::load_int;
using detail::WideInt;

std::string tname(ValueType t) {
  return std::string(value_type_name(t));
}

// The vector getters copy elements out (up to 8x the stored size for u8 -> int64), so they
// refuse arrays far larger than any real key (the largest, tokenizer.ggml.merges, has ~500k).
constexpr uint64_t kMaxGetterElems = uint64_t{1} << 24;

Status check_getter_size(const std::string& what, const KeyValue& kv) {
  if (kv.type == ValueType::kArray && kv.array_count > kMaxGetterElems) {
    return make_error(ErrorCode::kBadModelFile, what + " has " + std::to_string(kv.array_count) +
                                                    " elements, more than the limit " +
                                                    std::to_string(kMaxGetterElems));
  }
  return Status();
}

std::string type_desc(const KeyValue& kv) {
  if (kv.type == ValueType::kArray)
    return tname(kv.array_type) + "[" + std::to_string(kv.array_count) + "]";
  return tname(kv.type);
}

Result<int64_t> to_i64(const WideInt& w) {
  if (w.is_signed) return w.s;
  if (w.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return make_error(ErrorCode::kOutOfRange,
                      "value " + std::to_string(w.u) + " does not fit in a signed 64-bit integer");
  }
  return static_cast<int64_t>(w.u);
}

// Walks the first `limit` elements of a validated string array's raw bytes (u64 length then
// bytes, per element).
template <typename Fn>
void for_each_string(const KeyValue& kv, uint64_t limit, Fn&& fn) {
  const uint8_t* p = kv.raw.data();
  for (uint64_t i = 0; i < kv.array_count && i < limit; ++i) {
    const uint64_t len = load<uint64_t>(p);
    fn(std::string_view(reinterpret_cast<const char*>(p + 8), len));
    p += 8 + len;
  }
}

// Shortest text that reads back as the same value (1e-06, not 9.99999997e-07).
template <typename F>
std::string format_float(F v) {
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string format_string(std::string_view s, size_t max_chars) {
  std::string out = "\"";
  size_t shown = 0;
  for (char ch : s) {
    if (shown++ == max_chars) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// One fixed-size element (scalar) at p, as text.
std::string format_fixed(ValueType t, const uint8_t* p) {
  if (is_integer(t)) {
    const WideInt w = load_int(t, p);
    return w.is_signed ? std::to_string(w.s) : std::to_string(w.u);
  }
  switch (t) {
    case ValueType::kF32:
      return format_float(load<float>(p));
    case ValueType::kF64:
      return format_float(load<double>(p));
    case ValueType::kBool:
      return *p != 0 ? "true" : "false";
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kU16:
    case ValueType::kI16:
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kU64:
    case ValueType::kI64:
    case ValueType::kString:
    case ValueType::kArray:
      break;
  }
  return "?";
}

}  // namespace

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (!is_integer(kv->type)) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " has type " + type_desc(*kv) + ", expected an integer");
  }
  const WideInt w = load_int(kv->type, kv->raw.data());
  if (w.is_signed && w.s < 0) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " is " + std::to_string(w.s) + ", expected a non-negative integer");
  }
  return w.is_signed ? static_cast<uint64_t>(w.s) : w.u;
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (!is_integer(kv->type)) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " has type " + type_desc(*kv) + ", expected an integer");
  }
  Result<int64_t> v = to_i64(load_int(kv->type, kv->raw.data()));
  if (!v.ok()) return make_error(ErrorCode::kBadModelFile, what + ": " + v.error().message);
  return v;
}

Result<float> GgufFile::get_float(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (kv->type == ValueType::kF32) return load<float>(kv->raw.data());
  if (kv->type == ValueType::kF64) return static_cast<float>(load<double>(kv->raw.data()));
  return make_error(ErrorCode::kBadModelFile,
                    what + " has type " + type_desc(*kv) + ", expected f32 or f64");
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (kv->type != ValueType::kBool) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " has type " + type_desc(*kv) + ", expected bool");
  }
  return kv->raw[0] != 0;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (kv->type != ValueType::kString) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " has type " + type_desc(*kv) + ", expected string");
  }
  return std::string_view(reinterpret_cast<const char*>(kv->raw.data()), kv->raw.size());
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key,
                                                     bool allow_scalar) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (allow_scalar && is_integer(kv->type)) {
    GEMMAD_ASSIGN_OR_RETURN(int64_t v, get_int(key));
    return std::vector<int64_t>{v};
  }
  if (kv->type != ValueType::kArray || !is_integer(kv->array_type)) {
    return make_error(ErrorCode::kBadModelFile, what + " has type " + type_desc(*kv) +
                                                    ", expected an integer array" +
                                                    (allow_scalar ? " or an integer" : ""));
  }
  GEMMAD_TRY(check_getter_size(what, *kv));
  std::vector<int64_t> out;
  out.reserve(kv->array_count);
  const uint64_t size = fixed_size(kv->array_type);
  for (uint64_t i = 0; i < kv->array_count; ++i) {
    Result<int64_t> v = to_i64(load_int(kv->array_type, kv->raw.data() + i * size));
    if (!v.ok()) {
      return make_error(ErrorCode::kBadModelFile,
                        what + " element " + std::to_string(i) + ": " + v.error().message);
    }
    out.push_back(*v);
  }
  return out;
}

Result<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (kv->type != ValueType::kArray ||
      (kv->array_type != ValueType::kF32 && kv->array_type != ValueType::kF64)) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " has type " + type_desc(*kv) + ", expected an f32 or f64 array");
  }
  GEMMAD_TRY(check_getter_size(what, *kv));
  std::vector<float> out(kv->array_count);
  for (uint64_t i = 0; i < kv->array_count; ++i) {
    out[i] = kv->array_type == ValueType::kF32
                 ? load<float>(kv->raw.data() + 4 * i)
                 : static_cast<float>(load<double>(kv->raw.data() + 8 * i));
  }
  return out;
}

Result<std::vector<bool>> GgufFile::get_bool_array(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (kv->type != ValueType::kArray || kv->array_type != ValueType::kBool) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " has type " + type_desc(*kv) + ", expected a bool array");
  }
  GEMMAD_TRY(check_getter_size(what, *kv));
  std::vector<bool> out(kv->array_count);
  for (uint64_t i = 0; i < kv->array_count; ++i)
    out[i] = kv->raw[i] != 0;
  return out;
}

Result<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  const KeyValue* kv = find(key);
  const std::string what = name_ + ": key '" + std::string(key) + "'";
  if (kv == nullptr) return make_error(ErrorCode::kNotFound, what + " is absent");
  if (kv->type != ValueType::kArray || kv->array_type != ValueType::kString) {
    return make_error(ErrorCode::kBadModelFile,
                      what + " has type " + type_desc(*kv) + ", expected a string array");
  }
  GEMMAD_TRY(check_getter_size(what, *kv));
  std::vector<std::string_view> out;
  out.reserve(kv->array_count);
  for_each_string(*kv, kv->array_count, [&](std::string_view s) { out.push_back(s); });
  return out;
}

std::string format_value(const KeyValue& kv, size_t max_elems) {
  constexpr size_t kMaxChars = 120;  // per string shown
  if (kv.type == ValueType::kString) {
    return format_string(
        std::string_view(reinterpret_cast<const char*>(kv.raw.data()), kv.raw.size()), kMaxChars);
  }
  if (kv.type != ValueType::kArray) return format_fixed(kv.type, kv.raw.data());
  // Appended piece by piece: gcc 12 at -O3 reports a false -Wrestrict on "[" + std::string.
  std::string out = "[";
  out += tname(kv.array_type);
  out += "; ";
  out += std::to_string(kv.array_count);
  out += "]";
  const uint64_t shown = std::min<uint64_t>(kv.array_count, max_elems);
  if (shown == 0) return out;
  out += " ";
  if (kv.array_type == ValueType::kString) {
    uint64_t i = 0;
    for_each_string(kv, shown, [&](std::string_view s) {
      out += (i++ > 0 ? ", " : "") + format_string(s, kMaxChars);
    });
  } else {
    const uint64_t size = fixed_size(kv.array_type);
    for (uint64_t i = 0; i < shown; ++i) {
      out += (i > 0 ? ", " : "") + format_fixed(kv.array_type, kv.raw.data() + i * size);
    }
  }
  if (shown < kv.array_count) out += ", ...";
  return out;
}

}  // namespace gemmad::gguf
