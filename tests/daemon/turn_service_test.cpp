// The turn service without a socket: two tiny synthetic models through the real loader,
// the real scheduler and a real SQLite file, driven on this thread's io_context.
#include "daemon/turn_service_impl.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "kernels/thread_pool.h"
#include "tests/common/generation_cases.h"
#include "tests/common/temp_dir.h"

namespace gemmad::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Collects one request's stream.
struct Collect : TurnStream {
  std::optional<TurnStartInfo> start;
  std::string text;
  std::vector<int32_t> ids;
  std::optional<TurnOutcome> done;
  void on_start(const TurnStartInfo& info) override { start = info; }
  bool on_token(int32_t id, const std::string& t) override {
    if (id >= 0) ids.push_back(id);
    text += t;
    return true;
  }
  bool writable() override { return true; }
  void on_done(TurnOutcome o) override { done = std::move(o); }
};

class TurnServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    for (auto [name, seed] : {std::pair{"a", 1}, std::pair{"b", 2}}) {
      synth::SynthOptions o;
      o.seed = static_cast<uint64_t>(seed);
      ASSERT_TRUE(synth::write_synthetic_model(o, dir_.file(std::string(name) + ".gguf")).ok());
    }
  }
  void start_service(uint32_t context_length, int64_t keep_alive_ms = -1) {
    cfg_.context_length = context_length;
    cfg_.models = {{.name = "a", .path = dir_.file("a.gguf"), .keep_alive_ms = keep_alive_ms},
                   {.name = "b", .path = dir_.file("b.gguf"), .keep_alive_ms = keep_alive_ms}};
    cfg_.models_dir = dir_.file("");
    registry_ = std::make_unique<ModelRegistry>(cfg_);
    ASSERT_TRUE(registry_->load_all().ok());
    auto st = store::SessionStore::open(dir_.file("gemmad.db"), {});
    ASSERT_TRUE(st.ok()) << st.error().message;
    store_ = std::move(st).value();
    scheduler_ = std::make_unique<Scheduler>(pool_, SchedulerOptions{});
    service_ = std::make_unique<TurnServiceImpl>(io_, cfg_, *registry_, *store_, *scheduler_);
  }
  void TearDown() override {
    if (scheduler_) scheduler_->stop(0);
  }

  // Runs one request to its end.
  std::shared_ptr<Collect> run(TurnRequest req, Result<TurnHandle>* started = nullptr) {
    auto c = std::make_shared<Collect>();
    req.caller = {.uid = 1000, .app_name = "test"};
    auto h = service_->start(std::move(req), c);
    if (started) *started = h;
    if (!h.ok()) return c;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!c->done && Clock::now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(20));
    }
    return c;
  }
  // Runs the io loop until `cond` holds (or 10 s pass).
  bool run_until(const std::function<bool()>& cond) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!cond() && Clock::now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
    }
    return cond();
  }
  static TurnRequest completion(const std::string& model, const std::string& prompt,
                                generate::Limits limits) {
    TurnRequest r;
    r.kind = TurnKind::kCompletion;
    r.model = model;
    r.completion = {.prompt = prompt, .raw = true};
    r.params.temperature = 0.0f;
    r.params.max_tokens = static_cast<uint32_t>(limits.max_tokens);
    r.params.ignore_eos = limits.ignore_eos;
    r.params.stop = limits.stop_strings;
    return r;
  }
  static TurnRequest chat(const std::string& text, const std::string& session = "",
                          uint32_t max_tokens = 8) {
    TurnRequest r;
    r.kind = TurnKind::kStoredChat;
    r.chat = {.session_id = session, .new_session = session.empty(), .user_text = text};
    r.params.temperature = 0.0f;
    r.params.max_tokens = max_tokens;
    r.params.ignore_eos = true;
    return r;
  }
  // The offline loop's answer for the same file and case.
  generate::RunResult offline(const std::string& file, const gemmad::testing::GenerationCase& c) {
    auto m = LoadedModel::load("x", file, 4096);
    EXPECT_TRUE(m.ok());
    engine::Gemma4Forward fwd((*m)->model->config(), (*m)->model->weights(), pool_);
    runtime::KvCachePool kv = (*m)->model->new_kv_pool({.n_ctx = (*m)->n_ctx});
    sampler::Sampler smp(sampler::SamplingParams{.temperature = 0.0f});
    generate::Sequence seq((*m)->tok.get(), (*m)->stops, c.limits, (*m)->n_ctx);
    const auto prompt = (*m)->tok->encode(c.prompt, {.add_bos = true});
    return generate::run_sequence(fwd, kv, 0, prompt, smp, seq,
                                  [](int32_t, const std::string&) { return true; });
  }

  gemmad::testing::TempDir dir_;
  kernels::ThreadPool pool_{1};
  boost::asio::io_context io_;
  Config cfg_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<store::SessionStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<TurnServiceImpl> service_;
};

TEST_F(TurnServiceTest, EachModelAnswersAsTheOfflineLoopDoesForTheSameCases) {
  start_service(4096);
  for (const auto& c : gemmad::testing::generation_cases()) {
    if (c.n_ctx == 0) continue;  // needs a context per prompt: generation_test covers it
    for (const char* model : {"a", "b"}) {
      SCOPED_TRACE(c.name + " on " + model);
      const auto want = offline(dir_.file(std::string(model) + ".gguf"), c);
      auto got = run(completion(model, c.prompt, c.limits));
      ASSERT_TRUE(got->done);
      ASSERT_TRUE(got->done->status.ok()) << got->done->status.error().message;
      EXPECT_EQ(got->done->model, model);
      EXPECT_EQ(got->ids, want.tokens);
      EXPECT_EQ(got->text, want.text);
      EXPECT_EQ(got->done->text, want.text);
      EXPECT_STREQ(turn_stop_name(got->done->stop), generate::stop_reason_name(want.stop));
    }
  }
  const auto a = run(completion("a", "the cat", {.max_tokens = 12, .ignore_eos = true}));
  const auto b = run(completion("b", "the cat", {.max_tokens = 12, .ignore_eos = true}));
  EXPECT_NE(a->ids, b->ids) << "two models with different weights answered alike";
  Result<TurnHandle> h = TurnHandle{0};
  run(completion("c", "x", {}), &h);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().code, ErrorCode::kNotFound);
  EXPECT_NE(h.error().message.find("models: a, b"), std::string::npos) << h.error().message;
}

