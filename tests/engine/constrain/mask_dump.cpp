// Test tool for tests/reference/constrain_ref.py: reads {"vocab": [[symbols of each token:
// bytes 0..255, 256 = <|"|>]], "dialect": "json"|"gemma", "schema": {...}, "prefixes": [[ids],
// ...]} from stdin and prints {"masks": [[allowed ids], ...]} (or {"error": "..."}), computed by
// the real TokenIndex and Matcher. The request is read as ordered JSON: property order matters.
#include <algorithm>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "constrain/constrain.h"
#include "constrain/grammar.h"
#include "constrain/token_index.h"

using namespace gemmad::constrain;

int main() {
  const std::string in((std::istreambuf_iterator<char>(std::cin)),
                       std::istreambuf_iterator<char>());
  const nlohmann::ordered_json req = nlohmann::ordered_json::parse(in, nullptr, false);
  if (req.is_discarded()) {
    std::cout << R"({"error":"input is not JSON"})"
              << "\n";
    return 1;
  }
  std::vector<std::basic_string<uint16_t>> syms;
  for (const auto& t : req["vocab"]) {
    std::basic_string<uint16_t> s;
    for (const auto& sym : t)
      s.push_back(static_cast<uint16_t>(std::min<int>(sym.get<int>(), kSymQuote)));
    syms.push_back(s);
  }
  const size_t n = syms.size();
  const auto index = TokenIndex::build(n, std::move(syms));
  const Dialect d = req["dialect"] == "gemma" ? Dialect::kGemmaArgs : Dialect::kJson;
  auto g = compile_json_schema(req["schema"].dump(), d);
  nlohmann::json out;
  if (!g.ok()) {
    out["error"] = g.error().message;
    std::cout << out.dump() << "\n";
    return 1;
  }
  out["masks"] = nlohmann::json::array();
  for (const auto& prefix : req["prefixes"]) {
    Matcher m(g.value(), index);
    bool ok = true;
    for (const auto& id : prefix)
      ok = ok && m.accept(id.get<TokenId>()).ok();
    nlohmann::json allowed = nlohmann::json::array();
    for (size_t i = 0; ok && i < n; ++i) {
      if (m.is_allowed(static_cast<TokenId>(i))) allowed.push_back(i);
    }
    out["masks"].push_back(ok ? allowed : nlohmann::json(nullptr));
  }
  std::cout << out.dump() << "\n";
  return 0;
}
