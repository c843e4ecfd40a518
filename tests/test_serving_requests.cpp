// Request loads for serving runs: synthetic lengths, arrivals, and trace files.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "sim/common/error.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/request_trace.h"
#include "sim/serving/synthetic_requests.h"
#include "test_support.h"

using dfsim::InputError;
using dfsim::Request;
using dfsim::testing::message_of;

TEST_CASE("synthetic requests without spread have exactly the mean lengths", "[serving]") {
  const std::vector<Request> requests = dfsim::synthetic_requests({5, 128, 64, 0, 0, 7});
  REQUIRE(requests.size() == 5);
  for (const Request& request : requests) {
    CHECK(request.arrival_s == 0);
    CHECK(request.input_tokens == 128);
    CHECK(request.output_tokens == 64);
  }
}

TEST_CASE("synthetic lengths are seeded, spread around the mean and clamped to >= 1", "[serving]") {
  const dfsim::SyntheticLoad load{4000, 100, 10, 20, 30, 42};
  const std::vector<Request> a = dfsim::synthetic_requests(load);
  const std::vector<Request> b = dfsim::synthetic_requests(load);
  dfsim::SyntheticLoad other = load;
  other.seed = 43;
  const std::vector<Request> c = dfsim::synthetic_requests(other);
  double isl_sum = 0, isl_square = 0;
  int clamped = 0, differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].input_tokens == b[i].input_tokens);
    CHECK(a[i].output_tokens == b[i].output_tokens);
    differ += a[i].input_tokens != c[i].input_tokens;
    REQUIRE(a[i].input_tokens >= 1);
    REQUIRE(a[i].output_tokens >= 1);
    clamped += a[i].output_tokens == 1;
    isl_sum += a[i].input_tokens;
    isl_square += static_cast<double>(a[i].input_tokens) * a[i].input_tokens;
  }
  const double n = static_cast<double>(a.size());
  const double mean = isl_sum / n;
  const double stddev = std::sqrt(isl_square / n - mean * mean);
  // Standard error of the mean: 20 / sqrt(4000) = 0.32 tokens; 1.5 tokens is > 4 of them.
  CHECK(mean == Approx(100).margin(1.5));
  // Rounding adds a variance of 1/12 token^2: sqrt(400 + 1/12) = 20.002; 4 % covers sampling.
  CHECK(stddev == Approx(20).epsilon(0.04));
  // osl ~ Normal(10, 30): P(x < 1.5) = Phi(-0.283) = 0.389, all of which clamp (or round) to 1.
  CHECK(clamped / n == Approx(0.389).margin(0.03));
  CHECK(differ > 3000);
}

TEST_CASE("synthetic loads reject out-of-range values by name", "[serving]") {
  CHECK(message_of<InputError>([] {
          dfsim::synthetic_requests({0, 1, 1, 0, 0, 0});
        }) == "requests: expected an integer >= 1, got 0");
  CHECK(message_of<InputError>([] {
          dfsim::synthetic_requests({1, 1, 1, -1, 0, 0});
        }).starts_with("isl_std: expected a finite number >= 0"));
}

TEST_CASE("rate inf queues every request at t = 0", "[serving]") {
  std::vector<Request> requests = dfsim::synthetic_requests({10, 8, 8, 0, 0, 1});
  requests[3].arrival_s = 5;
  dfsim::assign_arrivals(requests, std::numeric_limits<double>::infinity(), 1);
  for (const Request& request : requests) CHECK(request.arrival_s == 0);
}

TEST_CASE("Poisson arrivals start at 0, have exponential gaps of mean 1/rate, and are seeded",
          "[serving]") {
  const dfsim::SyntheticLoad load{20001, 50, 50, 10, 10, 9};
  std::vector<Request> a = dfsim::synthetic_requests(load);
  std::vector<Request> b = a;
  dfsim::assign_arrivals(a, 4.0, 9);
  dfsim::assign_arrivals(b, 4.0, 9);
  CHECK(a.front().arrival_s == 0);
  double below_mean = 0;
  for (std::size_t i = 1; i < a.size(); ++i) {
    REQUIRE(a[i].arrival_s >= a[i - 1].arrival_s);
    CHECK(a[i].arrival_s == b[i].arrival_s);
    below_mean += a[i].arrival_s - a[i - 1].arrival_s < 0.25;
  }
  // 20000 gaps of mean 0.25 s: the last arrival near 5000 s (standard error 0.7 %).
  CHECK(a.back().arrival_s == Approx(5000).epsilon(0.03));
  // An exponential gap is below its mean with probability 1 - 1/e = 0.632.
  CHECK(below_mean / 20000 == Approx(0.632).margin(0.01));
  // The rate draws from its own stream: the lengths are those of the load at any rate.
  const std::vector<Request> lengths = dfsim::synthetic_requests(load);
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].input_tokens == lengths[i].input_tokens);
    REQUIRE(a[i].output_tokens == lengths[i].output_tokens);
  }
}

TEST_CASE("request rates parse as a positive number or inf", "[serving]") {
  CHECK(std::isinf(dfsim::parse_request_rate("inf", "--rate")));
  CHECK(dfsim::parse_request_rate("2.5", "--rate") == 2.5);
  for (const char* bad : {"0", "-1", "abc", "", "1e999", "2x", "nan"}) {
    CHECK(message_of<InputError>([&] { dfsim::parse_request_rate(bad, "--rate"); }) ==
          std::string("--rate: expected a number of requests/s > 0 or inf, got '") + bad + "'");
  }
}

