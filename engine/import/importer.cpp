// Checkpoint -> GGUF (importer.h): the tensor table of the Gemma 4 text decoder in Hugging
// Face names, each source resolved to codes + scales (mobile layouts) or floats, validated,
// then streamed into the GGUF writer.
#include "import/importer.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "common/fp16.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "import/checkpoint.h"
#include "import/hf_config.h"
#include "quant/ggml_type.h"
#include "quant/scaled_codes.h"
#include "synth/synth_model.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_import.h"

namespace gemmad::import {
namespace {

static_assert(std::endian::native == std::endian::little,
              "packed int32 words are copied as bytes: little-endian hosts only");

using quant::GgmlType;

Error bad(const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, what);
}

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i)
    o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

bool is_float(StDtype t) {
  return t == StDtype::kF32 || t == StDtype::kBF16 || t == StDtype::kF16;
}

// n values of a float tensor starting at element `begin`, widened to f32.
void to_f32(const StTensor& t, uint64_t begin, uint64_t n, float* dst) {
  const uint8_t* p = t.bytes.data() + begin * st_dtype_size(t.dtype);
  for (uint64_t i = 0; i < n; ++i) {
    uint16_t h;
    switch (t.dtype) {
      case StDtype::kF32:
        std::memcpy(&dst[i], p + 4 * i, 4);
        break;
      case StDtype::kBF16:
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = bf16_to_fp32(h);
        break;
      default:  // kF16 (callers check is_float)
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
        break;
    }
  }
}

// A matrix of the checkpoint, resolved: float values, or codes of `bits` with scales.
struct MatrixSrc {
  std::string module;
  const StTensor* w = nullptr;
  int bits = 0;  // 0: float
  const StTensor* scale = nullptr;
  uint64_t n_out = 0, n_in = 0, n_groups = 0;
  float in_scale = 0.0f, out_scale = 0.0f;
  std::vector<std::string> used;  // checkpoint tensor names consumed
};

class Importer {
 public:
  Importer(const ImportOptions& o, const Checkpoint& ck, const QuantConfig& qc,
           const engine::Gemma4Config& c, std::function<void(const std::string&)> log)
      : opt_(o), ck_(ck), qc_(qc), c_(c), log_(std::move(log)) {}

  Status run(ImportSummary* sum);

 private:
  const StTensor* get(const std::string& name) {
    const StTensor* t = ck_.find(name);
    if (t != nullptr) used_.insert(name);
    return t;
  }
  Result<float> static_scale(const std::string& name, bool* present);
  Result<MatrixSrc> resolve_matrix(const std::string& module, uint64_t n_out, uint64_t n_in,
                                   bool embedding, bool required);
  Status add_matrix(const std::string& gguf, const MatrixSrc& m, bool keep_f16);
  Status add_vector(const std::string& gguf, const std::string& hf, uint64_t n, bool required);
  void add_act_scales(const std::string& gguf, const MatrixSrc& m);
  Status add_kv_scales();

  const ImportOptions& opt_;
  const Checkpoint& ck_;
  const QuantConfig& qc_;
  const engine::Gemma4Config& c_;
  std::function<void(const std::string&)> log_;
  gguf::GgufWriter w_{32};
  std::set<std::string> used_;
  std::set<std::string> skipped_;  // left out by design (K/V of KV-shared layers)
  ImportSummary* sum_ = nullptr;
  std::string prefix_;
};

// A static activation scale: a one-element float tensor; 0 means uncalibrated (skipped).
Result<float> Importer::static_scale(const std::string& name, bool* present) {
  *present = false;
  const StTensor* t = get(name);
  if (t == nullptr) return 0.0f;
  if (!is_float(t->dtype) || t->n_elements() != 1) {
    return bad("tensor '" + name + "': a static scale must be one f32/bf16/f16 value; it is " +
               std::string(st_dtype_name(t->dtype)) + " " + shape_str(t->shape));
  }
  float v = 0.0f;
  to_f32(*t, 0, 1, &v);
  if (!std::isfinite(v) || v < 0.0f) {
    return bad("tensor '" + name + "' is " + std::to_string(v) + "; a static scale must be >= 0");
  }
  *present = true;
  if (v == 0.0f) ++sum_->n_zero_scales;
  return v;
}

