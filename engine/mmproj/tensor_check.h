// One tensor of an encoder file against its expected shape and type (docs/ENCODERS.md §5).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace gemmad::gguf {
class GgufFile;
struct TensorInfo;
}  // namespace gemmad::gguf

namespace gemmad::mmproj {

// Errors (kBadModelFile) name the tensor and say missing / shape {..} expected {..} / type.
// `f32_only`: must be F32 (norms, tables, bounds). Otherwise any computable type whose block
// divides the row. `optional`: absence is fine.
Status check_tensor(const gguf::GgufFile& f, std::string_view name, const std::vector<uint64_t>& ne,
                    bool f32_only, bool optional);

// The header-level check for a tensor whose shape the caller does not know (a.* tensors, which
// the audio encoder binds): a computable type, F32 for one-element bound scalars.
Status check_tensor_type(const gguf::TensorInfo& t);

std::string shape_string(const uint64_t* ne, uint32_t n_dims);

}  // namespace gemmad::mmproj
