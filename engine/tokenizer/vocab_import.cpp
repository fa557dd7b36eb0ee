// tokenizer.json -> VocabData, with the Gemma 4 renames (docs/TOKENIZER.md, gemma4.md §5.2).
#include "tokenizer/vocab_import.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "tokenizer/gemma4_specials.h"

namespace gemmad::tokenizer {
namespace {

using nlohmann::json;

Error bad_json(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "tokenizer.json: " + what);
}

bool is_byte_token(std::string_view s) {
  const auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
  };
  return s.size() == 6 && s.substr(0, 3) == "<0x" && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

Status set_token(std::vector<std::string>& tokens, std::vector<bool>& seen, int64_t id,
                 std::string text, const std::string& where) {
  if (id < 0 || static_cast<uint64_t>(id) >= kMaxVocabSize) {
    return bad_json(where + ": id " + std::to_string(id) + " is outside [0, " +
                    std::to_string(kMaxVocabSize) + ")");
  }
  const auto i = static_cast<size_t>(id);
  if (i >= tokens.size()) {
    tokens.resize(i + 1);
    seen.resize(i + 1, false);
  }
  if (seen[i] && tokens[i] != text) {
    return bad_json(where + ": id " + std::to_string(id) + " is both '" + tokens[i] + "' and '" +
                    text + "'");
  }
  tokens[i] = std::move(text);
  seen[i] = true;
  return {};
}

Result<VocabData> import_impl(std::string_view json_text, const VocabImportOptions& options,
                              VocabImportSummary* summary) {
  json doc = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad_json("not valid JSON");
  if (!doc.is_object() || !doc.contains("model") || !doc["model"].is_object()) {
    return bad_json("no \"model\" object");
  }
  const json& model = doc["model"];
  const std::string type = model.value("type", std::string("BPE"));
  if (type != "BPE") {
    return bad_json("model.type is '" + type + "'; only BPE (with byte_fallback) is supported");
  }
  if (model.contains("byte_fallback") && model["byte_fallback"].is_boolean() &&
      !model["byte_fallback"].get<bool>()) {
    return bad_json("model.byte_fallback is false; the Gemma tokenizer needs byte fallback");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return bad_json("model.vocab is missing or not an object");
  }
  if (!model.contains("merges") || !model["merges"].is_array()) {
    return bad_json("model.merges is missing or not an array");
  }

  VocabData data;
  std::vector<bool> seen;
  std::vector<bool> added;
  std::vector<bool> added_special;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer()) return bad_json("model.vocab['" + text + "'] is not an integer");
    GEMMAD_TRY(set_token(data.tokens, seen, id.get<int64_t>(), text, "model.vocab"));
  }
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
    const json& list = doc["added_tokens"];
    for (size_t k = 0; k < list.size(); ++k) {
      const json& a = list[k];
      const std::string where = "added_tokens[" + std::to_string(k) + "]";
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string()) {
        return bad_json(where + " needs an integer \"id\" and a string \"content\"");
      }
      const int64_t id = a["id"].get<int64_t>();
      GEMMAD_TRY(set_token(data.tokens, seen, id, a["content"].get<std::string>(), where));
      const auto i = static_cast<size_t>(id);
      if (added.size() <= i) {
        added.resize(i + 1, false);
        added_special.resize(i + 1, false);
      }
      added[i] = true;
      added_special[i] = a.value("special", false);
    }
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      return bad_json("no token has id " + std::to_string(i) + " (ids must be 0.." +
                      std::to_string(seen.size() - 1) + " without gaps)");
    }
  }
  added.resize(data.tokens.size(), false);
  added_special.resize(data.tokens.size(), false);

  data.types.resize(data.tokens.size());
  for (size_t i = 0; i < data.tokens.size(); ++i) {
    if (added[i]) {
      data.types[i] = added_special[i] ? TokenType::kControl : TokenType::kUserDefined;
    } else if (is_byte_token(data.tokens[i])) {
      data.types[i] = TokenType::kByte;
    } else {
      data.types[i] = TokenType::kNormal;
    }
  }

  VocabImportSummary sum;
  if (options.gemma4) {
    if (data.tokens.size() == kGemma4VocabSize + 1) {
      // docs/TOKENIZER.md: id 262144 (<image_soft_token>) does not exist in Gemma 4.
      data.tokens.pop_back();
      data.types.pop_back();
      sum.dropped_last = true;
    }
    if (data.tokens.size() != kGemma4VocabSize) {
      return bad_json("the vocabulary has " + std::to_string(data.tokens.size()) +
                      " entries; a Gemma 4 vocabulary has " + std::to_string(kGemma4VocabSize) +
                      " (or 262145 with <image_soft_token>, which is dropped)");
    }
    for (const SpecialToken& r : kGemma4RenamedTokens) {
      const auto i = static_cast<size_t>(r.id);
      if (data.tokens[i] != r.text || data.types[i] != r.type) ++sum.n_renamed;
      data.tokens[i] = r.text;
      data.types[i] = r.type;
    }
  }

  const json& merges = model["merges"];
  data.merges.reserve(merges.size());
  for (size_t k = 0; k < merges.size(); ++k) {
    const json& m = merges[k];
    if (m.is_string()) {
      data.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      // Newer tokenizer.json files store merges as [left, right] pairs.
      data.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return bad_json("model.merges[" + std::to_string(k) +
                      "] is neither \"left right\" nor [left, right]");
    }
  }

  data.scores.assign(data.tokens.size(), -1000.0f);
  data.bos_id = 2;
  data.eos_id = 1;
  data.unk_id = 3;
  data.pad_id = 0;
  data.mask_id = data.tokens.size() > 4 ? 4 : -1;
  // Special ids by name when the file is not laid out like Gemma's.
  const auto id_of = [&](std::string_view name, TokenId fallback) {
    for (size_t i = 0; i < data.tokens.size() && i < 16; ++i) {
      if (data.tokens[i] == name) return static_cast<TokenId>(i);
    }
    return fallback < static_cast<TokenId>(data.tokens.size()) ? fallback : TokenId{-1};
  };
  data.bos_id = id_of("<bos>", data.bos_id);
  data.eos_id = id_of("<eos>", data.eos_id);
  data.unk_id = id_of("<unk>", data.unk_id);
  data.pad_id = id_of("<pad>", data.pad_id);
  data.mask_id = id_of("<mask>", data.mask_id);
  data.add_bos = true;

  sum.n_tokens = data.tokens.size();
  sum.n_merges = data.merges.size();
  for (const TokenType t : data.types) {
    switch (t) {
      case TokenType::kNormal:
        ++sum.n_normal;
        break;
      case TokenType::kControl:
        ++sum.n_control;
        break;
      case TokenType::kUserDefined:
        ++sum.n_user_defined;
        break;
      case TokenType::kByte:
        ++sum.n_byte;
        break;
      case TokenType::kUndefined:
      case TokenType::kUnknown:
      case TokenType::kUnused:
        break;
    }
  }
  if (summary != nullptr) *summary = sum;
  return data;
}

}  // namespace

Result<VocabData> import_hf_tokenizer_json(std::string_view json_text,
                                           const VocabImportOptions& options,
                                           VocabImportSummary* summary) {
  // nlohmann's accessors throw on a wrong type; this is the error boundary for that.
  try {
    return import_impl(json_text, options, summary);
  } catch (const nlohmann::json::exception& e) {
    return bad_json(std::string("unexpected structure: ") + e.what());
  }
}

Result<VocabData> import_hf_tokenizer_file(const std::string& path,
                                           const VocabImportOptions& options,
                                           VocabImportSummary* summary) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, path + ": cannot open");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in.good() && !in.eof()) return make_error(ErrorCode::kIo, path + ": read failed");
  auto r = import_hf_tokenizer_json(buf.str(), options, summary);
  if (!r.ok()) return std::move(r).error().with_context(path);
  return r;
}

}  // namespace gemmad::tokenizer