Result<MatrixSrc> Importer::resolve_matrix(const std::string& module, uint64_t n_out, uint64_t n_in,
                                           bool embedding, bool required) {
  MatrixSrc m;
  m.module = module;
  m.n_out = n_out;
  m.n_in = n_in;
  const bool ct = qc_.layout() == Layout::kCompressedTensors;
  std::string wname, sname, in_name, out_name;
  if (ct) {
    in_name = module + ".input_scale";
    out_name = module + ".output_scale";
    sname = module + ".weight_scale";
    if (const StTensor* p = get(module + ".weight_packed")) {
      wname = module + ".weight_packed";
      m.w = p;
      const StTensor* shp = get(module + ".weight_shape");
      if (shp == nullptr) return bad("tensor '" + wname + "' has no '" + module + ".weight_shape'");
      if ((shp->dtype != StDtype::kI64 && shp->dtype != StDtype::kI32) || shp->n_elements() != 2) {
        return bad("tensor '" + module + ".weight_shape' must be 2 int64 values");
      }
      int64_t dims[2];
      for (int i = 0; i < 2; ++i) {
        if (shp->dtype == StDtype::kI64) {
          std::memcpy(&dims[i], shp->bytes.data() + 8 * i, 8);
        } else {
          int32_t v;
          std::memcpy(&v, shp->bytes.data() + 4 * i, 4);
          dims[i] = v;
        }
      }
      if (dims[0] != static_cast<int64_t>(n_out) || dims[1] != static_cast<int64_t>(n_in)) {
        return bad("tensor '" + module + ".weight_shape' is [" + std::to_string(dims[0]) + ", " +
                   std::to_string(dims[1]) + "]; expected [" + std::to_string(n_out) + ", " +
                   std::to_string(n_in) + "]");
      }
      if (p->dtype != StDtype::kI32 || p->shape.size() != 2 || p->shape[0] != n_out ||
          (p->shape[1] * 32) % n_in != 0) {
        return bad("tensor '" + wname + "' must be I32 [" + std::to_string(n_out) +
                   ", in * bits / 32]; it is " + std::string(st_dtype_name(p->dtype)) + " " +
                   shape_str(p->shape));
      }
      m.bits = static_cast<int>(p->shape[1] * 32 / n_in);
    } else {
      wname = module + ".weight";
      m.w = get(wname);
    }
  } else {
    in_name = module + ".input_activation_scale";
    out_name = module + ".output_activation_scale";
    wname =
        module + (embedding && ck_.find(module + ".embedding_quantized") ? ".embedding_quantized"
                                                                         : ".weight");
    sname = module + (embedding && ck_.find(module + ".embedding_scale") ? ".embedding_scale"
                                                                         : ".weight_scale");
    m.w = get(wname);
    if (m.w != nullptr && m.w->dtype == StDtype::kU8) {
      if (m.w->shape.size() != 2 || m.w->shape[0] != n_out || (m.w->shape[1] * 8) % n_in != 0) {
        return bad("tensor '" + wname + "' must be U8 [" + std::to_string(n_out) +
                   ", in * bits / 8]; it is " + shape_str(m.w->shape));
      }
      m.bits = static_cast<int>(m.w->shape[1] * 8 / n_in);
    }
  }
  bool present = false;
  GEMMAD_ASSIGN_OR_RETURN(m.in_scale, static_scale(in_name, &present));
  if (present) m.used.push_back(in_name);
  GEMMAD_ASSIGN_OR_RETURN(m.out_scale, static_scale(out_name, &present));
  if (present) m.used.push_back(out_name);
  if (m.w == nullptr) {
    if (required) return bad("checkpoint lacks tensor '" + wname + "'");
    return m;
  }
  if (m.bits == 0 && m.w->dtype == StDtype::kI8) m.bits = 8;
  if (m.bits == 0) {
    if (!is_float(m.w->dtype)) {
      return bad("tensor '" + wname + "' has dtype " + std::string(st_dtype_name(m.w->dtype)) +
                 "; expected packed codes, I8 or a float type");
    }
    if (m.w->shape != std::vector<uint64_t>{n_out, n_in}) {
      return bad("tensor '" + wname + "' has shape " + shape_str(m.w->shape) + "; expected [" +
                 std::to_string(n_out) + ", " + std::to_string(n_in) + "]");
    }
  } else if (m.bits != 2 && m.bits != 4 && m.bits != 8) {
    return bad("tensor '" + wname + "' holds " + std::to_string(m.bits) +
               "-bit codes; gemmad imports 2, 4 and 8");
  } else if (m.bits == 8 && m.w->shape != std::vector<uint64_t>{n_out, n_in}) {
    return bad("tensor '" + wname + "' has shape " + shape_str(m.w->shape) + "; expected [" +
               std::to_string(n_out) + ", " + std::to_string(n_in) + "]");
  }
  m.used.insert(m.used.begin(), wname);
  // The config must say what the tensors hold.
  const ModuleRule rule = qc_.rule_for(module, embedding);
  if (qc_.layout() != Layout::kUnquantized && rule.bits != m.bits) {
    return bad("module '" + module + "': the checkpoint holds " +
               (m.bits ? std::to_string(m.bits) + "-bit codes" : std::string("floats")) +
               " but quantization_config (" + (rule.source.empty() ? "no target" : rule.source) +
               ") says " + (rule.bits ? std::to_string(rule.bits) + " bits" : "unquantized"));
  }
  if (qc_.layout() == Layout::kUnquantized && m.bits != 0) {
    return bad("tensor '" + wname +
               "' holds quantized codes but config.json has no quantization_config");
  }
  if (m.bits != 0) {
    m.scale = get(sname);
    if (m.scale == nullptr) return bad("quantized tensor '" + wname + "' has no '" + sname + "'");
    const std::vector<uint64_t>& s = m.scale->shape;
    if (!is_float(m.scale->dtype) || s.empty() || s.size() > 2 || s[0] != n_out) {
      return bad("tensor '" + sname + "' must be float [" + std::to_string(n_out) +
                 ", groups]; it is " + std::string(st_dtype_name(m.scale->dtype)) + " " +
                 shape_str(s));
    }
    m.n_groups = s.size() == 2 ? s[1] : 1;
    if (m.n_groups == 0 || n_in % m.n_groups != 0) {
      return bad("tensor '" + sname + "': " + std::to_string(m.n_groups) +
                 " groups do not divide the row of " + std::to_string(n_in));
    }
    if (rule.group_size != 0 && n_in / m.n_groups != static_cast<uint64_t>(rule.group_size)) {
      return bad("tensor '" + sname + "': groups of " + std::to_string(n_in / m.n_groups) +
                 " but " + rule.source + " says group_size " + std::to_string(rule.group_size));
    }
    m.used.push_back(sname);
    std::vector<float> vals(m.scale->n_elements());
    to_f32(*m.scale, 0, vals.size(), vals.data());
    for (size_t i = 0; i < vals.size(); ++i) {
      if (!std::isfinite(vals[i])) {
        return bad("tensor '" + sname + "' holds a non-finite value at index " + std::to_string(i));
      }
    }
  }
  return m;
}

