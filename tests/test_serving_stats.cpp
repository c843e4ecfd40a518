// Serving statistics: percentiles and the SLO parser.
#include <catch2/catch.hpp>

#include "sim/common/error.h"
#include "sim/serving/distribution_summary.h"
#include "sim/serving/serving_stats.h"
#include "sim/serving/slo.h"
#include "test_support.h"

using dfsim::testing::message_of;

TEST_CASE("distribution summaries interpolate percentiles as numpy does", "[serving]") {
  const dfsim::DistributionSummary s = dfsim::summarize_distribution({4, 1, 3, 2});
  CHECK(s.count == 4);
  CHECK(s.mean == 2.5);
  // numpy.percentile([1, 2, 3, 4], q): rank q/100 * 3 between the sorted values.
  CHECK(s.p50 == Approx(2.5));   // rank 1.5
  CHECK(s.p90 == Approx(3.7));   // rank 2.7
  CHECK(s.p99 == Approx(3.97));  // rank 2.97
  CHECK(s.max == 4);
  CHECK(dfsim::summarize_distribution({}).count == 0);
  CHECK(dfsim::summarize_distribution({7}).p99 == 7);
}

TEST_CASE("SLOs parse with units", "[serving]") {
  const dfsim::Slo slo = dfsim::parse_slo("ttft=200ms,tpot=50ms");
  CHECK(*slo.ttft_s == Approx(0.2).epsilon(1e-15));
  CHECK(*slo.tpot_s == Approx(0.05).epsilon(1e-15));
  CHECK_FALSE(slo.e2e_s);
  CHECK(*dfsim::parse_slo("e2e=1.5 s").e2e_s == 1.5);
  CHECK(dfsim::format_slo(slo) == "ttft=200 ms,tpot=50 ms");
}

TEST_CASE("bad SLOs name the option, column and key", "[serving]") {
  auto error = [](const char* text) {
    return message_of<dfsim::InputError>([&] { dfsim::parse_slo(text); });
  };
  CHECK(error("ttft=200") ==
        "--slo:1:6: ttft: expected a positive duration like '200ms', got '200'");
  CHECK(error("ttft=200ms,itl=5ms") == "--slo:1:12: itl: unknown SLO (expected ttft, tpot or e2e)");
  CHECK(error("ttft=1ms,ttft=2ms") == "--slo:1:10: ttft: given twice");
  CHECK(error("tpot=-5ms") ==
        "--slo:1:6: tpot: expected a positive duration like '200ms', got '-5ms'");
  CHECK(error("ttft") == "--slo:1:1: expected key=duration (keys ttft, tpot, e2e), got 'ttft'");
  CHECK(error("") == "--slo:1:1: empty; expected e.g. ttft=200ms,tpot=50ms");
}

TEST_CASE("requests in the system are integrated exactly from the timestamps", "[serving]") {
  // [0, 2] and [1, 4]: over [0, 4] the areas are 2 + 3 = 5, so 1.25 on average; over [1, 2]
  // both are in: 2.
  std::vector<dfsim::RequestRecord> records(2);
  records[0].arrival_s = 0;
  records[0].finish_s = 2;
  records[1].arrival_s = 1;
  records[1].finish_s = 4;
  CHECK(dfsim::mean_requests_in_system(records, 0, 4) == 1.25);
  CHECK(dfsim::mean_requests_in_system(records, 1, 2) == 2);
}
