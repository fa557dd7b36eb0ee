// The sampler on hand-made logit vectors whose outcomes and frequencies follow from the
// definitions (docs/GEMMA4.md §5.3 for the stop set and defaults).
#include "sampler/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace gemmad::sampler {
namespace {

// Only the listed features on; everything else off.
SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<float> log_probs(std::vector<double> p) {
  std::vector<float> l;
  for (const double x : p)
    l.push_back(static_cast<float>(std::log(x)));
  return l;
}

// Frequencies of each id over n draws.
std::vector<double> frequencies(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < n; ++i)
    f[static_cast<size_t>(s.sample(logits))] += 1.0 / n;
  return f;
}

// Tolerance 0.02 is > 5 standard deviations of a frequency estimated from 20000 draws
// (sd <= sqrt(0.25 / 20000) = 0.0035), so a correct sampler passes for any seed.
constexpr int kDraws = 20000;
constexpr double kTol = 0.02;

TEST(Sampler, GreedyPicksTheArgmaxAndIgnoresNan) {
  Sampler s(plain(0.0f));
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 2.9f}), 1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(s.sample(std::vector<float>{nan, 0.5f, nan, 0.7f}), 3);
}

TEST(Sampler, TopKOfOneEqualsGreedyForAnySeed) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits(1000);
    for (float& x : logits)
      x = normal(gen);
    SamplingParams p = plain(1.0f, seed);
    p.top_k = 1;
    Sampler s(p);
    const auto argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(s.sample(logits), argmax);
  }
}

TEST(Sampler, DrawsTheSameTokensForTheSameSeed) {
  const auto logits = log_probs({0.25, 0.25, 0.25, 0.25});
  Sampler a(plain(1.0f, 42)), b(plain(1.0f, 42)), c(plain(1.0f, 43));
  std::vector<TokenId> ra, rb, rc;
  for (int i = 0; i < 64; ++i) {
    ra.push_back(a.sample(logits));
    rb.push_back(b.sample(logits));
    rc.push_back(c.sample(logits));
  }
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);  // 4^-64 chance of equality
}

TEST(Sampler, SamplesTheSoftmaxAtTemperatureOne) {
  Sampler s(plain(1.0f, 3));
  const auto f = frequencies(s, log_probs({0.5, 0.3, 0.2}), kDraws);
  EXPECT_NEAR(f[0], 0.5, kTol);
  EXPECT_NEAR(f[1], 0.3, kTol);
  EXPECT_NEAR(f[2], 0.2, kTol);
}

TEST(Sampler, FlattensTheDistributionAtTemperatureTwo) {
  // At T = 2, p_i is proportional to sqrt(p_i).
  Sampler s(plain(2.0f, 4));
  const std::vector<double> p = {0.5, 0.3, 0.2};
  const double z = std::sqrt(0.5) + std::sqrt(0.3) + std::sqrt(0.2);
  const auto f = frequencies(s, log_probs(p), kDraws);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(f[i], std::sqrt(p[i]) / z, kTol) << i;
}

TEST(Sampler, TopKKeepsTheKLargestRenormalised) {
  SamplingParams p = plain(1.0f, 5);
  p.top_k = 2;
  Sampler s(p);
  const auto f = frequencies(s, log_probs({0.2, 0.5, 0.3}), kDraws);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_NEAR(f[1], 0.5 / 0.8, kTol);
  EXPECT_NEAR(f[2], 0.3 / 0.8, kTol);
}

TEST(Sampler, TopPKeepsTheTokenThatCrossesTheThreshold) {
  const auto logits = log_probs({0.5, 0.3, 0.2});
  SamplingParams p = plain(1.0f, 6);
  p.top_p = 0.7f;  // 0.5 < 0.7 -> keep the 0.3 token too; 0.8 >= 0.7 -> drop the rest
  Sampler s(p);
  auto f = frequencies(s, logits, kDraws);
  EXPECT_NEAR(f[0], 0.625, kTol);
  EXPECT_NEAR(f[1], 0.375, kTol);
  EXPECT_EQ(f[2], 0.0);

  p.top_p = 0.45f;  // the first token alone reaches 0.45
  Sampler one(p);
  f = frequencies(one, logits, 2000);
  EXPECT_EQ(f[1], 0.0);
  EXPECT_EQ(f[2], 0.0);

  p.top_p = 0.85f;  // needs all three
  Sampler all(p);
  f = frequencies(all, logits, kDraws);
  EXPECT_NEAR(f[2], 0.2, kTol);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheTopProbability) {
  const auto logits = log_probs({0.5, 0.3, 0.2});
  SamplingParams p = plain(1.0f, 7);
  p.min_p = 0.5f;  // floor 0.25: keeps 0.5 and 0.3
  Sampler s(p);
  auto f = frequencies(s, logits, kDraws);
  EXPECT_NEAR(f[0], 0.625, kTol);
  EXPECT_EQ(f[2], 0.0);
  p.min_p = 0.3f;  // floor 0.15: keeps all
  Sampler all(p);
  f = frequencies(all, logits, kDraws);
  EXPECT_NEAR(f[2], 0.2, kTol);
}

