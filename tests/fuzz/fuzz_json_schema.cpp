// Fuzzes the constrained-decoding compiler and matcher (docs/CONSTRAINED.md). Input: a
// dialect byte, the schema text up to the first NUL, then walk bytes that each pick one of
// the tokens the mask allows. Checks: compile never crashes (errors are values); the mask and
// accept() agree; must_end() implies complete() and an empty mask.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "constrain/constrain.h"
#include "constrain/grammar.h"
#include "constrain/token_index.h"

namespace {

using namespace gemmad::constrain;

std::shared_ptr<const TokenIndex> small_index() {
  std::vector<std::basic_string<uint16_t>> syms;
  for (uint16_t b = 0; b < 256; ++b)
    syms.emplace_back(1, b);
  syms.emplace_back(1, kSymQuote);
  for (const char* t : {"{\"", "\":", "\",\"", "true", "null", "ab", "\xc3\xa9", "12", "\"}", "[{",
                        "}]", "call:", "<|"}) {
    std::basic_string<uint16_t> s;
    for (const char* p = t; *p; ++p)
      s.push_back(static_cast<uint8_t>(*p));
    syms.push_back(s);
  }
  const size_t n = syms.size();
  return TokenIndex::build(n, std::move(syms));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto index = small_index();
  if (size < 1) return 0;
  const Dialect d = data[0] & 1 ? Dialect::kGemmaArgs : Dialect::kJson;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t nul = rest.find('\0');
  const std::string schema = rest.substr(0, nul);
  const std::string walk = nul == std::string::npos ? "" : rest.substr(nul + 1);
  std::shared_ptr<const Grammar> g;
  if (auto r = compile_json_schema(schema, d); r.ok()) {
    g = r.value();
  } else if (r.error().message.empty()) {
    __builtin_trap();  // every error says what is wrong
  }
  if (data[0] & 2) {
    std::vector<ToolSpec> tools = {{"f", schema}, {"g", ""}};
    if (auto r = compile_tool_call(tools, std::nullopt); r.ok()) g = r.value();
  }
  if (!g) g = any_json_value(d);
  Matcher m(g, index);
  std::vector<uint32_t> bits;
  for (const char c : walk) {
    m.allowed(bits);
    std::vector<TokenId> ok;
    for (size_t i = 0; i < index->vocab_size(); ++i) {
      if ((bits[i >> 5] >> (i & 31)) & 1u) ok.push_back(static_cast<TokenId>(i));
    }
    if (m.must_end() && (!m.complete() || !ok.empty())) __builtin_trap();
    if (ok.empty()) break;
    const TokenId pick = ok[static_cast<uint8_t>(c) % ok.size()];
    if (!m.accept(pick).ok()) __builtin_trap();
    // A token outside the mask is refused and leaves the matcher as it was.
    for (size_t i = 0; i < index->vocab_size(); ++i) {
      if (!m.is_allowed(static_cast<TokenId>(i))) {
        if (m.accept(static_cast<TokenId>(i)).ok()) __builtin_trap();
        break;
      }
    }
  }
  return 0;
}
