// The `quantization_config` of a config.json in either of Google's mobile layouts
// (docs/FORMATS.md "Importing"): which bit width (and scale layout) each module is expected to
// have. The importer cross-checks this against the tensors it finds.
//
//   transformers ("quant_method": "gemma"): `num_bits` default, `module_quant_configs`
//     {regex: bits} tried in order (a regex matches at the start of the module name, like
//     Python's re.match), `modules_to_not_convert` (names or regexes) left unquantized.
//   compressed-tensors ("quant_method": "compressed-tensors"): `config_groups` each with
//     `targets` (exact module names, "re:" regexes matched at the start, or class names
//     "Linear" / "Embedding") and `weights` {num_bits, strategy "channel" | "group",
//     group_size}; `ignore` (same kinds of target) wins; an exact name beats a regex beats a
//     class; among equals the first group.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "common/result.h"

namespace gemmad::import {

enum class Layout { kUnquantized, kTransformers, kCompressedTensors };
std::string_view layout_name(Layout l);

struct ModuleRule {
  int bits = 0;            // 0: not quantized
  int64_t group_size = 0;  // compressed-tensors "group" strategy; 0 = per channel / unknown
  std::string source;      // which config entry decided (for messages)
};

class QuantConfig {
 public:
  // From the whole config.json (quantization_config at the top level or in text_config).
  // Errors name the field: unknown quant_method, bad num_bits (not 2, 4 or 8), bad regex.
  static Result<QuantConfig> from_config(const nlohmann::ordered_json& config);

  Layout layout() const { return layout_; }
  // `module`: the full checkpoint module name (tensor name without ".weight" etc.).
  ModuleRule rule_for(const std::string& module, bool is_embedding) const;

 private:
  struct Target {
    enum Kind { kExact, kRegex, kClass } kind = kExact;
    std::string text;
    std::regex re;
  };
  struct Group {
    std::string name;
    std::vector<Target> targets;
    ModuleRule rule;
  };
  static Result<Target> parse_target(const std::string& s, bool ct);
  static bool matches(const Target& t, const std::string& module, bool is_embedding);

  Layout layout_ = Layout::kUnquantized;
  int default_bits_ = 0;
  std::vector<Group> groups_;   // transformers: one per module_quant_configs entry
  std::vector<Target> ignore_;  // modules_to_not_convert / ignore
};

}  // namespace gemmad::import
