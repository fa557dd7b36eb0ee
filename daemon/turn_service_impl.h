// The real TurnService: the store, the model registry and the scheduler behind the
// front-end API of turn_service.h. See docs/ARCHITECTURE.md "Turn service".
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/model_registry.h"
#include "daemon/scheduler.h"
#include "daemon/session_tokens.h"
#include "daemon/turn_service.h"
#include "store/session_store.h"

namespace gemmad::daemon {

class TurnServiceImpl : public TurnService {
 public:
  TurnServiceImpl(boost::asio::io_context& io, const Config& config, ModelRegistry& models,
                  store::SessionStore& store, Scheduler& scheduler);
  ~TurnServiceImpl() override;

  Result<TurnHandle> start(TurnRequest request, std::shared_ptr<TurnStream> stream) override;
  void cancel(TurnHandle handle) override;
  void wake() override { scheduler_.wake(); }
  std::vector<ModelEntry> models(bool with_files) const override;
  ServiceStatus status() const override;
  void add_finished_listener(FinishedListener listener) override {
    listeners_.push_back(std::move(listener));
  }

  // Started requests whose on_done has not run (their turn may be being committed).
  size_t in_flight() const { return requests_.size(); }
  // Runs `done` on the io thread once no request is in flight (the drain: commits that
  // are still on the store thread finish and send their on_done first).
  void when_idle(std::function<void()> done);

 private:
  struct Request;
  struct Prepared;
  // The new user message's media as the prompt needs them: where (anchors) and how many rows
  // they add (soft tokens plus begin/end tokens).
  struct MediaTurn {
    std::vector<chat::MediaAnchor> anchors;
    uint32_t rows = 0;
  };
  Result<Prepared> prepare(TurnRequest& req, const std::shared_ptr<LoadedModel>& model,
                           const MediaTurn& media);
  Result<Prepared> prepare_stored(TurnRequest& req, const std::shared_ptr<LoadedModel>& model,
                                  uint32_t budget, const MediaTurn& media);
  void on_job_done(TurnHandle handle, struct JobResult result);
  void finish(TurnHandle handle, JobResult result, TurnOutcome out,
              std::optional<Result<store::Session>> saved);
  Result<store::AppId> app_of(const Caller& caller);
  void report(const FinishedRequest& f);
  void arm_keep_alive();

  boost::asio::io_context& io_;
  const Config& config_;
  ModelRegistry& registry_;
  store::SessionStore& store_;
  Scheduler& scheduler_;
  SessionTokenCache session_tokens_;
  std::map<TurnHandle, std::unique_ptr<Request>> requests_;
  std::map<std::pair<uint32_t, std::string>, store::AppId> apps_;
  std::vector<FinishedListener> listeners_;
  boost::asio::steady_timer keep_alive_timer_;
  std::vector<std::function<void()>> idle_waiters_;
  // The SQLite commit of a turn (an fsync, synchronous=FULL) runs here, not on the io
  // thread, so a slow disk delays only the turn being stored, not every other stream.
  // Declared last: joined first on destruction, while everything it uses still exists.
  boost::asio::thread_pool store_thread_{1};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  TurnHandle next_handle_ = 1;
};

}  // namespace gemmad::daemon
