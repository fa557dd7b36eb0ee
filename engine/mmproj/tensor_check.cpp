// Shape/type checks of encoder tensors (docs/ENCODERS.md §5.4).
#include "mmproj/tensor_check.h"

#include <string>

#include "gguf/gguf_file.h"
#include "quant/ggml_type.h"

namespace gemmad::mmproj {

std::string shape_string(const uint64_t* ne, uint32_t n_dims) {
  std::string s = "{";
  for (uint32_t i = 0; i < n_dims; ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "}";
}

Status check_tensor_type(const gguf::TensorInfo& t) {
  const quant::TypeTraits& tr = quant::traits(t.type);
  if (!tr.computable) {
    return make_error(ErrorCode::kBadModelFile, "tensor '" + t.name + "' has type " +
                                                    std::string(tr.name) +
                                                    ", which the encoders cannot compute with");
  }
  if (t.n_elements == 1 && t.type != quant::GgmlType::kF32) {
    return make_error(ErrorCode::kBadModelFile, "tensor '" + t.name + "' is a scalar of type " +
                                                    std::string(tr.name) + "; expected f32");
  }
  return {};
}

Status check_tensor(const gguf::GgufFile& f, std::string_view name, const std::vector<uint64_t>& ne,
                    bool f32_only, bool optional) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  if (t == nullptr) {
    if (optional) return {};
    return make_error(ErrorCode::kBadModelFile, "tensor '" + std::string(name) + "' is missing");
  }
  // Trailing 1s are not stored (a {1} scalar may be written with one dimension or none).
  bool same = true;
  for (uint32_t i = 0; i < 4; ++i) {
    const uint64_t want = i < ne.size() ? ne[i] : 1;
    same = same && t->ne[i] == want;
  }
  if (!same) {
    return make_error(ErrorCode::kBadModelFile,
                      "tensor '" + t->name + "' has shape " + shape_string(t->ne, t->n_dims) +
                          "; expected " +
                          shape_string(ne.data(), static_cast<uint32_t>(ne.size())));
  }
  if (f32_only && t->type != quant::GgmlType::kF32) {
    return make_error(ErrorCode::kBadModelFile, "tensor '" + t->name + "' has type " +
                                                    std::string(quant::traits(t->type).name) +
                                                    "; expected f32");
  }
  return check_tensor_type(*t);
}

}  // namespace gemmad::mmproj
