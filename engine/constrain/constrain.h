// Constrained decoding (docs/CONSTRAINED.md): a JSON Schema subset compiled into a grammar,
// a per-vocabulary token trie, and a per-sequence Matcher that masks logits so that only
// tokens keeping the output a prefix of a valid value can be sampled.
//
// Roles: a Grammar is immutable and shareable across threads (compile once per request or
// per tool set). A TokenIndex is built once per vocabulary (LoadedModel caches it). A
// Matcher is per sequence and not thread-safe; it caches the automaton states it has seen
// and the masks of recent states, so repeated states (inside a long string) cost a lookup.
//
// Dialects: kJson is standard JSON (compact; one optional space after ':' and ','). kGemmaArgs
// is the Gemma 4 tool-call argument syntax (docs/GEMMA4.md §5.4): `{key:value,...}` with bare
// keys and strings delimited by the special token <|"|> instead of '"'.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::constrain {

using TokenId = tokenizer::TokenId;

enum class Dialect { kJson, kGemmaArgs };

class Grammar;     // grammar.h
class TokenIndex;  // token_index.h

// Errors (kInvalidArgument) name the keyword and its JSON pointer, e.g.
// "schema: keyword 'format' at /properties/date is not supported".
Result<std::shared_ptr<const Grammar>> compile_json_schema(std::string_view schema_json,
                                                           Dialect dialect);
// Any JSON value (the json_object response format accepts any value; callers wanting only
// objects compile {"type":"object"}).
std::shared_ptr<const Grammar> any_json_value(Dialect dialect);

struct ToolSpec {
  std::string name;                    // [A-Za-z0-9_.-]+
  std::string parameters_schema_json;  // empty = any object
};
// `call:NAME{args}` for NAME among `tools` (or only `only`), args in kGemmaArgs under that
// tool's parameters schema. The caller wraps it between <|tool_call> and <tool_call|>.
Result<std::shared_ptr<const Grammar>> compile_tool_call(std::span<const ToolSpec> tools,
                                                         std::optional<std::string> only);

// The vocabulary seen as symbol strings, in a trie. Build once per tokenizer (~0.3 s on the
// 262,144-token vocabulary).
Result<std::shared_ptr<const TokenIndex>> build_token_index(const tokenizer::Tokenizer& tok);

class Matcher {
 public:
  Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenIndex> index);
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // Bit i of the vector (word i / 32, bit i % 32) is set when token i may come next.
  // Resized to (vocab + 31) / 32 words. Cached per automaton state.
  void allowed(std::vector<uint32_t>& bitmask) const;
  // Sets the logit of every token that may not come next to -inf. logits.size() may exceed
  // the vocabulary (extra entries are masked too).
  void mask_logits(std::span<float> logits) const;
  bool is_allowed(TokenId id) const;
  // Advances over a token. kInternal when the token was not allowed (a bug upstream); the
  // matcher is then unchanged.
  Status accept(TokenId id);
  // The output so far is a complete value (it may also continue, e.g. more digits).
  bool complete() const;
  // Complete, and nothing more can follow.
  bool must_end() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gemmad::constrain
