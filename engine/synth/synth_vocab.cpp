// Built-in synthetic vocabulary: real Gemma 4 ids for specials, whitespace runs and bytes
// (docs/TOKENIZER.md), a character set and BPE merges for plain English, filler above.
#include "synth/synth_vocab.h"

#include <array>
#include <cstdio>
#include <string_view>
#include <unordered_set>

#include "gguf/gguf_writer.h"
#include "tokenizer/gemma4_specials.h"

namespace gemmad::synth {
namespace {

constexpr std::string_view kSpace = "\xe2\x96\x81";  // U+2581, the SentencePiece space

// The specials Gemma 4 keeps from Gemma 3; the renamed ones come from kGemma4RenamedTokens.
constexpr std::array<tokenizer::SpecialToken, 6> kBaseSpecials = {{
    {0, "<pad>", TokenType::kControl},
    {1, "<eos>", TokenType::kControl},
    {2, "<bos>", TokenType::kControl},
    {3, "<unk>", TokenType::kControl},
    {4, "<mask>", TokenType::kControl},
    {5, "[multimodal]", TokenType::kControl},
}};

constexpr uint32_t kFirstUnused = 6;  // <unused0> (Gemma 3 numbering: id = 6 + N)
constexpr uint32_t kLastUnused = 104;
constexpr uint32_t kNewlineRuns = 107;  // "\n" x 1..31
constexpr uint32_t kSpaceRuns = 138;    // U+2581 x 2..31
constexpr uint32_t kFreeLow = 168;      // first id free for characters and merges
constexpr uint32_t kBytes = 238;        // <0x00>..<0xFF>
constexpr uint32_t kFreeHigh = 494;     // after the byte tokens
constexpr uint32_t kTabRuns = 255968;   // "\t" x 1..31 (large vocabularies only)

// Characters every vocabulary gets, then the merges (by rank) that build common English
// pieces, then characters only larger vocabularies get.
constexpr std::string_view kBasicChars = "abcdefghijklmnopqrstuvwxyz0123456789.,!?'-:;()";
constexpr std::string_view kMoreChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ\"/&%+=*#@$_[]{}<>|~^`\\";
constexpr std::array<std::pair<std::string_view, std::string_view>, 56> kMerges = {{
    {"_", "t"},  {"h", "e"},   {"i", "n"},   {"e", "r"},  {"a", "n"},   {"_", "a"},  {"o", "n"},
    {"r", "e"},  {"_t", "he"}, {"e", "n"},   {"a", "t"},  {"o", "r"},   {"e", "s"},  {"i", "s"},
    {"e", "d"},  {"n", "d"},   {"o", "u"},   {"_", "s"},  {"_", "w"},   {"_", "o"},  {"_", "i"},
    {"_", "c"},  {"_", "b"},   {"_", "f"},   {"_", "p"},  {"_", "m"},   {"_", "h"},  {"_", "d"},
    {"in", "g"}, {"_o", "f"},  {"_a", "nd"}, {"_t", "o"}, {"_i", "n"},  {"a", "r"},  {"a", "l"},
    {"i", "t"},  {"s", "t"},   {"l", "e"},   {"i", "on"}, {"_", "l"},   {"_", "e"},  {"_", "n"},
    {"_", "r"},  {"_", "g"},   {"_", "y"},   {"_i", "s"}, {"_i", "t"},  {"a", "s"},  {"_w", "as"},
    {"_b", "e"}, {"e", "l"},   {"l", "l"},   {"_w", "h"}, {"_c", "on"}, {"_", "re"}, {"_", "u"},
}};

// '_' in kMerges stands for U+2581 (keeps the table readable).
std::string expand(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '_') {
      out += kSpace;
    } else {
      out += c;
    }
  }
  return out;
}

std::string repeat(std::string_view s, uint32_t n) {
  std::string out;
  for (uint32_t i = 0; i < n; ++i)
    out += s;
  return out;
}

std::string filler_name(uint32_t k) {
  std::string tail;
  do {
    tail.insert(tail.begin(), static_cast<char>('a' + k % 26));
    k /= 26;
  } while (k > 0);
  return std::string(kSpace) + "syn" + tail;
}

}  // namespace

