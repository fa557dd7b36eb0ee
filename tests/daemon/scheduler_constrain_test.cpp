// Constrained decoding through the real scheduler (docs/CONSTRAINED.md): a tiny synthetic
// model through the real loader; jobs with a grammar batched with one without, each
// constrained reply valid under its schema, ended by the value itself, and equal to the
// offline loop's (generate::run_sequence) for the same seed.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

#include "daemon/scheduler.h"
#include "kernels/thread_pool.h"
#include "synth/synth_model.h"
#include "tests/common/temp_dir.h"

namespace gemmad::daemon {
namespace {

constexpr const char* kSchema = R"({"type":"object","properties":{
    "name":{"type":"string","maxLength":12},"n":{"type":"integer"},
    "ok":{"type":"boolean"},"kind":{"enum":["a","b"]}},"required":["name","n","kind"]})";

struct Sink : JobSink {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<JobResult> result;
  std::string streamed;
  bool on_token(int32_t, const std::string& text) override {
    streamed += text;
    return true;
  }
  bool writable() override { return true; }
  void on_finish(JobResult r) override {
    std::lock_guard lock(mu);
    result = std::move(r);
    cv.notify_all();
  }
  JobResult wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return result.has_value(); });
    return *result;
  }
};

class SchedulerConstrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    synth::SynthOptions o;
    o.seed = 4;
    ASSERT_TRUE(synth::write_synthetic_model(o, dir_.file("m.gguf")).ok());
    auto m = LoadedModel::load("m", dir_.file("m.gguf"), 2048);
    ASSERT_TRUE(m.ok()) << m.error().message;
    model_ = std::move(m).value();
    auto g = constrain::compile_json_schema(kSchema, constrain::Dialect::kJson);
    ASSERT_TRUE(g.ok()) << g.error().message;
    grammar_ = g.value();
  }

  JobSpec job(uint64_t id, uint64_t seed, bool constrained, std::shared_ptr<Sink> sink) {
    JobSpec j;
    j.id = id;
    j.model = model_;
    j.fair_key = "1:test";
    j.prompt = model_->tok->encode("Describe", {.add_bos = true});
    j.sampling.seed = seed;
    j.limits.max_tokens = 300;
    if (constrained) j.limits.grammar = grammar_;
    j.sink = std::move(sink);
    return j;
  }

  generate::RunResult offline(uint64_t seed) {
    engine::Gemma4Forward fwd(model_->model->config(), model_->model->weights(), pool_);
    runtime::KvCachePool kv = model_->model->new_kv_pool({.n_ctx = model_->n_ctx});
    sampler::Sampler smp(sampler::SamplingParams{.seed = seed});
    generate::Limits limits;
    limits.max_tokens = 300;
    limits.grammar = grammar_;
    generate::Sequence seq(model_->tok.get(), model_->stops, limits, model_->n_ctx,
                           model_->token_index());
    const auto prompt = model_->tok->encode("Describe", {.add_bos = true});
    return generate::run_sequence(fwd, kv, 0, prompt, smp, seq,
                                  [](int32_t, const std::string&) { return true; });
  }

  gemmad::testing::TempDir dir_;
  kernels::ThreadPool pool_{1};
  std::shared_ptr<LoadedModel> model_;
  std::shared_ptr<const constrain::Grammar> grammar_;
};

TEST_F(SchedulerConstrainTest, BatchedRepliesAreValidCompleteAndEqualTheOfflineLoop) {
  Scheduler s(pool_, SchedulerOptions{.max_active = 4});
  std::vector<std::shared_ptr<Sink>> sinks;
  for (uint64_t i = 0; i < 4; ++i) {
    sinks.push_back(std::make_shared<Sink>());
    // Job 3 is unconstrained: it shares the decode steps with the constrained ones.
    ASSERT_TRUE(s.submit(job(i + 1, 10 + i, i != 3, sinks.back())).ok());
  }
  for (uint64_t i = 0; i < 3; ++i) {
    const JobResult r = sinks[i]->wait();
    ASSERT_EQ(r.reason, StopReason::kStopToken) << r.text;
    EXPECT_EQ(sinks[i]->streamed, r.text);  // the value's last token was streamed too
    const auto doc = nlohmann::json::parse(r.text, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << r.text;
    ASSERT_TRUE(doc.is_object()) << r.text;
    EXPECT_TRUE(doc["name"].is_string() && doc["name"].get<std::string>().size() <= 48);
    EXPECT_TRUE(doc["n"].is_number_integer()) << r.text;
    EXPECT_TRUE(doc["kind"] == "a" || doc["kind"] == "b") << r.text;
    const generate::RunResult off = offline(10 + i);
    EXPECT_EQ(off.stop, generate::StopReason::kStopToken);
    EXPECT_EQ(off.text, r.text);
    EXPECT_EQ(off.tokens, r.tokens);
  }
  const JobResult free = sinks[3]->wait();
  EXPECT_NE(free.reason, StopReason::kError);
  s.stop(0);
}

}  // namespace
}  // namespace gemmad::daemon
