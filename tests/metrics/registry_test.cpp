#include "cxg/metrics/registry.hpp"

#include <gtest/gtest.h>

namespace cxg::metrics {
namespace {

TEST(Registry, RendersCountersWithTotalSuffixAndLabels) {
  Registry r;
  r.declare_counter("cxg_registrations", "help");
  r.counter("cxg_registrations", {{"path", "executor"}, {"result", "ok"}}).inc(3);
  const auto text = r.render();
  EXPECT_NE(text.find("# TYPE cxg_registrations_total counter"), std::string::npos);
  EXPECT_NE(text.find("cxg_registrations_total{path=\"executor\",result=\"ok\"} 3\n"), std::string::npos);
}

TEST(Registry, SameSeriesIsSameObject) {
  Registry r;
  r.declare_gauge("g", "help");
  r.gauge("g", {{"a", "1"}}).add(2);
  r.gauge("g", {{"a", "1"}}).sub(1);
  EXPECT_EQ(r.gauge("g", {{"a", "1"}}).value(), 1);
}

TEST(Registry, EscapesLabelValues) {
  Registry r;
  r.declare_gauge("g", "h");
  r.gauge("g", {{"v", "a\"b\\c\nd"}}).set(1);
  EXPECT_NE(r.render().find("g{v=\"a\\\"b\\\\c\\nd\"} 1"), std::string::npos);
}

TEST(Registry, UndeclaredFamilyIsAProgrammingError) {
  Registry r;
  EXPECT_THROW(r.counter("nope"), std::logic_error);
}

TEST(Registry, DeclaresEverySpecSeries) {
  Registry r;
  declare_cxg_metrics(r, "1.2.3");
  const auto text = r.render();
  for (const char* s : {"cxg_executors_connected", "cxg_bridges_active", "cxg_streams_active",
                        "cxg_revocations", "cxg_ready", "cxg_build_info{version=\"1.2.3\"} 1",
                        "cxg_registrations_total", "cxg_bridge_rejections_total", "cxg_frames_total",
                        "cxg_bytes_total", "cxg_frames_dropped_total", "cxg_executor_evictions_total",
                        "cxg_stream_resets_total", "cxg_slow_consumer_closes_total",
                        "cxg_auth_validator_requests_total", "cxg_http_requests_total"})
    EXPECT_NE(text.find(s), std::string::npos) << s;
}

}  // namespace
}  // namespace cxg::metrics