Result<SynthVocab> build_builtin_vocab(uint32_t n_vocab) {
  if (n_vocab < kMinBuiltinVocab) {
    return make_error(ErrorCode::kInvalidArgument, "built-in vocabulary size " +
                                                       std::to_string(n_vocab) + " is below " +
                                                       std::to_string(kMinBuiltinVocab));
  }
  SynthVocab v;
  v.tokens.assign(n_vocab, std::string());
  v.types.assign(n_vocab, TokenType::kNormal);
  std::vector<bool> fixed(n_vocab, false);
  auto put = [&](uint32_t id, std::string text, TokenType type) {
    if (id >= n_vocab) return;
    v.tokens[id] = std::move(text);
    v.types[id] = type;
    fixed[id] = true;
  };
  for (uint32_t id = kFirstUnused; id <= kLastUnused; ++id) {
    put(id, "<unused" + std::to_string(id - kFirstUnused) + ">", TokenType::kControl);
  }
  for (const tokenizer::SpecialToken& s : kBaseSpecials)
    put(static_cast<uint32_t>(s.id), s.text, s.type);
  for (const tokenizer::SpecialToken& s : tokenizer::kGemma4RenamedTokens)
    put(static_cast<uint32_t>(s.id), s.text, s.type);
  for (uint32_t k = 1; k <= 31; ++k)
    put(kNewlineRuns + k - 1, repeat("\n", k), TokenType::kNormal);
  for (uint32_t k = 2; k <= 31; ++k)
    put(kSpaceRuns + k - 2, repeat(kSpace, k), TokenType::kNormal);
  for (uint32_t b = 0; b < 256; ++b) {
    char text[8];
    std::snprintf(text, sizeof text, "<0x%02X>", b);
    put(kBytes + b, text, TokenType::kByte);
  }
  if (n_vocab > kTabRuns + 31) {
    for (uint32_t k = 1; k <= 31; ++k)
      put(kTabRuns + k - 1, repeat("\t", k), TokenType::kNormal);
  }

  // The remaining ids, in order, take: U+2581 and the basic characters, the merge results
  // (a merge is listed only if its result got an id), the extra characters, then fillers.
  std::vector<std::string> pieces;
  pieces.emplace_back(kSpace);
  for (char c : kBasicChars)
    pieces.emplace_back(1, c);
  const size_t first_merge_piece = pieces.size();
  for (const auto& [l, r] : kMerges)
    pieces.push_back(expand(l) + expand(r));
  for (char c : kMoreChars)
    pieces.emplace_back(1, c);
  uint32_t next_piece = 0;
  uint32_t next_filler = 0;
  size_t n_merges_placed = 0;
  for (uint32_t id = kFreeLow; id < n_vocab; ++id) {
    if (fixed[id] || (id >= kBytes && id < kFreeHigh)) continue;
    if (next_piece < pieces.size()) {
      const size_t k = next_piece++;
      if (k >= first_merge_piece && k < first_merge_piece + kMerges.size()) ++n_merges_placed;
      v.tokens[id] = pieces[k];
    } else {
      v.tokens[id] = filler_name(next_filler++);
    }
    v.types[id] = TokenType::kNormal;
  }
  for (size_t m = 0; m < n_merges_placed; ++m) {
    v.merges.push_back(expand(kMerges[m].first) + " " + expand(kMerges[m].second));
  }
  return v;
}

void write_vocab_keys(gguf::GgufWriter& w, const SynthVocab& v) {
  // docs/GEMMA4.md §5.2 key layout; scores hold a constant (BPE ranks by merges, not scores).
  std::vector<float> scores(v.tokens.size(), -1000.0f);
  std::vector<int32_t> types(v.types.size());
  for (size_t i = 0; i < v.types.size(); ++i)
    types[i] = static_cast<int32_t>(v.types[i]);
  w.set_string("tokenizer.ggml.model", "gemma4");
  w.set_string_array("tokenizer.ggml.tokens", v.tokens);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", v.merges);
  w.set_u32("tokenizer.ggml.bos_token_id", 2);
  w.set_u32("tokenizer.ggml.eos_token_id", 106);
  w.set_u32("tokenizer.ggml.unknown_token_id", 3);
  w.set_u32("tokenizer.ggml.padding_token_id", 0);
  w.set_u32("tokenizer.ggml.mask_token_id", 4);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  // The no-tools subset of the Gemma 4 E2B/E4B format (docs/GEMMA4.md §5.4).
  w.set_string("tokenizer.chat_template",
               "{{ bos_token }}{% for message in messages %}"
               "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
               "<|turn>{{ role }}\n{{ message['content'] | trim }}<turn|>\n{% endfor %}"
               "{% if add_generation_prompt %}<|turn>model\n{% endif %}");
}

}  // namespace gemmad::synth