Status Importer::add_matrix(const std::string& g, const MatrixSrc& m, bool keep_f16) {
  const Checkpoint* ck = &ck_;
  const uint64_t n_in = m.n_in, n_out = m.n_out;
  const uint64_t group = m.bits ? n_in / m.n_groups : 0;
  const bool native = m.bits != 0 && group % 32 == 0;
  if (m.bits != 0 && !native) {
    sum_->warnings.push_back(
        g + ": groups of " + std::to_string(group) +
        " are not a multiple of 32; imported as exact f32 values" +
        (m.in_scale > 0 || m.out_scale > 0 ? " without its static scales" : ""));
  }
  if (native) {
    const GgmlType type = m.bits == 2   ? GgmlType::kGQ2
                          : m.bits == 4 ? GgmlType::kGQ4
                                        : GgmlType::kGQ8;
    const uint64_t rb = n_in * static_cast<uint64_t>(m.bits) / 8;
    const StTensor* src = m.w;
    const std::string wname = m.used[0];
    w_.add_tensor_rows(g + ".weight", type, {n_in, n_out},
                       [src, rb, ck, wname](uint64_t r0, uint64_t r1, std::span<uint8_t> out) {
                         std::memcpy(out.data(), src->bytes.data() + r0 * rb, (r1 - r0) * rb);
                         ck->release(wname, r0 * rb, r1 * rb);
                       });
    const StTensor* sc = m.scale;
    const uint64_t ng = m.n_groups;
    w_.add_tensor_rows(g + ".weight_scale", GgmlType::kF32, {ng, n_out},
                       [sc, ng](uint64_t r0, uint64_t r1, std::span<uint8_t> out) {
                         to_f32(*sc, r0 * ng, (r1 - r0) * ng, reinterpret_cast<float*>(out.data()));
                       });
    ++sum_->n_quantized[m.bits == 2 ? 0 : m.bits == 4 ? 1 : 2];
    add_act_scales(g, m);
    return {};
  }
  if (g == "output" && m.w == nullptr) {  // tied LM head: only its static scales
    add_act_scales(g, m);
    return {};
  }
  // Float output: exact f32 for codes that cannot run natively, else F16 / Q4_0 (Q6_K for the
  // embedding tables, as the official Q4_0 files) for unquantized sources.
  GgmlType type = GgmlType::kF16;
  if (m.bits != 0 || opt_.float_target == FloatTarget::kF32) {
    type = GgmlType::kF32;
  } else if (opt_.float_target == FloatTarget::kQ4_0 && !keep_f16) {
    const bool table = g == "token_embd" || g == "per_layer_token_embd";
    if (table && n_in % 256 == 0) {
      type = GgmlType::kQ6_K;
    } else if (n_in % 32 == 0) {
      type = GgmlType::kQ4_0;
    }
  }
  if (m.in_scale > 0 || m.out_scale > 0) {
    sum_->warnings.push_back(g + ": static scales dropped (the weights are not integer codes)");
  }
  const MatrixSrc src = m;
  const std::string wname = m.used[0];
  w_.add_tensor_rows(
      g + ".weight", type, {n_in, n_out},
      [src, type, ck, wname, n_in, n_out, group](uint64_t r0, uint64_t r1, std::span<uint8_t> out) {
        const uint64_t rb = *quant::row_bytes(type, n_in);
        std::vector<float> row(n_in), sc;
        const GgmlType ct = src.bits == 2   ? GgmlType::kGQ2
                            : src.bits == 4 ? GgmlType::kGQ4
                                            : GgmlType::kGQ8;
        const uint64_t crb = n_in * static_cast<uint64_t>(src.bits) / 8;
        for (uint64_t r = r0; r < r1; ++r) {
          if (src.bits == 0) {
            to_f32(*src.w, r * n_in, n_in, row.data());
          } else {
            sc.resize(src.n_groups);
            to_f32(*src.scale, r * src.n_groups, src.n_groups, sc.data());
            quant::dequantize_scaled_row(ct, src.w->bytes.data() + r * crb, sc.data(),
                                         static_cast<int64_t>(group), row.data(),
                                         static_cast<int64_t>(n_in));
          }
          quant::quantize_row_ref(type, row.data(), out.data() + (r - r0) * rb,
                                  static_cast<int64_t>(n_in));
        }
        const uint64_t srb = src.bits ? crb : n_in * st_dtype_size(src.w->dtype);
        ck->release(wname, r0 * srb, r1 * srb);
      });
  ++sum_->n_float;
  return {};
}

