// Prometheus text of gemmad's metrics: names, labels, cumulative histogram buckets.
#include "daemon/http/metrics.h"

#include <gtest/gtest.h>

namespace gemmad::http {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, CountRequestsAndTokensByFrontEndModelAndOutcome) {
  Metrics m;
  RequestRecord r{"http", "tiny", "eos", 10, 4, 5, 0.25, 0.65};
  m.record(r);
  m.record(r);
  r.outcome = "cancelled";
  r.front_end = "protobuf";
  m.record(r);
  const std::string t = m.render({});
  EXPECT_TRUE(has_line(t, "# TYPE gemmad_requests_total counter")) << t;
  EXPECT_TRUE(
      has_line(t, R"(gemmad_requests_total{front_end="http",model="tiny",outcome="eos"} 2)"))
      << t;
  EXPECT_TRUE(has_line(
      t, R"(gemmad_requests_total{front_end="protobuf",model="tiny",outcome="cancelled"} 1)"));
  EXPECT_TRUE(has_line(t, R"(gemmad_prompt_tokens_total{front_end="http",model="tiny"} 20)"));
  EXPECT_TRUE(has_line(t, R"(gemmad_cached_prompt_tokens_total{front_end="http",model="tiny"} 8)"));
  EXPECT_TRUE(has_line(t, R"(gemmad_generated_tokens_total{front_end="http",model="tiny"} 10)"));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Metrics m;
  // ttft 0.25 s; 5 tokens in 0.65 s: 0.4 s over 4 tokens after the first = 0.1 s each.
  m.record({"http", "tiny", "eos", 10, 0, 5, 0.25, 0.65});
  m.record({"http", "tiny", "eos", 10, 0, 1, 3.0, 3.0});  // one token: no per-token time
  const std::string t = m.render({});
  const std::string l = R"(front_end="http",model="tiny",)";
  EXPECT_TRUE(has_line(t, "gemmad_time_to_first_token_seconds_bucket{" + l + R"(le="0.1"} 0)"))
      << t;
  EXPECT_TRUE(has_line(t, "gemmad_time_to_first_token_seconds_bucket{" + l + R"(le="0.25"} 1)"));
  EXPECT_TRUE(has_line(t, "gemmad_time_to_first_token_seconds_bucket{" + l + R"(le="5"} 2)"));
  EXPECT_TRUE(has_line(t, "gemmad_time_to_first_token_seconds_bucket{" + l + R"(le="+Inf"} 2)"));
  EXPECT_TRUE(
      has_line(t, R"(gemmad_time_to_first_token_seconds_count{front_end="http",model="tiny"} 2)"));
  EXPECT_TRUE(
      has_line(t, R"(gemmad_time_to_first_token_seconds_sum{front_end="http",model="tiny"} 3.25)"));
  EXPECT_TRUE(has_line(
      t, R"(gemmad_time_per_output_token_seconds_count{front_end="http",model="tiny"} 1)"));
  EXPECT_TRUE(has_line(t, "gemmad_time_per_output_token_seconds_bucket{" + l + R"(le="0.1"} 1)"));
  EXPECT_TRUE(has_line(t, "gemmad_time_per_output_token_seconds_bucket{" + l + R"(le="0.05"} 0)"));
}

TEST(Metrics, SnapshotGaugesAndDecodeBatchHistogram) {
  Metrics m;
  MetricsSnapshot s;
  s.queue_depth = 3;
  s.resident_weight_bytes["tiny"] = 4096;
  s.open_connections["http"] = 2;
  s.decode_batch_sizes = {{1, 10}, {3, 5}};
  s.sessions_stored = 7;
  const std::string t = m.render(s);
  EXPECT_TRUE(has_line(t, "gemmad_queue_depth 3")) << t;
  EXPECT_TRUE(has_line(t, R"(gemmad_resident_weight_bytes{model="tiny"} 4096)"));
  EXPECT_TRUE(has_line(t, R"(gemmad_open_connections{front_end="http"} 2)"));
  EXPECT_TRUE(has_line(t, "gemmad_sessions_stored 7"));
  EXPECT_TRUE(has_line(t, R"(gemmad_decode_batch_sequences_bucket{le="1"} 10)"));
  EXPECT_TRUE(has_line(t, R"(gemmad_decode_batch_sequences_bucket{le="2"} 10)"));
  EXPECT_TRUE(has_line(t, R"(gemmad_decode_batch_sequences_bucket{le="4"} 15)"));
  EXPECT_TRUE(has_line(t, "gemmad_decode_batch_sequences_sum 25"));
  EXPECT_TRUE(has_line(t, "gemmad_decode_batch_sequences_count 15"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace gemmad::http
