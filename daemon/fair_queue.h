// Admission order for the scheduler: which queued job takes the next free sequence slot.
//
// Fairness has two levels. A job's `fair_key` is "uid:app" (the kernel's peer uid, then the
// client's self-declared app name); the part before the first ':' is its group (the uid). The
// next job comes from the group with the fewest running sequences, then, within it, from the
// app with the fewest; ties go to the group (then app) admitted least recently, then to the
// oldest waiting job. App names are chosen by clients, so a user who opens ten app names still
// gets one user's share; apps of one user share that user's share.
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
#include <string_view>
#include <tuple>
#include <vector>

namespace gemmad::daemon {

// The group (uid) part of a fair key: everything before the first ':' (the whole key if none).
inline std::string_view fair_group(std::string_view fair_key) {
  return fair_key.substr(0, fair_key.find(':'));
}

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

  // Jobs waiting whose key is in `group` (a uid): for per-uid queue limits.
  size_t queued_in_group(std::string_view group) const {
    size_t n = 0;
    for (const auto& [key, app] : apps_) {
      if (fair_group(key) == group) n += app.jobs.size();
    }
    return n;
  }

  // Removes and returns the next job to admit. `running(key)` is how many sequences that app
  // has running now (including ones admitted earlier in the same pass). `eligible(key)` false
  // skips that app's jobs this time (e.g. its uid holds all the slots it may).
  template <class RunningFn, class EligibleFn>
  std::optional<Job> pop(RunningFn&& running, EligibleFn&& eligible) {
    if (size_ == 0) return std::nullopt;
    // Every app with running sequences is tracked (forget_idle keeps it), so a group's
    // running count is the sum over its tracked apps.
    std::map<std::string_view, uint32_t> group_running;
    for (const auto& [key, app] : apps_)
      group_running[fair_group(key)] += static_cast<uint32_t>(running(key));
    auto best = apps_.end();
    using Rank = std::tuple<uint32_t, uint64_t, uint32_t, uint64_t, uint64_t>;
    Rank best_rank{};
    for (auto it = apps_.begin(); it != apps_.end(); ++it) {
      if (it->second.jobs.empty() || !eligible(it->first)) continue;
      const std::string_view group = fair_group(it->first);
      auto g = groups_.find(std::string(group));
      Rank rank{group_running[group], g == groups_.end() ? 0 : g->second,
                static_cast<uint32_t>(running(it->first)), it->second.last_admitted,
                it->second.jobs.front().arrival};
      if (best == apps_.end() || rank < best_rank) {
        best = it;
        best_rank = rank;
      }
    }
    if (best == apps_.end()) return std::nullopt;
    Job job = std::move(best->second.jobs.front().job);
    best->second.jobs.pop_front();
    best->second.last_admitted = ++admissions_;
    groups_[std::string(fair_group(best->first))] = admissions_;
    --size_;
    forget_idle(running, best->first);
    return job;
  }

  template <class RunningFn>
  std::optional<Job> pop(RunningFn&& running) {
    return pop(running, [](const std::string&) { return true; });
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
  // How many groups (uids) it remembers: those of the apps it remembers.
  size_t groups_tracked() const { return groups_.size(); }

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
  // though the caller does not count its new job as running yet. A group goes with its last
  // app.
  template <class RunningFn>
  void forget_idle(RunningFn& running, const std::string& just_admitted) {
    for (auto it = apps_.begin(); it != apps_.end();) {
      if (it->second.jobs.empty() && it->first != just_admitted && running(it->first) == 0) {
        it = apps_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto g = groups_.begin(); g != groups_.end();) {
      bool used = false;
      for (const auto& [key, app] : apps_)
        used = used || fair_group(key) == g->first;
      g = used ? std::next(g) : groups_.erase(g);
    }
  }

  std::map<std::string, App> apps_;
  std::map<std::string, uint64_t> groups_;  // group -> last admission (0 = never)
  size_t size_ = 0;
  uint64_t arrivals_ = 0;
  uint64_t admissions_ = 0;
};

}  // namespace gemmad::daemon