// `gguf`.input_act_scale / .output_act_scale ({1} f32) for the non-zero static scales.
void Importer::add_act_scales(const std::string& g, const MatrixSrc& m) {
  const std::pair<const char*, float> scales[] = {{".input_act_scale", m.in_scale},
                                                  {".output_act_scale", m.out_scale}};
  for (const auto& [suffix, v] : scales) {
    if (v <= 0.0f) continue;
    const float val = v;
    w_.add_tensor(g + suffix, GgmlType::kF32, {1},
                  [val](std::span<uint8_t> out) { std::memcpy(out.data(), &val, 4); });
    ++(suffix[1] == 'i' ? sum_->n_input_scales : sum_->n_output_scales);
  }
}

Status Importer::add_vector(const std::string& g, const std::string& hf, uint64_t n,
                            bool required) {
  const StTensor* t = get(hf);
  if (t == nullptr) {
    if (required) return bad("checkpoint lacks tensor '" + hf + "'");
    return {};
  }
  if (!is_float(t->dtype) || t->n_elements() != n || t->shape.size() > 1) {
    return bad("tensor '" + hf + "' must be a float vector of " + std::to_string(n) + "; it is " +
               std::string(st_dtype_name(t->dtype)) + " " + shape_str(t->shape));
  }
  w_.add_tensor(g, GgmlType::kF32, {n}, [t, n](std::span<uint8_t> out) {
    to_f32(*t, 0, n, reinterpret_cast<float*>(out.data()));
  });
  return {};
}

