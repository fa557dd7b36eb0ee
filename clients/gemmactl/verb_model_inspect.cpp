// `gemmactl model inspect FILE [--json] [--tensors]`: header, metadata, tensors by type and
// bytes, vocabulary size of a GGUF file (docs/DESIGN.md command-line contract; docs/GEMMA4.md
// §3.1). Works on vocabulary-only files. Reads only the header pages of the mapping, so it takes
// milliseconds on multi-GB models.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cli.h"
#include "gguf/gguf_file.h"

namespace gemmad::ctl {
namespace {

using gguf::GgufFile;
using gguf::KeyValue;
using gguf::TensorInfo;
using gguf::ValueType;

struct InspectArgs {
  std::string path;
  bool list_tensors = false;
};

// Arrays up to this many elements have their values in --json (tokens, merges and scores of
// a real vocabulary are summarised by type and count only).
constexpr uint64_t kMaxJsonArrayValues = 64;

// vocab_size: tokenizer.ggml.tokens if present, else the rows of token_embd, else none.
std::optional<uint64_t> vocab_size(const GgufFile& f) {
  if (const KeyValue* kv = f.find("tokenizer.ggml.tokens")) {
    if (kv->type == ValueType::kArray) return kv->array_count;
  }
  if (const TensorInfo* t = f.find_tensor("token_embd.weight")) {
    if (t->n_dims >= 2) return t->ne[1];
  }
  return std::nullopt;
}

std::optional<std::string> architecture(const GgufFile& f) {
  Result<std::string_view> a = f.get_string("general.architecture");
  if (!a.ok()) return std::nullopt;
  return std::string(*a);
}

// A scalar value (or one array element stored like a scalar) as JSON.
nlohmann::json scalar_json(const GgufFile& f, const KeyValue& kv) {
  switch (kv.type) {
    case ValueType::kU8:
    case ValueType::kU16:
    case ValueType::kU32:
    case ValueType::kU64:
      return *f.get_uint(kv.key);
    case ValueType::kI8:
    case ValueType::kI16:
    case ValueType::kI32:
    case ValueType::kI64:
      return *f.get_int(kv.key);
    case ValueType::kF32:
    case ValueType::kF64:
      return *f.get_float(kv.key);
    case ValueType::kBool:
      return *f.get_bool(kv.key);
    case ValueType::kString:
      return std::string(*f.get_string(kv.key));
    case ValueType::kArray:
      break;
  }
  return nullptr;
}

nlohmann::json array_values_json(const GgufFile& f, const KeyValue& kv) {
  switch (kv.array_type) {
    case ValueType::kU8:
    case ValueType::kU16:
    case ValueType::kU32:
    case ValueType::kI8:
    case ValueType::kI16:
    case ValueType::kI32:
    case ValueType::kI64:
    case ValueType::kU64: {
      // u64 elements above 2^63 have no int64 reading: show them as formatted text.
      Result<std::vector<int64_t>> v = f.get_int_array(kv.key);
      if (v.ok()) return *v;
      return gguf::format_value(kv, kMaxJsonArrayValues);
    }
    case ValueType::kF32:
    case ValueType::kF64:
      return *f.get_float_array(kv.key);
    case ValueType::kBool:
      return *f.get_bool_array(kv.key);
    case ValueType::kString: {
      Result<std::vector<std::string_view>> v = f.get_string_array(kv.key);
      nlohmann::json out = nlohmann::json::array();
      if (!v.ok()) return out;
      for (const std::string_view& s : v.value())
        out.push_back(std::string(s));
      return out;
    }
    case ValueType::kArray:
      break;
  }
  return nullptr;
}

nlohmann::json metadata_json(const GgufFile& f) {
  nlohmann::json out = nlohmann::json::object();
  for (const KeyValue& kv : f.metadata()) {
    if (kv.type != ValueType::kArray) {
      out[kv.key] = scalar_json(f, kv);
      continue;
    }
    nlohmann::json a = {{"type", std::string(gguf::value_type_name(kv.array_type))},
                        {"count", kv.array_count}};
    if (kv.array_count <= kMaxJsonArrayValues) a["values"] = array_values_json(f, kv);
    out[kv.key] = std::move(a);
  }
  return out;
}

struct TypeTotals {
  uint64_t count = 0;
  uint64_t bytes = 0;
};

std::map<std::string, TypeTotals> totals_by_type(const GgufFile& f) {
  std::map<std::string, TypeTotals> out;
  for (const TensorInfo& t : f.tensors()) {
    TypeTotals& tt = out[std::string(quant::traits(t.type).name)];
    ++tt.count;
    tt.bytes += t.n_bytes;
  }
  return out;
}

std::string shape_text(const TensorInfo& t) {
  std::string s = "{";
  for (uint32_t d = 0; d < t.n_dims; ++d)
    s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "}";
}

void print_json_report(const GgufFile& f) {
  nlohmann::json tensors = nlohmann::json::array();
  uint64_t tensor_bytes = 0;
  for (const TensorInfo& t : f.tensors()) {
    nlohmann::json shape = nlohmann::json::array();
    for (uint32_t d = 0; d < t.n_dims; ++d)
      shape.push_back(t.ne[d]);
    tensors.push_back({{"name", t.name},
                       {"type", std::string(quant::traits(t.type).name)},
                       {"shape", std::move(shape)},
                       {"offset", t.offset},
                       {"bytes", t.n_bytes}});
    tensor_bytes += t.n_bytes;
  }
  nlohmann::json by_type = nlohmann::json::object();
  for (const auto& [name, tt] : totals_by_type(f))
    by_type[name] = tt.bytes;
  const std::optional<std::string> arch = architecture(f);
  const std::optional<uint64_t> vocab = vocab_size(f);
  print_json({{"path", f.path()},
              {"architecture", arch ? nlohmann::json(*arch) : nlohmann::json(nullptr)},
              {"version", f.version()},
              {"alignment", f.alignment()},
              {"data_offset", f.data_offset()},
              {"file_size", f.file_size()},
              {"tensor_count", f.tensors().size()},
              {"tensor_bytes", tensor_bytes},
              {"bytes_by_type", std::move(by_type)},
              {"vocab_size", vocab ? nlohmann::json(*vocab) : nlohmann::json(nullptr)},
              {"metadata", metadata_json(f)},
              {"tensors", std::move(tensors)}});
}

void print_text_report(const GgufFile& f, bool list_tensors) {
  const std::optional<std::string> arch = architecture(f);
  const std::optional<uint64_t> vocab = vocab_size(f);
  std::printf("file:          %s (%" PRIu64 " bytes, %.2f GB)\n", f.path().c_str(), f.file_size(),
              static_cast<double>(f.file_size()) / 1e9);
  std::printf("architecture:  %s\n", arch ? arch->c_str() : "(none)");
  std::printf("GGUF version:  %u, alignment %" PRIu64 ", data at byte %" PRIu64 "\n", f.version(),
              f.alignment(), f.data_offset());
  std::printf("tensors:       %zu\n", f.tensors().size());
  if (vocab) {
    std::printf("vocab size:    %" PRIu64 "\n", *vocab);
  } else {
    std::printf("vocab size:    (unknown)\n");
  }
  std::printf("\nmetadata (%zu keys):\n", f.metadata().size());
  for (const KeyValue& kv : f.metadata()) {
    std::printf("  %-48s %s\n", kv.key.c_str(), gguf::format_value(kv).c_str());
  }
  if (f.tensors().empty()) return;
  std::printf("\ntensors by type:\n");
  uint64_t total = 0;
  for (const auto& [name, tt] : totals_by_type(f)) {
    std::printf("  %-6s %6" PRIu64 " tensors %16" PRIu64 " bytes (%.3f GB)\n", name.c_str(),
                tt.count, tt.bytes, static_cast<double>(tt.bytes) / 1e9);
    total += tt.bytes;
  }
  std::printf("  %-6s %6zu tensors %16" PRIu64 " bytes (%.3f GB)\n", "total", f.tensors().size(),
              total, static_cast<double>(total) / 1e9);
  if (!list_tensors) return;
  std::printf("\ntensors:\n");
  for (const TensorInfo& t : f.tensors()) {
    std::printf("  %-40s %-5s %-20s offset %" PRIu64 "\n", t.name.c_str(),
                std::string(quant::traits(t.type).name).c_str(), shape_text(t).c_str(), t.offset);
  }
}

int run_inspect(const InspectArgs& a, const Globals& g) {
  Result<std::unique_ptr<GgufFile>> f = GgufFile::open(a.path);
  if (!f.ok()) return report_model_error(g, f.error());
  if (g.json) {
    print_json_report(**f);
  } else {
    print_text_report(**f, a.list_tensors);
  }
  return kExitOk;
}

void add_model_inspect_verb(VerbContext& ctx) {
  CLI::App* model = group(ctx.root, "model", "inspect, synthesise and import model files");
  CLI::App* sub = model->add_subcommand(
      "inspect", "header, metadata, tensors by type and bytes, and vocabulary size of a GGUF file");
  auto args = std::make_shared<InspectArgs>();
  sub->add_option("FILE", args->path, "GGUF file")->required();
  sub->add_flag("--json", ctx.globals.json, "print one JSON document");
  sub->add_flag("--tensors", args->list_tensors, "also list every tensor (text output)");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_inspect(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(10, add_model_inspect_verb);

}  // namespace gemmad::ctl
