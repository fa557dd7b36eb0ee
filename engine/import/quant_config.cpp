// Parsing and matching of the two quantization_config dialects (quant_config.h).
#include "import/quant_config.h"

namespace gemmad::import {
namespace {

using nlohmann::ordered_json;

Error bad(const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, "config.json: quantization_config: " + what);
}

Result<int> parse_bits(const ordered_json& v, const std::string& where) {
  const ordered_json* b = &v;
  if (v.is_object()) {
    auto it = v.find("num_bits");
    if (it == v.end()) it = v.find("bits");
    if (it == v.end()) return bad(where + " has no num_bits");
    b = &*it;
  }
  if (!b->is_number_unsigned() ||
      (b->get<int>() != 2 && b->get<int>() != 4 && b->get<int>() != 8)) {
    return bad(where + " num_bits is " + b->dump() + "; expected 2, 4 or 8");
  }
  return b->get<int>();
}

}  // namespace

std::string_view layout_name(Layout l) {
  switch (l) {
    case Layout::kUnquantized:
      return "unquantized";
    case Layout::kTransformers:
      return "transformers";
    case Layout::kCompressedTensors:
      return "compressed-tensors";
  }
  return "?";
}

Result<QuantConfig::Target> QuantConfig::parse_target(const std::string& s, bool ct) {
  Target t;
  t.text = s;
  if (ct && s.rfind("re:", 0) == 0) {
    t.kind = Target::kRegex;
    t.text = s.substr(3);
  } else if (ct && (s == "Linear" || s == "Embedding")) {
    t.kind = Target::kClass;
    return t;
  } else if (!ct) {
    t.kind = Target::kRegex;  // transformers: every entry is a pattern (plain names match too)
  } else {
    return t;
  }
  try {
    t.re = std::regex(t.text, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return bad("target '" + s + "' is not a valid regex: " + e.what());
  }
  return t;
}

bool QuantConfig::matches(const Target& t, const std::string& module, bool is_embedding) {
  switch (t.kind) {
    case Target::kExact:
      return module == t.text;
    case Target::kRegex:
      return std::regex_search(module, t.re, std::regex_constants::match_continuous);
    case Target::kClass:
      return t.text == (is_embedding ? "Embedding" : "Linear");
  }
  return false;
}

Result<QuantConfig> QuantConfig::from_config(const ordered_json& config) {
  QuantConfig q;
  const ordered_json* qc = nullptr;
  if (auto it = config.find("quantization_config"); it != config.end()) qc = &*it;
  if (auto tc = config.find("text_config");
      qc == nullptr && tc != config.end() && tc->is_object()) {
    if (auto it = tc->find("quantization_config"); it != tc->end()) qc = &*it;
  }
  if (qc == nullptr || qc->is_null()) return q;
  if (!qc->is_object()) return bad("is not an object");
  auto m = qc->find("quant_method");
  const std::string method = m != qc->end() && m->is_string() ? m->get<std::string>() : "";
  if (method == "gemma") {
    q.layout_ = Layout::kTransformers;
    auto nb = qc->find("num_bits");
    if (nb != qc->end()) {
      GEMMAD_ASSIGN_OR_RETURN(q.default_bits_, parse_bits(*nb, "num_bits"));
    }
    if (auto mq = qc->find("module_quant_configs"); mq != qc->end()) {
      if (!mq->is_object()) return bad("module_quant_configs is not an object");
      for (auto it = mq->begin(); it != mq->end(); ++it) {
        Group g;
        g.name = it.key();
        GEMMAD_ASSIGN_OR_RETURN(Target t, parse_target(it.key(), false));
        g.targets.push_back(std::move(t));
        GEMMAD_ASSIGN_OR_RETURN(g.rule.bits,
                                parse_bits(*it, "module_quant_configs['" + it.key() + "']"));
        g.rule.source = "module_quant_configs['" + it.key() + "']";
        q.groups_.push_back(std::move(g));
      }
    }
    if (auto nc = qc->find("modules_to_not_convert"); nc != qc->end() && nc->is_array()) {
      for (const ordered_json& v : *nc) {
        if (!v.is_string()) return bad("modules_to_not_convert holds " + v.dump());
        Target t;
        t.kind = Target::kExact;
        t.text = v.get<std::string>();
        q.ignore_.push_back(t);
        GEMMAD_ASSIGN_OR_RETURN(Target r, parse_target(v.get<std::string>(), false));
        q.ignore_.push_back(std::move(r));
      }
    }
    return q;
  }
  if (method == "compressed-tensors") {
    q.layout_ = Layout::kCompressedTensors;
    auto cg = qc->find("config_groups");
    if (cg == qc->end() || !cg->is_object()) return bad("config_groups is missing");
    for (auto it = cg->begin(); it != cg->end(); ++it) {
      const std::string where = "config_groups['" + it.key() + "']";
      if (!it->is_object()) return bad(where + " is not an object");
      Group g;
      g.name = it.key();
      auto tg = it->find("targets");
      if (tg == it->end() || !tg->is_array()) return bad(where + ".targets is not an array");
      for (const ordered_json& v : *tg) {
        if (!v.is_string()) return bad(where + ".targets holds " + v.dump());
        GEMMAD_ASSIGN_OR_RETURN(Target t, parse_target(v.get<std::string>(), true));
        g.targets.push_back(std::move(t));
      }
      auto w = it->find("weights");
      if (w == it->end() || !w->is_object()) return bad(where + ".weights is missing");
      GEMMAD_ASSIGN_OR_RETURN(g.rule.bits, parse_bits(*w, where + ".weights"));
      auto st = w->find("strategy");
      const std::string strategy =
          st != w->end() && st->is_string() ? st->get<std::string>() : "channel";
      if (strategy == "group") {
        auto gs = w->find("group_size");
        if (gs == w->end() || !gs->is_number_unsigned() || gs->get<int64_t>() <= 0) {
          return bad(where + ".weights.group_size must be a positive integer for strategy 'group'");
        }
        g.rule.group_size = gs->get<int64_t>();
      } else if (strategy != "channel") {
        return bad(where + ".weights.strategy is '" + strategy +
                   "'; expected 'channel' or 'group'");
      }
      if (auto sym = w->find("symmetric");
          sym != w->end() && sym->is_boolean() && !sym->get<bool>()) {
        return bad(where + ".weights.symmetric is false; only symmetric weights are supported");
      }
      g.rule.source = where;
      q.groups_.push_back(std::move(g));
    }
    if (auto ig = qc->find("ignore"); ig != qc->end() && ig->is_array()) {
      for (const ordered_json& v : *ig) {
        if (!v.is_string()) return bad("ignore holds " + v.dump());
        GEMMAD_ASSIGN_OR_RETURN(Target t, parse_target(v.get<std::string>(), true));
        q.ignore_.push_back(std::move(t));
      }
    }
    return q;
  }
  return bad("quant_method '" + method +
             "' is not one gemmad imports (\"gemma\", \"compressed-tensors\")");
}

ModuleRule QuantConfig::rule_for(const std::string& module, bool is_embedding) const {
  if (layout_ == Layout::kUnquantized) return {};
  for (const Target& t : ignore_) {
    if (matches(t, module, is_embedding)) return ModuleRule{0, 0, "ignore"};
  }
  if (layout_ == Layout::kTransformers) {
    for (const Group& g : groups_) {
      if (matches(g.targets[0], module, is_embedding)) return g.rule;
    }
    return ModuleRule{default_bits_, 0, "num_bits"};
  }
  // compressed-tensors: best precedence wins (exact 0 < regex 1 < class 2), first group on ties.
  const Group* best = nullptr;
  int best_rank = 3;
  for (const Group& g : groups_) {
    for (const Target& t : g.targets) {
      const int rank = static_cast<int>(t.kind);
      if (rank < best_rank && matches(t, module, is_embedding)) {
        best = &g;
        best_rank = rank;
      }
    }
  }
  return best != nullptr ? best->rule : ModuleRule{};
}

}  // namespace gemmad::import