TEST_CASE("a dfsim trace gives arrivals and lengths as written, columns in any order",
          "[serving]") {
  const std::vector<Request> requests = dfsim::parse_request_trace(
      "output_tokens,arrival_s,input_tokens\r\n"
      "10,0,100\r\n"
      "\r\n"
      "20, 0.5 ,200\r\n"
      "30,0.5,300\r\n",
      "t.csv");
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].arrival_s == 0);
  CHECK(requests[0].input_tokens == 100);
  CHECK(requests[0].output_tokens == 10);
  CHECK(requests[1].arrival_s == 0.5);
  CHECK(requests[1].input_tokens == 200);
  CHECK(requests[2].output_tokens == 30);
}

TEST_CASE("an Azure trace's datetimes become seconds since its first row", "[serving]") {
  const std::vector<Request> requests = dfsim::parse_request_trace(
      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
      "2023-11-16 23:59:59.5000000,4808,10\n"
      "2023-11-17 00:00:01.2500000,512,6\n"
      "2024-03-01 00:00:00,1,1\n",
      "azure.csv");
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].arrival_s == 0);
  CHECK(requests[0].input_tokens == 4808);
  CHECK(requests[0].output_tokens == 10);
  // 0.5 s to midnight, then 1.25 s.
  CHECK(requests[1].arrival_s == Approx(1.75).margin(1e-9));
  // 2023-11-16 23:59:59.5 to 2024-03-01 00:00:00: 14 days of November left (17..30), 31 of
  // December, 31 of January and 29 of February 2024 (a leap year) = 105 days, plus 0.5 s.
  CHECK(requests[2].arrival_s == Approx(105 * 86400.0 + 0.5).margin(1e-6));
}

TEST_CASE("a bad trace is an InputError naming file:line:column and the column", "[serving]") {
  auto error = [](const std::string& text) {
    return message_of<InputError>([&] { dfsim::parse_request_trace(text, "t.csv"); });
  };
  CHECK(error("arrival_s,input_tokens\n0,1\n") ==
        "t.csv:1:1: output_tokens: missing column; expected the columns "
        "arrival_s,input_tokens,output_tokens or TIMESTAMP,ContextTokens,GeneratedTokens");
  CHECK(error("arrival_s,input_tokens,output_tokens,user\n")
            .starts_with("t.csv:1:38: user: unknown column"));
  CHECK(error("arrival_s,ContextTokens,output_tokens\n")
            .starts_with("t.csv:1:11: ContextTokens: a column of the Azure format in a header of "
                         "the dfsim format"));
  CHECK(error("arrival_s,input_tokens,output_tokens\n0,1,1\n0.5,-4,1\n") ==
        "t.csv:3:5: input_tokens: negative tokens (-4); every request reads and writes 1 to 10^9 "
        "tokens");
  CHECK(error("arrival_s,input_tokens,output_tokens\n0,1,0\n")
            .starts_with("t.csv:2:5: output_tokens: zero tokens (0)"));
  CHECK(error("arrival_s,input_tokens,output_tokens\n0,1,1\n0,12abc,1\n") ==
        "t.csv:3:3: input_tokens: expected an integer number of tokens, got '12abc'");
  CHECK(error("arrival_s,input_tokens,output_tokens\nsoon,1,1\n") ==
        "t.csv:2:1: arrival_s: expected a number of seconds >= 0, got 'soon'");
  CHECK(error("arrival_s,input_tokens,output_tokens\n1,1,1\n2,1,1\n1.5,1,1\n") ==
        "t.csv:4:1: arrival_s: time goes backwards (earlier than the request on line 3); rows "
        "must be in arrival order");
  CHECK(error("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,1,1\n"
              "2023-11-16 18:15:46.5,1,1\n")
            .starts_with("t.csv:3:1: TIMESTAMP: time goes backwards"));
  CHECK(error("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-29 18:15:46,1,1\n") ==
        "t.csv:2:1: TIMESTAMP: expected a datetime like '2023-11-16 18:15:46.6805900', got "
        "'2023-02-29 18:15:46'");
  CHECK(error("arrival_s,input_tokens,output_tokens\n0,1\n") ==
        "t.csv:2:4: expected 3 fields, got 2");
  CHECK(error("arrival_s,input_tokens,output_tokens\n") == "t.csv: no requests after the header");
  CHECK(error("").starts_with("t.csv: empty trace"));
  CHECK(message_of<InputError>([] { dfsim::read_request_trace("/nonexistent/t.csv"); }) ==
        "/nonexistent/t.csv: cannot read the trace file");
}

TEST_CASE("a trace file is read from disk", "[serving]") {
  dfsim::testing::TempDir dir;
  const std::string path =
      dir.write("trace.csv", "arrival_s,input_tokens,output_tokens\n0.25,7,3\n");
  const std::vector<Request> requests = dfsim::read_request_trace(path);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].arrival_s == 0.25);
  CHECK(requests[0].input_tokens == 7);
  CHECK(requests[0].output_tokens == 3);
}
