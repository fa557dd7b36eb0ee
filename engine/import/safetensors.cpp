// safetensors header parsing and validation, and the mmap'd file (safetensors.h).
#include "import/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace gemmad::import {
namespace {

using nlohmann::json;

struct DtypeInfo {
  StDtype type;
  std::string_view name;
  uint32_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {StDtype::kBool, "BOOL", 1}, {StDtype::kU8, "U8", 1},   {StDtype::kI8, "I8", 1},
    {StDtype::kI16, "I16", 2},   {StDtype::kU16, "U16", 2}, {StDtype::kF16, "F16", 2},
    {StDtype::kBF16, "BF16", 2}, {StDtype::kI32, "I32", 4}, {StDtype::kU32, "U32", 4},
    {StDtype::kF32, "F32", 4},   {StDtype::kF64, "F64", 8}, {StDtype::kI64, "I64", 8},
    {StDtype::kU64, "U64", 8},
};

Error bad(const std::string& file, const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, file + ": safetensors header: " + what);
}

}  // namespace

std::string_view st_dtype_name(StDtype t) {
  for (const DtypeInfo& d : kDtypes) {
    if (d.type == t) return d.name;
  }
  return "?";
}

uint32_t st_dtype_size(StDtype t) {
  for (const DtypeInfo& d : kDtypes) {
    if (d.type == t) return d.size;
  }
  return 0;
}

uint64_t StTensor::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape)
    n *= d;
  return n;
}

Result<std::vector<StTensor>> parse_safetensors_header(std::span<const uint8_t> head,
                                                       uint64_t file_size,
                                                       const std::string& file) {
  if (head.size() < 8 || file_size < 8) {
    return bad(file,
               "file of " + std::to_string(file_size) + " bytes is shorter than the 8-byte length");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | head[static_cast<size_t>(i)];
  if (n > kMaxHeaderBytes || n > file_size - 8 || n > head.size() - 8) {
    return bad(file, "header length " + std::to_string(n) + " exceeds the limit " +
                         std::to_string(std::min<uint64_t>(kMaxHeaderBytes, file_size - 8)));
  }
  const uint64_t data_size = file_size - 8 - n;
  const auto* text = reinterpret_cast<const char*>(head.data() + 8);
  json j = json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad(file, "is not valid JSON");
  if (!j.is_object()) return bad(file, "is not a JSON object");
  std::vector<StTensor> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) return bad(file, "'__metadata__' is not an object");
      for (const auto& [k, v] : it->items()) {
        if (!v.is_string()) return bad(file, "'__metadata__." + k + "' is not a string");
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!it->is_object()) return bad(file, where + " is not an object");
    const json& e = *it;
    StTensor t;
    t.name = name;
    auto dt = e.find("dtype");
    if (dt == e.end() || !dt->is_string())
      return bad(file, where + ": 'dtype' missing or not a string");
    const std::string dname = dt->get<std::string>();
    const DtypeInfo* info = nullptr;
    for (const DtypeInfo& d : kDtypes) {
      if (d.name == dname) info = &d;
    }
    if (info == nullptr) return bad(file, where + ": unknown dtype '" + dname + "'");
    t.dtype = info->type;
    auto sh = e.find("shape");
    if (sh == e.end() || !sh->is_array())
      return bad(file, where + ": 'shape' missing or not an array");
    if (sh->size() > kMaxDims) {
      return bad(file, where + ": shape has " + std::to_string(sh->size()) + " dimensions (max " +
                           std::to_string(kMaxDims) + ")");
    }
    uint64_t count = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned())
        return bad(file, where + ": shape holds a non-integer or negative value");
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && count > UINT64_MAX / v) return bad(file, where + ": element count overflows");
      count *= v;
      t.shape.push_back(v);
    }
    if (count > UINT64_MAX / info->size) return bad(file, where + ": byte count overflows");
    auto off = e.find("data_offsets");
    if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      return bad(file, where + ": 'data_offsets' must be two non-negative integers");
    }
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end || t.end > data_size) {
      return bad(file, where + ": data_offsets [" + std::to_string(t.begin) + ", " +
                           std::to_string(t.end) + "] outside the data section of " +
                           std::to_string(data_size) + " bytes");
    }
    if (t.end - t.begin != count * info->size) {
      return bad(file, where + ": holds " + std::to_string(t.end - t.begin) + " bytes; its " +
                           dname + " shape needs " + std::to_string(count * info->size));
    }
    out.push_back(std::move(t));
  }
  std::vector<const StTensor*> by_offset;
  for (const StTensor& t : out)
    by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const StTensor* a, const StTensor* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return bad(file, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                           "' overlap");
    }
  }
  return out;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, path + ": cannot stat: " + std::strerror(e));
  }
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > 0) {
    f->map_ = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map_ == MAP_FAILED) {
      f->map_ = nullptr;
      const int e = errno;
      ::close(fd);
      return make_error(ErrorCode::kIo, path + ": cannot mmap: " + std::strerror(e));
    }
    f->map_len_ = size;
  }
  ::close(fd);
  const std::span<const uint8_t> all(static_cast<const uint8_t*>(f->map_), f->map_len_);
  GEMMAD_ASSIGN_OR_RETURN(f->tensors_, parse_safetensors_header(all, size, path));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | all[static_cast<size_t>(i)];
  const uint64_t data = 8 + n;
  for (size_t i = 0; i < f->tensors_.size(); ++i) {
    StTensor& t = f->tensors_[i];
    t.bytes = all.subspan(data + t.begin, t.end - t.begin);
    f->index_.emplace(t.name, i);
  }
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) munmap(map_, map_len_);
}

const StTensor* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::release(const StTensor& t, uint64_t begin, uint64_t end) const {
  if (t.bytes.empty() || begin >= end || end > t.bytes.size()) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto b = reinterpret_cast<uintptr_t>(t.bytes.data());
  const uintptr_t lo = (b + begin + page - 1) / page * page;
  const uintptr_t hi = (b + end) / page * page;
  // Advice only: a failure changes nothing but memory pressure.
  if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

}  // namespace gemmad::import
