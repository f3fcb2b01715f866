#include "http/metrics.hpp"

#include <gtest/gtest.h>

#include "http/server.hpp"
#include "http/sync_delta.hpp"

namespace sta::http {
namespace {

TEST(MetricsText, FamiliesSamplesAndEscapedLabels) {
  metrics_text m;
  m.family("sta_x_total", "counter", "Things\ncounted \\ here.");
  m.sample("sta_x_total", {{"name", "we\"ird\\na\nme"}, {"kind", "a"}}, 3);
  m.sample("sta_x_total", 2.5);
  EXPECT_EQ(m.text(),
            "# HELP sta_x_total Things\\ncounted \\\\ here.\n"
            "# TYPE sta_x_total counter\n"
            "sta_x_total{name=\"we\\\"ird\\\\na\\nme\",kind=\"a\"} 3\n"
            "sta_x_total 2.5\n");
}

TEST(MetricsText, LargeAndSpecialValues) {
  metrics_text m;
  m.sample("a", 1e18);
  m.sample("b", -7);
  m.sample("c", std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.take(), "a 1e+18\nb -7\nc +Inf\n");
}

TEST(MetricsText, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  metrics_text m;
  const double bounds[] = {0.001, 0.25};
  const std::uint64_t counts[] = {2, 0, 3};
  m.histogram("sta_x_seconds", "How long.", bounds, counts, 7.5);
  EXPECT_EQ(m.text(),
            "# HELP sta_x_seconds How long.\n# TYPE sta_x_seconds histogram\n"
            "sta_x_seconds_bucket{le=\"0.001\"} 2\nsta_x_seconds_bucket{le=\"0.25\"} 2\n"
            "sta_x_seconds_bucket{le=\"+Inf\"} 5\nsta_x_seconds_sum 7.5\nsta_x_seconds_count 5\n");
}

TEST(SyncDelta, OnlyWhatChangedCameOrWent) {
  sync_fields f;
  const boost::json::object before{{"state", "live"}, {"progress", 0.5}, {"peers", 3}, {"eta", 20}, {"name", "a"}};
  const boost::json::object after{{"state", "live"}, {"progress", 0.75}, {"peers", 3}, {"error", "disk"}, {"name", "a"}};
  const auto was = f.digest(before);
  const auto now = f.digest(after);
  EXPECT_EQ(f.changes(was, now, after),
            (boost::json::object{{"progress", 0.75}, {"error", "disk"}, {"eta", nullptr}}));
  EXPECT_TRUE(f.changes(now, now, after).empty());
}

TEST(SyncDelta, ValuesOfAnotherKindAreChanges) {
  sync_fields f;
  const boost::json::object one{{"x", 1}}, one_double{{"x", 1.0}}, yes{{"x", true}}, text{{"x", "1"}};
  const boost::json::object* all[] = {&one, &one_double, &yes, &text};
  for (const auto* a : all)
    for (const auto* b : all)
      EXPECT_EQ(f.changes(f.digest(*a), f.digest(*b), *b).empty(), a == b) << *a << " " << *b;
}

TEST(Query, ParamsAreFoundAndDecoded) {
  EXPECT_EQ(query_param("a=1&token=x%20y&b", "token"), "x y");
  EXPECT_EQ(query_param("b&a=", "a"), "");
  EXPECT_EQ(query_param("a=1&a=2", "a"), "1");
  EXPECT_FALSE(query_param("a=1", "token"));
  EXPECT_FALSE(query_param("", "token"));
  EXPECT_FALSE(query_param(std::string_view(), "token"));
  EXPECT_FALSE(query_param("token=%zz", "token"));
  // Only the given bytes are read, whatever follows them in memory.
  const std::string line = "token=abc HTTP/1.1";
  EXPECT_EQ(query_param(std::string_view(line).substr(0, 9), "token"), "abc");
}

TEST(Query, TargetSplitsAtTheFirstQuestionMark) {
  const auto t = split_target("/api/v1/sync?rid=3&x=?");
  EXPECT_EQ(t.path, "/api/v1/sync");
  EXPECT_EQ(t.query, "rid=3&x=?");
  EXPECT_EQ(split_target("/").query, "");
}

TEST(Replies, ErrorsAreJson) {
  const auto r = error_reply(status::not_found, "no \"such\" thing");
  EXPECT_EQ(r.result(), status::not_found);
  EXPECT_EQ(r.body(), R"({"error":"no \"such\" thing"})");
  EXPECT_EQ(r[bhttp::field::content_type], "application/json");
  EXPECT_EQ(r[bhttp::field::cache_control], "no-store");
}

}  // namespace
}  // namespace sta::http
