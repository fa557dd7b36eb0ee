// FairQueue: the admission order of the scheduler, checked without a model.
#include "daemon/fair_queue.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace gemmad::daemon {
namespace {

struct Job {
  std::string fair_key;
  int id = 0;
};

// Simulates the scheduler with `slots` sequence slots where every job runs for one round:
// returns the ids in admission order.
std::vector<int> admit_all(FairQueue<Job>& q, size_t slots) {
  std::vector<int> order;
  std::map<std::string, uint32_t> running;
  auto count = [&](const std::string& app) { return running[app]; };
  while (!q.empty()) {
    std::vector<Job> round;
    while (round.size() < slots) {
      auto j = q.pop(count);
      if (!j) break;
      ++running[j->fair_key];
      order.push_back(j->id);
      round.push_back(*j);
    }
    for (const auto& j : round)
      --running[j.fair_key];
  }
  return order;
}

TEST(FairQueue, ANewcomerGoesBeforeTheAppThatHeldTheOnlySlot) {
  FairQueue<Job> q;
  std::map<std::string, uint32_t> running;
  auto count = [&](const std::string& app) { return running[app]; };
  q.push({"greedy", 0});
  auto first = q.pop(count);
  ASSERT_TRUE(first);
  ++running["greedy"];  // greedy 0 holds the slot
  for (int i = 1; i < 5; ++i)
    q.push({"greedy", i});
  q.push({"modest", 99});
  --running["greedy"];  // greedy 0 finished
  auto next = q.pop(count);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, 99);
}

TEST(FairQueue, AlternatesAppsWithOneSlot) {
  FairQueue<Job> q;
  for (int i = 0; i < 3; ++i)
    q.push({"a", i});
  for (int i = 10; i < 13; ++i)
    q.push({"b", i});
  EXPECT_EQ(admit_all(q, 1), (std::vector<int>{0, 10, 1, 11, 2, 12}));
}

TEST(FairQueue, FewestRunningSequencesGoFirst) {
  FairQueue<Job> q;
  std::map<std::string, uint32_t> running{{"busy", 3}, {"idle", 0}};
  auto count = [&](const std::string& app) { return running[app]; };
  q.push({"busy", 1});
  q.push({"idle", 2});
  auto j = q.pop(count);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->id, 2);
}

TEST(FairQueue, KeepsEachAppsOwnOrder) {
  FairQueue<Job> q;
  for (int i = 0; i < 4; ++i)
    q.push({"a", i});
  EXPECT_EQ(admit_all(q, 2), (std::vector<int>{0, 1, 2, 3}));
}

TEST(FairQueue, RemovesAndDrains) {
  FairQueue<Job> q;
  for (int i = 0; i < 6; ++i)
    q.push({i % 2 ? "odd" : "even", i});
  auto removed = q.remove_if([](const Job& j) { return j.id % 3 == 0; });
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(q.size(), 4u);
  auto rest = q.drain();
  EXPECT_EQ(rest.size(), 4u);
  EXPECT_TRUE(q.empty());
  auto none = [](const std::string&) { return 0u; };
  EXPECT_FALSE(q.pop(none));
}

TEST(FairQueue, ForgetsAppsThatAreIdle) {
  FairQueue<Job> q;
  auto none = [](const std::string&) { return 0u; };
  for (int i = 0; i < 100; ++i) {
    q.push({"app" + std::to_string(i), i});
    ASSERT_TRUE(q.pop(none));
  }
  // Only the app admitted last is remembered; the others had nothing queued or running.
  EXPECT_EQ(q.apps_tracked(), 1u);
}

// Two levels: a uid with many app names gets one uid's share, not one share per name.
TEST(FairQueue, SharesByUidFirstSoManyAppNamesDoNotBuyMoreTurns) {
  FairQueue<Job> q;
  for (int i = 0; i < 4; ++i) {
    q.push({"1000:hog-a", i});
    q.push({"1000:hog-b", 10 + i});
    q.push({"1000:hog-c", 20 + i});
  }
  q.push({"2000:victim", 99});
  q.push({"2000:victim", 100});
  // One slot: the victim uid alternates with the hog uid, whatever names the hog uses.
  const auto order = admit_all(q, 1);
  ASSERT_GE(order.size(), 4u);
  EXPECT_EQ(order[0], 0);   // the hog came first
  EXPECT_EQ(order[1], 99);  // then the other uid, before the hog's second and third names
  EXPECT_EQ(order[3], 100);
  // Within the hog uid its apps still take turns.
  EXPECT_EQ(order[2], 10);
}

TEST(FairQueue, AUidWithMoreRunningWaitsEvenIfItsAppHasFewer) {
  FairQueue<Job> q;
  std::map<std::string, uint32_t> running{{"1000:a", 2}, {"2000:b", 1}};
  auto count = [&](const std::string& app) { return running[app]; };
  q.push({"1000:a", 0});  // tracked, so uid 1000 counts its 2 running
  q.push({"2000:b", 1});
  q.push({"1000:fresh", 2});  // a new app name of the busier uid
  auto j = q.pop(count);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->id, 1);
}

TEST(FairQueue, SkipsAppsThatAreNotEligibleAndCountsQueuedPerUid) {
  FairQueue<Job> q;
  q.push({"1000:a", 0});
  q.push({"1000:b", 1});
  q.push({"2000:c", 2});
  EXPECT_EQ(q.queued_in_group("1000"), 2u);
  EXPECT_EQ(q.queued_in_group("2000"), 1u);
  auto none = [](const std::string&) { return 0u; };
  auto not_1000 = [](const std::string& key) { return fair_group(key) != "1000"; };
  auto j = q.pop(none, not_1000);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->id, 2);
  EXPECT_FALSE(q.pop(none, not_1000));  // only uid 1000's jobs are left
  EXPECT_EQ(q.size(), 2u);
}

TEST(FairQueue, ForgetsUidsThatAreIdle) {
  FairQueue<Job> q;
  auto none = [](const std::string&) { return 0u; };
  for (int i = 0; i < 50; ++i) {
    q.push({std::to_string(i) + ":app", i});
    ASSERT_TRUE(q.pop(none));
  }
  EXPECT_EQ(q.groups_tracked(), 1u);
}

}  // namespace
}  // namespace gemmad::daemon