TEST(Sampler, MinPAndTopPWorkWithoutTopKOnAFullSizeVocabulary) {
  // 262144 logits, one dominant group: the sampled id must lie in the nucleus computed here
  // by a plain full sort.
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(262144);
  for (float& x : logits)
    x = normal(gen);
  for (int i = 0; i < 10; ++i)
    logits[static_cast<size_t>(i) * 1000] = 14.0f + static_cast<float>(i);
  std::vector<int> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  double z = 0;
  for (const float x : logits)
    z += std::exp(static_cast<double>(x) - 23.0);
  std::vector<int> nucleus;
  double cum = 0;
  for (const int id : order) {
    if (cum >= 0.95 * z) break;
    nucleus.push_back(id);
    cum += std::exp(static_cast<double>(logits[id]) - 23.0);
  }
  SamplingParams p = plain(1.0f, 8);
  p.top_p = 0.95f;
  Sampler s(p);
  for (int i = 0; i < 20; ++i) {
    const TokenId id = s.sample(logits);
    EXPECT_NE(std::find(nucleus.begin(), nucleus.end(), id), nucleus.end()) << id;
  }
}

TEST(Sampler, DefaultTopKPicksOnlyAmongTheSixtyFourLargest) {
  std::mt19937 gen(12);
  std::uniform_real_distribution<float> uni(-5.0f, 5.0f);
  std::vector<float> logits(262144);
  for (float& x : logits)
    x = uni(gen);
  std::vector<float> sorted = logits;
  std::nth_element(sorted.begin(), sorted.begin() + 63, sorted.end(), std::greater<float>());
  const float kth = sorted[63];
  SamplingParams p;  // defaults: T 1, top-k 64, top-p 0.95
  p.seed = 9;
  Sampler s(p);
  for (int i = 0; i < 100; ++i)
    EXPECT_GE(logits[static_cast<size_t>(s.sample(logits))], kth);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p = plain(0.0f);
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  s.accept(0);
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.9f}), 1);  // 2.0 -> 1.0
  Sampler neg(p);
  neg.accept(0);
  EXPECT_EQ(neg.sample(std::vector<float>{-1.0f, -1.5f}), 1);  // -1.0 -> -2.0
}

TEST(Sampler, RepetitionPenaltyLooksOnlyAtTheWindow) {
  SamplingParams p = plain(0.0f);
  p.repetition_penalty = 2.0f;
  p.repetition_window = 2;
  Sampler s(p);
  for (const TokenId id : {0, 1, 1})
    s.accept(id);  // 0 has left the window of 2
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.9f}), 0);
  // The sampled token enters the window: now 0 is penalised.
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.9f, 1.5f}), 2);
}

TEST(Sampler, HandlesDegenerateRows) {
  const float inf = std::numeric_limits<float>::infinity();
  Sampler s(plain(1.0f));
  EXPECT_EQ(s.sample(std::vector<float>{-inf, -inf, -inf}), 0);
  EXPECT_EQ(s.sample(std::vector<float>{0.0f, inf, 1.0f}), 1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(s.sample(std::vector<float>{nan, nan}), 0);
}

TEST(Sampler, SamplesEachRowOfABatchWithItsOwnSampler) {
  Sampler a(plain(0.0f)), b(plain(0.0f));
  const std::vector<float> logits = {0.0f, 5.0f, 1.0f,   // row 0 -> 1
                                     9.0f, 5.0f, 1.0f};  // row 1 -> 0
  Sampler* rows[] = {&a, &b};
  TokenId out[2] = {-1, -1};
  sample_batch(rows, logits, 3, out);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 0);
}

TEST(SamplingParams, AreValidatedWithTheParameterNamed) {
  EXPECT_TRUE(validate(SamplingParams{}).ok());
  SamplingParams p;
  p.temperature = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(validate(p).error().message.find("temperature"), std::string::npos);
  p = {};
  p.top_p = 0.0f;
  EXPECT_NE(validate(p).error().message.find("top_p"), std::string::npos);
  p.top_p = 1.5f;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.top_k = -1;
  EXPECT_NE(validate(p).error().message.find("top_k"), std::string::npos);
  p = {};
  p.repetition_window = 1 << 20;
  EXPECT_NE(validate(p).error().message.find("repetition_window"), std::string::npos);
  p = {};
  p.min_p = 2.0f;
  EXPECT_NE(validate(p).error().message.find("min_p"), std::string::npos);
  EXPECT_FALSE(Sampler::create(p).ok());
  EXPECT_TRUE(Sampler::create(SamplingParams{}).ok());
}

}  // namespace
}  // namespace gemmad::sampler
