// Shared helpers of the model tests: write a tiny model to a temp file and load it, run a
// token list as one batch or one token at a time, compare logits.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"
#include "models/gemma4.h"
#include "runtime/model.h"
#include "tests/engine/gguf/temp_dir.h"
#include "tiny_model.h"

namespace gemmad::engine::testing {

using Logits = std::vector<std::vector<float>>;

inline std::unique_ptr<runtime::Model> load_tiny(const TinyModelSpec& spec,
                                                 const gguf::testing::TempDir& dir,
                                                 const std::string& name = "tiny.gguf") {
  const std::string path = dir.file(name);
  Status st = write_tiny_model(spec, path);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  auto m = runtime::Model::load(path);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? std::move(m).value() : nullptr;
}

inline std::vector<int> test_tokens(int n, uint32_t vocab, uint32_t salt = 0) {
  std::vector<int> t;
  uint32_t x = 12345u + salt * 7919u;
  for (int i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    t.push_back(static_cast<int>((x >> 8) % vocab));
  }
  return t;
}

// Runs `tokens` as positions n_pos.. of sequence `seq`, all in one batch, logits for all.
inline Logits run_batch(Gemma4Forward& fwd, runtime::KvCachePool& kv,
                        const std::vector<int>& tokens, int seq = 0) {
  runtime::Batch b;
  const int32_t p0 = kv.seq(seq).n_pos();
  for (size_t i = 0; i < tokens.size(); ++i)
    b.add(tokens[i], p0 + static_cast<int32_t>(i), seq, true);
  ForwardOutput out;
  Status st = fwd.forward(b, kv, out);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  Logits l;
  for (size_t i = 0; i < out.rows.size(); ++i) {
    l.emplace_back(out.row_logits(i), out.row_logits(i) + out.n_vocab);
  }
  return l;
}

inline Logits run_steps(Gemma4Forward& fwd, runtime::KvCachePool& kv,
                        const std::vector<int>& tokens, int seq = 0) {
  Logits l;
  for (int t : tokens) {
    Logits one = run_batch(fwd, kv, {t}, seq);
    if (one.size() == 1) l.push_back(std::move(one[0]));
  }
  return l;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = a.size() == b.size() ? 0.0 : 1e30;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  }
  return m;
}

inline double max_abs_diff(const Logits& a, const Logits& b) {
  double m = a.size() == b.size() ? 0.0 : 1e30;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, max_abs_diff(a[i], b[i]));
  return m;
}

}  // namespace gemmad::engine::testing