TEST_F(TurnServiceTest, ARefusedFirstTurnLeavesNoSession) {
  start_service(128);
  std::string huge;
  for (int i = 0; i < 300; ++i)
    huge += "word ";
  Result<TurnHandle> h = TurnHandle{0};
  auto c = run(chat(huge), &h);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(h.error().message.find("context_full"), std::string::npos) << h.error().message;
  EXPECT_FALSE(c->start);
  EXPECT_EQ(*store_->count_all_sessions(), 0);
}

TEST_F(TurnServiceTest, CutRepliesAreTruncatedAndTheSessionKeepsItsModel) {
  start_service(4096);
  TurnRequest first = chat("hello there", "", 3);
  first.model = "b";
  auto t1 = run(std::move(first));
  ASSERT_TRUE(t1->done && t1->done->status.ok());
  EXPECT_EQ(t1->done->stop, TurnStop::kMaxTokens);
  EXPECT_EQ(t1->done->message_status, TurnMessageStatus::kTruncated);
  const std::string session = t1->done->session_id;
  auto app = store_->ensure_app(1000, "test");
  auto msgs = store_->messages(*app, session);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 2u);
  EXPECT_EQ((*msgs)[1].status, store::MessageStatus::kTruncated);
  // Continuing with another model is refused, naming the session's model.
  TurnRequest other = chat("more", session);
  other.model = "a";
  Result<TurnHandle> h = TurnHandle{0};
  run(std::move(other), &h);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("belongs to model 'b'"), std::string::npos) << h.error().message;
  // Without a model name it continues with the session's.
  auto t2 = run(chat("more", session));
  ASSERT_TRUE(t2->done && t2->done->status.ok());
  EXPECT_EQ(t2->done->model, "b");
}

// The KV-reuse contract: the next turn's prompt continues the previous turn's sequence, so
// the scheduler's slot serves all of it but the last generated token (sampled at
// max_tokens, never fed).
TEST_F(TurnServiceTest, TheNextTurnReusesEveryTokenTheSlotHolds) {
  start_service(4096);
  auto t1 = run(chat("the cat sat", "", 6));
  ASSERT_TRUE(t1->done && t1->done->status.ok());
  ASSERT_EQ(t1->done->stop, TurnStop::kMaxTokens);
  auto t2 = run(chat("and then", t1->done->session_id, 6));
  ASSERT_TRUE(t2->done && t2->done->status.ok());
  EXPECT_EQ(t2->done->usage.cached_tokens,
            t1->done->usage.prompt_tokens + t1->done->usage.completion_tokens - 1);
  EXPECT_GT(t2->done->usage.prompt_tokens, t2->done->usage.cached_tokens);
}

TEST_F(TurnServiceTest, ALongConversationLeavesOutItsOldestTurnsAndKeepsGoing) {
  start_service(256);
  std::string session;
  uint32_t left_out = 0;
  for (int turn = 0; turn < 16; ++turn) {
    auto t =
        run(chat("tell me about the number " + std::to_string(turn) + " and the cat", session, 16));
    ASSERT_TRUE(t->done) << "turn " << turn;
    ASSERT_TRUE(t->done->status.ok()) << "turn " << turn << ": " << t->done->status.error().message;
    ASSERT_TRUE(t->start);
    EXPECT_EQ(t->start->turns_left_out, t->done->usage.turns_left_out);
    EXPECT_LE(t->done->usage.prompt_tokens, 256u - 16u);
    EXPECT_GE(t->done->usage.turns_left_out, left_out) << "turn " << turn;
    left_out = t->done->usage.turns_left_out;
    session = t->done->session_id;
  }
  EXPECT_GT(left_out, 0u);
  auto app = store_->ensure_app(1000, "test");
  EXPECT_EQ(store_->messages(*app, session)->size(), 32u);  // the store keeps every turn
}

TEST_F(TurnServiceTest, AnIdleModelIsUnmappedAfterKeepAliveAndMappedAgain) {
  start_service(4096, /*keep_alive_ms=*/-1);
  TurnRequest r = completion("b", "the cat", {.max_tokens = 6, .ignore_eos = true});
  r.keep_alive = std::chrono::milliseconds(0);
  auto first = run(r);
  ASSERT_TRUE(first->done && first->done->status.ok());
  auto entry = [&](const std::string& name) {
    for (const auto& e : service_->models(false)) {
      if (e.name == name) return e;
    }
    return ModelEntry{};
  };
  ASSERT_TRUE(run_until([&] { return !entry("b").loaded; }));
  EXPECT_EQ(entry("b").resident_bytes, 0u);
  EXPECT_TRUE(entry("a").loaded);  // keep_alive -1: never unmapped
  auto again = run(r);
  ASSERT_TRUE(again->done && again->done->status.ok());
  EXPECT_EQ(again->ids, first->ids);
  auto files = service_->models(true);
  EXPECT_EQ(files.size(), 2u);  // a.gguf and b.gguf are configured, not listed twice
}

}  // namespace
}  // namespace gemmad::daemon
