// Admission order for the scheduler: which queued job takes the next free sequence slot.
//
// Jobs queue per app (their `fair_key`). The next job comes from the app with the fewest running
// sequences; ties go to the app admitted least recently, then to the oldest waiting job. So an
// app with ten queued requests cannot starve one with a single request, even with one slot: the
// moment a slot frees, an app that has not been served goes before the one that just was.
//
// Plain round-robin over apps with queued jobs is not enough: it forgets that the greedy app's
// previous request held the slot, and lets it go first again after a newcomer arrived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace gemmad::daemon {

// Job: any type with a `std::string fair_key` member. Not thread-safe; the scheduler locks.
template <class Job>
class FairQueue {
 public:
  void push(Job job) {
    auto& app = apps_[job.fair_key];
    app.jobs.push_back({std::move(job), ++arrivals_});
    ++size_;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Removes and returns the next job to admit. `running(app)` is how many sequences that app has
  // running now (including ones admitted earlier in the same pass).
  template <class RunningFn>
  std::optional<Job> pop(RunningFn&& running) {
    if (size_ == 0) return std::nullopt;
    auto best = apps_.end();
    std::tuple<uint32_t, uint64_t, uint64_t> best_rank{};
    for (auto it = apps_.begin(); it != apps_.end(); ++it) {
      if (it->second.jobs.empty()) continue;
      std::tuple<uint32_t, uint64_t, uint64_t> rank{static_cast<uint32_t>(running(it->first)),
                                                    it->second.last_admitted,
                                                    it->second.jobs.front().arrival};
      if (best == apps_.end() || rank < best_rank) {
        best = it;
        best_rank = rank;
      }
    }
    Job job = std::move(best->second.jobs.front().job);
    best->second.jobs.pop_front();
    best->second.last_admitted = ++admissions_;
    --size_;
    forget_idle(running, best->first);
    return job;
  }

  // Removes and returns every queued job for which `pred(job)` holds.
  template <class Pred>
  std::vector<Job> remove_if(Pred&& pred) {
    std::vector<Job> removed;
    for (auto& [key, app] : apps_) {
      for (auto j = app.jobs.begin(); j != app.jobs.end();) {
        if (pred(j->job)) {
          removed.push_back(std::move(j->job));
          j = app.jobs.erase(j);
          --size_;
        } else {
          ++j;
        }
      }
    }
    return removed;
  }

  std::vector<Job> drain() {
    return remove_if([](const Job&) { return true; });
  }

  // How many apps the queue remembers (queued, or recently admitted and still running).
  size_t apps_tracked() const { return apps_.size(); }

 private:
  struct Waiting {
    Job job;
    uint64_t arrival;
  };
  struct App {
    std::deque<Waiting> jobs;
    uint64_t last_admitted = 0;  // 0 = never (goes first among equals)
  };

  // An app with nothing queued and nothing running has no claim to remember: forgetting it
  // keeps the map bounded by the apps actually competing. The app just admitted is kept even
  // though the caller does not count its new job as running yet.
  template <class RunningFn>
  void forget_idle(RunningFn& running, const std::string& just_admitted) {
    for (auto it = apps_.begin(); it != apps_.end();) {
      if (it->second.jobs.empty() && it->first != just_admitted && running(it->first) == 0) {
        it = apps_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::map<std::string, App> apps_;
  size_t size_ = 0;
  uint64_t arrivals_ = 0;
  uint64_t admissions_ = 0;
};

}  // namespace gemmad::daemon