// Per-layer static KV scales (`layers.N.<...>.k_cache_scale` / `v_cache_scale`) as the
// metadata arrays gemma4.attention.k_cache_scale / v_cache_scale (0 = uncalibrated).
Status Importer::add_kv_scales() {
  static const std::regex re(R"(layers\.(\d+)\..*([kv])_cache_scale$)");
  std::vector<float> k(c_.n_layer, 0.0f), v(c_.n_layer, 0.0f);
  bool any = false;
  std::set<uint32_t> layers;
  for (const std::string& name : ck_.names()) {
    std::smatch mt;
    if (name.rfind(prefix_, 0) != 0 || !std::regex_search(name, mt, re)) continue;
    const uint64_t il = std::stoull(mt[1].str());
    if (il >= c_.n_layer)
      return bad("tensor '" + name + "': layer " + mt[1].str() +
                 " >= " + std::to_string(c_.n_layer));
    bool present = false;
    GEMMAD_ASSIGN_OR_RETURN(float s, static_scale(name, &present));
    if (!c_.owns_kv(static_cast<uint32_t>(il))) {
      sum_->warnings.push_back(name + ": layer " + mt[1].str() +
                               " is KV-shared (no cache); ignored");
      continue;
    }
    (mt[2].str() == "k" ? k : v)[il] = s;
    layers.insert(static_cast<uint32_t>(il));
    any = true;
  }
  if (any) {
    w_.set_f32_array("gemma4.attention.k_cache_scale", k);
    w_.set_f32_array("gemma4.attention.v_cache_scale", v);
  }
  sum_->n_kv_scales = layers.size();
  return {};
}

