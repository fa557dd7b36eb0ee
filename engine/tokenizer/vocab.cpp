// Reading and writing the tokenizer.ggml.* GGUF keys (docs/GEMMA4.md §5.2).
#include "tokenizer/vocab.h"

#include <string_view>

#include "tokenizer/vocab_view.h"

namespace gemmad::tokenizer {
namespace {

Error bad_key(std::string_view key, const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, std::string(key) + ": " + what);
}

// An optional token id key: absent -> fallback; present -> must index the vocabulary.
Result<TokenId> read_id(const gguf::GgufFile& file, const char* key, TokenId fallback,
                        size_t n_tokens) {
  if (file.find(key) == nullptr) return fallback;
  GEMMAD_ASSIGN_OR_RETURN(const int64_t v, file.get_int(key));
  // llama.cpp writes -1 (as u32 0xFFFFFFFF in some files) for "none".
  if (v < 0 || v == 0xFFFFFFFFll) return TokenId{-1};
  if (static_cast<uint64_t>(v) >= n_tokens) {
    return bad_key(key, "token id " + std::to_string(v) + " is outside the vocabulary [0, " +
                            std::to_string(n_tokens) + ")");
  }
  return static_cast<TokenId>(v);
}

}  // namespace

Result<VocabView> read_vocab_view(const gguf::GgufFile& file) {
  VocabView view;
  GEMMAD_ASSIGN_OR_RETURN(const std::string_view model, file.get_string(kKeyModel));
  if (model != kModelGemma4) {
    return make_error(ErrorCode::kUnsupported,
                      std::string(kKeyModel) + " is '" + std::string(model) +
                          "'; this tokenizer implements only '" + kModelGemma4 + "'");
  }
  GEMMAD_ASSIGN_OR_RETURN(view.tokens, file.get_string_array(kKeyTokens));
  if (view.tokens.empty() || view.tokens.size() > kMaxVocabSize) {
    return bad_key(kKeyTokens, "has " + std::to_string(view.tokens.size()) +
                                   " entries; expected 1.." + std::to_string(kMaxVocabSize));
  }
  GEMMAD_ASSIGN_OR_RETURN(const std::vector<int64_t> types, file.get_int_array(kKeyTokenType));
  if (types.size() != view.tokens.size()) {
    return bad_key(kKeyTokenType, "has " + std::to_string(types.size()) + " entries but " +
                                      kKeyTokens + " has " + std::to_string(view.tokens.size()));
  }
  view.types.resize(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] < 0 || types[i] > static_cast<int64_t>(TokenType::kByte)) {
      return bad_key(kKeyTokenType, "entry " + std::to_string(i) + " is " +
                                        std::to_string(types[i]) + "; expected 0..6");
    }
    view.types[i] = static_cast<TokenType>(types[i]);
  }
  GEMMAD_ASSIGN_OR_RETURN(view.merges, file.get_string_array(kKeyMerges));
  if (view.merges.size() > kMaxMerges) {
    return bad_key(kKeyMerges, "has " + std::to_string(view.merges.size()) + " entries; limit " +
                                   std::to_string(kMaxMerges));
  }
  const size_t n = view.tokens.size();
  GEMMAD_ASSIGN_OR_RETURN(view.bos_id, read_id(file, kKeyBos, 2, n));
  GEMMAD_ASSIGN_OR_RETURN(view.eos_id, read_id(file, kKeyEos, 1, n));
  GEMMAD_ASSIGN_OR_RETURN(view.unk_id, read_id(file, kKeyUnk, 3, n));
  GEMMAD_ASSIGN_OR_RETURN(view.pad_id, read_id(file, kKeyPad, 0, n));
  GEMMAD_ASSIGN_OR_RETURN(view.mask_id, read_id(file, kKeyMask, -1, n));
  if (file.find(kKeyAddBos) != nullptr) {
    GEMMAD_ASSIGN_OR_RETURN(view.add_bos, file.get_bool(kKeyAddBos));
  }
  if (file.find(kKeyChatTemplate) != nullptr) {
    GEMMAD_ASSIGN_OR_RETURN(view.chat_template, file.get_string(kKeyChatTemplate));
  }
  return view;
}

VocabView view_of(const VocabData& data) {
  VocabView view;
  view.tokens.assign(data.tokens.begin(), data.tokens.end());
  view.types = data.types;
  view.merges.assign(data.merges.begin(), data.merges.end());
  view.bos_id = data.bos_id;
  view.eos_id = data.eos_id;
  view.unk_id = data.unk_id;
  view.pad_id = data.pad_id;
  view.mask_id = data.mask_id;
  view.add_bos = data.add_bos;
  view.chat_template = data.chat_template;
  return view;
}

Result<VocabData> read_vocab(const gguf::GgufFile& file) {
  GEMMAD_ASSIGN_OR_RETURN(const VocabView view, read_vocab_view(file));
  VocabData data;
  data.tokens.assign(view.tokens.begin(), view.tokens.end());
  data.types = view.types;
  if (file.find(kKeyScores) != nullptr) {
    GEMMAD_ASSIGN_OR_RETURN(data.scores, file.get_float_array(kKeyScores));
  }
  data.merges.assign(view.merges.begin(), view.merges.end());
  data.bos_id = view.bos_id;
  data.eos_id = view.eos_id;
  data.unk_id = view.unk_id;
  data.pad_id = view.pad_id;
  data.mask_id = view.mask_id;
  data.add_bos = view.add_bos;
  data.chat_template = std::string(view.chat_template);
  return data;
}

void write_vocab_keys(const VocabData& vocab, gguf::GgufWriter& writer) {
  writer.set_string(kKeyModel, vocab.model);
  writer.set_string_array(kKeyTokens, vocab.tokens);
  std::vector<float> scores = vocab.scores;
  // docs/GEMMA4.md §5.2: scores hold a constant (BPE ranks by merges); llama.cpp expects the array.
  if (scores.size() != vocab.tokens.size()) scores.assign(vocab.tokens.size(), -1000.0f);
  writer.set_f32_array(kKeyScores, scores);
  std::vector<int32_t> types(vocab.types.size());
  for (size_t i = 0; i < types.size(); ++i)
    types[i] = static_cast<int32_t>(vocab.types[i]);
  writer.set_i32_array(kKeyTokenType, types);
  writer.set_string_array(kKeyMerges, vocab.merges);
  const auto set_id = [&](const char* key, TokenId id) {
    if (id >= 0) writer.set_u32(key, static_cast<uint32_t>(id));
  };
  set_id(kKeyBos, vocab.bos_id);
  set_id(kKeyEos, vocab.eos_id);
  set_id(kKeyUnk, vocab.unk_id);
  set_id(kKeyPad, vocab.pad_id);
  set_id(kKeyMask, vocab.mask_id);
  writer.set_bool(kKeyAddBos, vocab.add_bos);
  writer.set_bool(kKeyAddEos, false);
  writer.set_bool(kKeyAddSpacePrefix, false);
  if (!vocab.chat_template.empty()) writer.set_string(kKeyChatTemplate, vocab.chat_template);
}

Status write_vocab_gguf(const VocabData& vocab, const std::string& path) {
  gguf::GgufWriter writer;
  writer.set_string("general.architecture", "gemma4");
  writer.set_string("general.type", "vocab");
  writer.set_string("general.name", "Gemma 4 vocabulary");
  write_vocab_keys(vocab, writer);
  return writer.write(path);
}

}  // namespace gemmad::tokenizer
