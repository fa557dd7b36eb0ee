// The constrained-decoding token index of a loaded model (daemon/model_registry.h): built
// once, shared by every caller, and, once the daemon asks for it (after READY), built on a
// thread of its own so neither the io thread nor the inference thread spends that time.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "constrain/token_index.h"
#include "daemon/model_registry.h"
#include "synth/synth_model.h"
#include "tests/common/temp_dir.h"

namespace gemmad::daemon {
namespace {

class TokenIndexSharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    synth::SynthOptions o;
    o.seed = 7;
    ASSERT_TRUE(synth::write_synthetic_model(o, dir_.file("m.gguf")).ok());
  }
  std::shared_ptr<LoadedModel> load() {
    auto m = LoadedModel::load("m", dir_.file("m.gguf"), 2048);
    EXPECT_TRUE(m.ok()) << m.error().message;
    return m.ok() ? std::move(m).value() : nullptr;
  }
  gemmad::testing::TempDir dir_;
};

TEST_F(TokenIndexSharingTest, ConcurrentCallersGetOneIndexBuiltOnce) {
  auto m = load();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->token_index_builds(), 0u);  // loading does not build it
  std::vector<std::shared_ptr<const constrain::TokenIndex>> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] { got[i] = m->token_index(); });
  for (auto& t : threads)
    t.join();
  ASSERT_TRUE(got[0]);
  EXPECT_EQ(got[0]->vocab_size(), m->tok->vocab_size());
  for (const auto& g : got)
    EXPECT_EQ(g.get(), got[0].get());
  EXPECT_EQ(m->token_index_builds(), 1u);
  m->build_token_index_in_background();  // already built: nothing to do
  EXPECT_EQ(m->token_index().get(), got[0].get());
  EXPECT_EQ(m->token_index_builds(), 1u);
}

TEST_F(TokenIndexSharingTest, BackgroundBuildIsTheOneCallersGet) {
  auto m = load();
  ASSERT_TRUE(m);
  m->build_token_index_in_background();
  m->build_token_index_in_background();  // a second request starts no second build
  // A caller arriving during the build waits for it rather than building its own.
  const auto idx = m->token_index();
  ASSERT_TRUE(idx);
  EXPECT_EQ(m->token_index_builds(), 1u);
  EXPECT_EQ(m->token_index().get(), idx.get());
}

TEST_F(TokenIndexSharingTest, RegistryBuildsEveryMappedModelsIndexWithoutACaller) {
  Config cfg;
  cfg.context_length = 2048;
  cfg.models.push_back({.name = "m", .path = dir_.file("m.gguf")});
  ModelRegistry registry(cfg);
  ASSERT_TRUE(registry.load_all().ok());
  auto m = registry.acquire("m");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->token_index_builds(), 0u);
  registry.build_token_indexes_in_background();
  // Nobody calls token_index(): the background thread alone must build it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((*m)->token_index_builds() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ((*m)->token_index_builds(), 1u);
  EXPECT_TRUE((*m)->token_index());
  EXPECT_EQ((*m)->token_index_builds(), 1u);
}

}  // namespace
}  // namespace gemmad::daemon
