// Constrained decoding cost over the real 262,144-token vocabulary (docs/PERFORMANCE.md
// "Constrained decoding"): token-index build, compile time of a 20-property schema, and the
// per-token mask + accept cost on random walks through several grammars, next to one decode
// step of the model given with --model (E2B Q4_0) measured in the same run.
//
//   constrain_bench [--tokenizer-json F | --model F.gguf] [--walks N] [--seed S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "constrain/constrain.h"
#include "constrain/token_index.h"
#include "kernels/thread_pool.h"
#include "models/gemma4.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_import.h"

namespace {

using namespace gemmad;
using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

std::string twenty_properties() {
  const char* types[] = {R"({"type":"string","maxLength":40})", R"({"type":"integer"})",
                         R"({"type":"number"})", R"({"type":"boolean"})",
                         R"({"enum":["low","medium","high"]})"};
  std::string props;
  std::string req;
  for (int i = 0; i < 20; ++i) {
    if (i) {
      props += ",";
      req += ",";
    }
    props += "\"field_" + std::to_string(i) + "\":" + types[i % 5];
    req += "\"field_" + std::to_string(i) + "\"";
  }
  return R"({"type":"object","properties":{)" + props + "},\"required\":[" + req + "]}";
}

struct Walks {
  size_t tokens = 0;
  std::vector<double> mask_us, accept_us;
};

// Random walks: each step computes the mask, picks a random allowed token (the stop set when
// complete, with probability 1/4) and accepts it.
Walks walk(const std::shared_ptr<const constrain::Grammar>& g,
           const std::shared_ptr<const constrain::TokenIndex>& idx, size_t vocab, int n_walks,
           uint64_t seed) {
  Walks w;
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> bits;
  std::vector<int32_t> allowed;
  for (int k = 0; k < n_walks; ++k) {
    constrain::Matcher m(g, idx);
    for (int step = 0; step < 256 && !m.must_end(); ++step) {
      if (m.complete() && rng() % 4 == 0) break;
      auto t0 = Clock::now();
      m.allowed(bits);
      w.mask_us.push_back(us_since(t0));
      allowed.clear();
      for (size_t i = 0; i < vocab; ++i) {
        if ((bits[i >> 5] >> (i & 31)) & 1u) allowed.push_back(static_cast<int32_t>(i));
      }
      if (allowed.empty()) break;
      const int32_t id = allowed[rng() % allowed.size()];
      t0 = Clock::now();
      if (!m.accept(id).ok()) {
        std::fprintf(stderr, "constrain_bench: accept failed (a bug)\n");
        std::exit(1);
      }
      w.accept_us.push_back(us_since(t0));
      ++w.tokens;
    }
  }
  return w;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (const double x : v)
    s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Mean ms of one decode step (one token at a growing position) after a 16-token prefill.
double decode_step_ms(const runtime::Model& m, int steps) {
  kernels::ThreadPool pool(0);
  engine::Gemma4Forward fwd(m.config(), m.weights(), pool);
  runtime::KvCacheOptions o;
  o.n_ctx = 256;
  runtime::KvCachePool kv = m.new_kv_pool(o);
  runtime::Batch batch;
  for (int i = 0; i < 16; ++i)
    batch.add(2 + i, i, 0, i == 15);
  engine::ForwardOutput out;
  if (!fwd.forward(batch, kv, out).ok()) return -1;
  double total = 0;
  for (int s = 0; s < steps; ++s) {
    batch.clear();
    batch.add(100 + s, 16 + s, 0, true);
    const auto t0 = Clock::now();
    if (!fwd.forward(batch, kv, out).ok()) return -1;
    total += us_since(t0) / 1e3;
  }
  return total / steps;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path = std::string(GEMMAD_SOURCE_DIR) + "/models/tokenizer.json";
  std::string model_path;
  int n_walks = 20;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tokenizer-json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--model" && i + 1 < argc) {
      model_path = argv[++i];
    } else if (a == "--walks" && i + 1 < argc) {
      n_walks = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::printf(
          "usage: constrain_bench [--tokenizer-json F | --model F.gguf] [--walks N] "
          "[--seed S]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  std::unique_ptr<runtime::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (!model_path.empty()) {
    auto m = runtime::Model::load(model_path);
    if (!m.ok()) {
      std::fprintf(stderr, "constrain_bench: %s\n", m.error().message.c_str());
      return 1;
    }
    model = std::move(m).value();
    auto t = tokenizer::Tokenizer::from_gguf(model->file());
    if (!t.ok()) {
      std::fprintf(stderr, "constrain_bench: %s\n", t.error().message.c_str());
      return 1;
    }
    tok = std::move(t).value();
  } else {
    auto data = tokenizer::import_hf_tokenizer_file(json_path);
    if (!data.ok()) {
      std::fprintf(stderr, "constrain_bench: %s (run scripts/fetch-tokenizer.sh)\n",
                   data.error().message.c_str());
      return 1;
    }
    auto t = tokenizer::Tokenizer::from_data(*data);
    if (!t.ok()) {
      std::fprintf(stderr, "constrain_bench: %s\n", t.error().message.c_str());
      return 1;
    }
    tok = std::move(t).value();
  }
  const size_t vocab = tok->vocab_size();
  auto t0 = Clock::now();
  auto idx = constrain::build_token_index(*tok);
  if (!idx.ok()) {
    std::fprintf(stderr, "constrain_bench: %s\n", idx.error().message.c_str());
    return 1;
  }
  std::printf("vocabulary: %zu tokens; token index: %zu trie nodes, built in %.1f ms\n", vocab,
              (*idx)->nodes().size(), us_since(t0) / 1e3);

  const std::string twenty = twenty_properties();
  constexpr int kCompiles = 50;
  t0 = Clock::now();
  for (int i = 0; i < kCompiles; ++i) {
    auto g = constrain::compile_json_schema(twenty, constrain::Dialect::kJson);
    if (!g.ok()) {
      std::fprintf(stderr, "constrain_bench: %s\n", g.error().message.c_str());
      return 1;
    }
  }
  std::printf("compile a 20-property schema: %.1f us (mean of %d)\n", us_since(t0) / kCompiles,
              kCompiles);

  struct Case {
    const char* name;
    std::shared_ptr<const constrain::Grammar> g;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, std::string_view schema, constrain::Dialect d) {
    auto g = constrain::compile_json_schema(schema, d);
    if (g.ok()) cases.push_back({name, g.value()});
  };
  add("20 properties", twenty, constrain::Dialect::kJson);
  add("free text (maxLength 200)", R"({"type":"object","properties":{"answer":
      {"type":"string","maxLength":200}},"required":["answer"]})",
      constrain::Dialect::kJson);
  add("free text (no maxLength)", R"({"type":"object","properties":{"answer":
      {"type":"string"}},"required":["answer"]})",
      constrain::Dialect::kJson);
  cases.push_back({"any JSON value", constrain::any_json_value(constrain::Dialect::kJson)});
  const std::vector<constrain::ToolSpec> tools = {
      {"get_weather", R"({"type":"object","properties":{"city":{"type":"string"},
        "unit":{"enum":["celsius","fahrenheit"]}},"required":["city"]})"},
      {"search", R"({"type":"object","properties":{"query":{"type":"string","maxLength":100},
        "limit":{"type":"integer"}},"required":["query"]})"}};
  if (auto g = constrain::compile_tool_call(tools, std::nullopt); g.ok())
    cases.push_back({"tool call (Gemma args)", g.value()});

  std::printf("\n%-28s %8s %10s %10s %10s %10s\n", "grammar", "tokens", "mask us", "mask p99",
              "accept us", "total us");
  double worst = 0;
  for (const Case& c : cases) {
    const Walks w = walk(c.g, *idx, vocab, n_walks, seed);
    const double total = mean(w.mask_us) + mean(w.accept_us);
    worst = std::max(worst, total);
    std::printf("%-28s %8zu %10.1f %10.1f %10.2f %10.1f\n", c.name, w.tokens, mean(w.mask_us),
                pct(w.mask_us, 0.99), mean(w.accept_us), total);
  }
  if (model) {
    const double step = decode_step_ms(*model, 8);
    std::printf("\ndecode step (%s): %.1f ms; worst mean mask+accept: %.3f ms = %.2f %% of it\n",
                model_path.c_str(), step, worst / 1e3, 100.0 * worst / 1e3 / step);
  }
  return 0;
}