Status Importer::run(ImportSummary* sum) {
  sum_ = sum;
  sum->layout = qc_.layout();
  sum->n_shards = ck_.shard_count();
  // Module prefix: multimodal checkpoints nest the decoder under model.language_model.
  for (const char* p : {"model.language_model.", "model.", ""}) {
    const std::string e = std::string(p) + "embed_tokens";
    if (ck_.find(e + ".weight") || ck_.find(e + ".embedding_quantized") ||
        ck_.find(e + ".weight_packed")) {
      prefix_ = p;
      break;
    }
    if (std::string(p).empty()) return bad("checkpoint has no embed_tokens tensor");
  }
  synth::write_model_keys(w_, c_, "gemmad-import", synth::SynthQuant::kF32);
  w_.set_u32("general.file_type", 1024);  // llama_ftype "guessed": a mix (FORMATS.md)
  w_.set_string("gemmad.import.layout", layout_name(qc_.layout()));

  // Tokenizer keys.
  std::string vocab = opt_.vocab_path;
  std::string tmp_vocab;
  if (vocab.empty()) {
    const std::string tj = (std::filesystem::path(opt_.dir) / "tokenizer.json").string();
    log_("importing the vocabulary from " + tj);
    GEMMAD_ASSIGN_OR_RETURN(tokenizer::VocabData vd, tokenizer::import_hf_tokenizer_file(tj));
    tmp_vocab = opt_.output + ".vocab.tmp";
    GEMMAD_TRY(tokenizer::write_vocab_gguf(vd, tmp_vocab));
    vocab = tmp_vocab;
  }
  {
    auto vf = gguf::GgufFile::open(vocab);
    if (!tmp_vocab.empty()) std::filesystem::remove(tmp_vocab);
    if (!vf.ok()) return vf.error();
    const gguf::KeyValue* toks = (*vf)->find("tokenizer.ggml.tokens");
    if (toks == nullptr || toks->type != gguf::ValueType::kArray) {
      return bad(vocab + ": key 'tokenizer.ggml.tokens' is missing");
    }
    if (toks->array_count != c_.n_vocab) {
      return bad(vocab + ": " + std::to_string(toks->array_count) +
                 " tokens; config.json vocab_size is " + std::to_string(c_.n_vocab));
    }
    for (const gguf::KeyValue& kv : (*vf)->metadata()) {
      if (kv.key.rfind("tokenizer.", 0) == 0) w_.copy_kv(kv);
    }
  }

  const std::string& P = prefix_;
  const uint64_t d = c_.n_embd, V = c_.n_vocab, p = c_.n_embd_per_layer, L = c_.n_layer;
  auto matrix = [&](const std::string& g, const std::string& module, uint64_t n_out, uint64_t n_in,
                    bool embedding, bool required, bool keep_f16 = false) -> Status {
    GEMMAD_ASSIGN_OR_RETURN(MatrixSrc m, resolve_matrix(module, n_out, n_in, embedding, required));
    if (m.w == nullptr && g != "output") return {};
    return add_matrix(g, m, keep_f16);
  };
  GEMMAD_TRY(matrix("token_embd", P + "embed_tokens", V, d, true, true));
  if (p > 0) {
    GEMMAD_TRY(matrix("per_layer_token_embd", P + "embed_tokens_per_layer", V, L * p, true, true));
    GEMMAD_TRY(matrix("per_layer_model_proj", P + "per_layer_model_projection", L * p, d, false,
                      true, /*keep_f16=*/true));  // never 4-bit (spec facts, FORMATS.md)
    GEMMAD_TRY(
        add_vector("per_layer_proj_norm.weight", P + "per_layer_projection_norm.weight", p, true));
  }
  GEMMAD_TRY(add_vector("output_norm.weight", P + "norm.weight", d, true));
  {
    const std::vector<float> rf = c_.rope_freq_factors;
    w_.add_tensor("rope_freqs.weight", GgmlType::kF32, {rf.size()}, [rf](std::span<uint8_t> out) {
      std::memcpy(out.data(), rf.data(), rf.size() * 4);
    });
  }
  // The LM head: lm_head if the checkpoint has its own (quantized apart from the embedding),
  // else tied; its static scales are kept either way.
  GEMMAD_TRY(matrix("output", "lm_head", V, d, false, false));

  for (uint32_t il = 0; il < L; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const std::string h = P + "layers." + std::to_string(il) + ".";
    const uint64_t hd = c_.head_dim(il), q = c_.n_head * hd, kv = c_.n_head_kv * hd,
                   ff = c_.n_ff[il];
    GEMMAD_TRY(add_vector(b + "attn_norm.weight", h + "input_layernorm.weight", d, true));
    GEMMAD_TRY(matrix(b + "attn_q", h + "self_attn.q_proj", q, d, false, true));
    GEMMAD_TRY(add_vector(b + "attn_q_norm.weight", h + "self_attn.q_norm.weight", hd, true));
    if (!c_.owns_kv(il)) {  // KV-shared layers: their K/V weights are never used (skipped)
      for (const std::string& n : ck_.names()) {
        if (n.rfind(h + "self_attn.k_", 0) == 0 || n.rfind(h + "self_attn.v_", 0) == 0) {
          skipped_.insert(n);
        }
      }
    }
    if (c_.owns_kv(il)) {
      GEMMAD_TRY(matrix(b + "attn_k", h + "self_attn.k_proj", kv, d, false, true));
      GEMMAD_TRY(matrix(b + "attn_v", h + "self_attn.v_proj", kv, d, false, false));
      GEMMAD_TRY(add_vector(b + "attn_k_norm.weight", h + "self_attn.k_norm.weight", hd, true));
    }
    GEMMAD_TRY(matrix(b + "attn_output", h + "self_attn.o_proj", d, q, false, true));
    GEMMAD_TRY(add_vector(b + "post_attention_norm.weight", h + "post_attention_layernorm.weight",
                          d, true));
    GEMMAD_TRY(add_vector(b + "ffn_norm.weight", h + "pre_feedforward_layernorm.weight", d, true));
    GEMMAD_TRY(matrix(b + "ffn_gate", h + "mlp.gate_proj", ff, d, false, true));
    GEMMAD_TRY(matrix(b + "ffn_up", h + "mlp.up_proj", ff, d, false, true));
    GEMMAD_TRY(matrix(b + "ffn_down", h + "mlp.down_proj", d, ff, false, true));
    GEMMAD_TRY(
        add_vector(b + "post_ffw_norm.weight", h + "post_feedforward_layernorm.weight", d, true));
    if (p > 0) {
      GEMMAD_TRY(matrix(b + "inp_gate", h + "per_layer_input_gate", p, d, false, true));
      GEMMAD_TRY(matrix(b + "proj", h + "per_layer_projection", d, p, false, true));
      GEMMAD_TRY(
          add_vector(b + "post_norm.weight", h + "post_per_layer_input_norm.weight", d, true));
    }
    const std::string ls =
        ck_.find(h + "layer_scalar") ? h + "layer_scalar" : h + "layer_scalar.weight";
    GEMMAD_TRY(add_vector(b + "layer_output_scale.weight", ls, 1, false));
  }
  GEMMAD_TRY(add_kv_scales());

  // Everything else is left out: encoders, K/V weights of KV-shared layers, unknown names.
  std::vector<std::string> unknown;
  for (const std::string& n : ck_.names()) {
    if (used_.count(n)) continue;
    ++sum->n_ignored;
    if (skipped_.count(n)) continue;
    if (n.rfind(P + "layers.", 0) == 0 || (P.empty() ? false : n.rfind(P, 0) == 0))
      unknown.push_back(n);
  }
  for (size_t i = 0; i < unknown.size() && i < 5; ++i)
    sum->warnings.push_back("not imported: " + unknown[i]);
  if (unknown.size() > 5)
    sum->warnings.push_back("... and " + std::to_string(unknown.size() - 5) +
                            " more decoder tensors not imported");

  uint64_t last_pct = 101;
  GEMMAD_TRY(w_.write(opt_.output, [&](uint64_t done, uint64_t total) {
    const uint64_t pct = total ? done * 100 / total : 100;
    if (pct / 10 != last_pct / 10 || done == total) {
      log_("wrote " + std::to_string(done >> 20) + " of " + std::to_string(total >> 20) + " MiB (" +
           std::to_string(pct) + " %)");
      last_pct = pct;
    }
  }));
  std::error_code ec;
  sum->file_bytes = std::filesystem::file_size(opt_.output, ec);
  return {};
}

}  // namespace

Result<ImportSummary> import_checkpoint(const ImportOptions& opts,
                                        const std::function<void(const std::string&)>& log) {
  log("reading " + opts.dir);
  GEMMAD_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ck, Checkpoint::open(opts.dir));
  GEMMAD_ASSIGN_OR_RETURN(engine::Gemma4Config c, gemma4_config_from_hf(ck->config()));
  GEMMAD_ASSIGN_OR_RETURN(QuantConfig qc, QuantConfig::from_config(ck->config()));
  log(std::string("layout ") + std::string(layout_name(qc.layout())) + ", " +
      std::to_string(ck->shard_count()) + " shard(s), " + std::to_string(c.n_layer) + " layers");
  Importer imp(opts, *ck, qc, c, log);
  ImportSummary sum;
  GEMMAD_TRY(imp.run(&sum));
  return sum;
}

}  // namespace gemmad::import
