// The bounded searches of `dfsim calibrate` (sim/engine/optimize.h) on analytic functions whose
// minima are known by hand: no simulation.
#include <catch2/catch.hpp>

#include <cmath>

#include "sim/engine/optimize.h"

using namespace dfsim;

TEST_CASE("unit coordinates: linear and logarithmic", "[optimize]") {
  const SearchBound lin{0, 200e-6, false};
  // u = 0.185 of 0..200 us is 37 us, and back.
  CHECK(from_unit(lin, 0.185) == Approx(37e-6).epsilon(1e-12));
  CHECK(to_unit(lin, 37e-6) == Approx(0.185).epsilon(1e-12));
  const SearchBound log{1, 100, true};
  // Half-way between log 1 and log 100 is log 10.
  CHECK(from_unit(log, 0.5) == Approx(10).epsilon(1e-12));
  CHECK(to_unit(log, 10) == Approx(0.5).epsilon(1e-12));
  // Outside the box is clamped to it; the ends are exact.
  CHECK(from_unit(log, 1.5) == 100);
  CHECK(from_unit(log, -1) == 1);
  CHECK(to_unit(lin, 1) == 1);
}

TEST_CASE("golden-section finds the minimum of a parabola within tolerance", "[optimize]") {
  // f(u) = (u - 0.3)^2 + 1: minimum 1 at u = 0.3.
  SearchOptions options;
  options.max_evaluations = 40;
  options.tolerance = 1e-5;
  const SearchResult result =
      golden_section([](double u) { return (u - 0.3) * (u - 0.3) + 1; }, 0.9, options);
  CHECK(std::string(result.method) == "golden-section");
  REQUIRE(result.best.size() == 1);
  CHECK(result.best[0] == Approx(0.3).margin(1e-5));
  CHECK(result.best_value == Approx(1).margin(1e-9));
  // The start is evaluated first, then the two interior points; the bracket (width 1) shrinks
  // by 0.618 per further evaluation, and 0.618^k <= 1e-5 first at k = ceil(ln(1e-5) /
  // ln(0.618)) = ceil(23.9) = 24: 1 + 2 + 24 = 27 evaluations, within the budget of 40.
  CHECK(result.steps.front().x[0] == 0.9);
  CHECK(result.steps.size() == 27);
}

TEST_CASE("golden-section stops at its budget and keeps the best point seen", "[optimize]") {
  SearchOptions options;
  options.max_evaluations = 5;
  // |u - 0.7|: after the start (0.0) the interior points 0.382 and 0.618 and then 0.764 and
  // 0.854 are tried; 0.764 (|0.064|) is the best of them.
  const SearchResult result =
      golden_section([](double u) { return std::fabs(u - 0.7); }, 0.0, options);
  CHECK(result.steps.size() == 5);
  CHECK(result.best[0] == Approx(0.763932).margin(1e-6));
}

TEST_CASE("golden-section on a log range finds a minimum decades away", "[optimize]") {
  // f(x) = (log10(x / 1 ns) - 2)^2 on [1 ns, 1 s] (log): minimum at x = 100 ns, u = 2/9 of the
  // way through the 9 decades.
  const SearchBound bound{1e-9, 1.0, true};
  SearchOptions options;
  options.max_evaluations = 40;
  const SearchResult result = minimize_bounded(
      [](const std::vector<double>& x) {
        const double d = std::log10(x[0] / 1e-9) - 2;
        return d * d;
      },
      {bound}, {1e-3}, options);
  // Tolerance 1e-4 in u is 9e-4 decades: a relative error of 10^9e-4 - 1 = 0.2 %.
  CHECK(result.best[0] == Approx(1e-7).epsilon(2.1e-3));
}

TEST_CASE("Nelder-Mead finds the minimum of a 2-D quadratic", "[optimize]") {
  // f = (x - 0.2)^2 + 10 (y - 0.7)^2: minimum 0 at (0.2, 0.7).
  SearchOptions options;
  options.max_evaluations = 200;
  options.tolerance = 1e-6;
  const SearchResult result = nelder_mead(
      [](const std::vector<double>& u) {
        return (u[0] - 0.2) * (u[0] - 0.2) + 10 * (u[1] - 0.7) * (u[1] - 0.7);
      },
      {0.9, 0.1}, options);
  CHECK(std::string(result.method) == "nelder-mead");
  CHECK(result.best[0] == Approx(0.2).margin(1e-3));
  CHECK(result.best[1] == Approx(0.7).margin(1e-3));
  CHECK(result.steps.size() <= 200);
  CHECK(result.steps.front().x == std::vector<double>{0.9, 0.1});
}

TEST_CASE("Nelder-Mead stays in the box: a minimum outside lands on the boundary", "[optimize]") {
  // f = (x - 1.5)^2 + (y - 0.2)^2 + (z - 0.5)^2 in [0, 1]^3: the constrained minimum is
  // (1, 0.2, 0.5) with f = 0.25; no point outside the box is ever evaluated.
  SearchOptions options;
  options.max_evaluations = 300;
  options.tolerance = 1e-6;
  const SearchResult result = nelder_mead(
      [](const std::vector<double>& u) {
        return (u[0] - 1.5) * (u[0] - 1.5) + (u[1] - 0.2) * (u[1] - 0.2) +
               (u[2] - 0.5) * (u[2] - 0.5);
      },
      {0.5, 0.5, 0.5}, options);
  CHECK(result.best[0] == Approx(1).margin(1e-3));
  CHECK(result.best[1] == Approx(0.2).margin(1e-3));
  CHECK(result.best[2] == Approx(0.5).margin(1e-3));
  CHECK(result.best_value == Approx(0.25).margin(1e-5));
  for (const SearchStep& step : result.steps) {
    for (double u : step.x) {
      CHECK(u >= 0);
      CHECK(u <= 1);
    }
  }
}

TEST_CASE("Nelder-Mead on Rosenbrock's valley in physical bounds", "[optimize]") {
  // (1 - a)^2 + 100 (b - a^2)^2 on [-2, 2] x [-1, 3]: minimum 0 at (1, 1), at the end of a
  // curved valley (the classic hard case).
  SearchOptions options;
  options.max_evaluations = 600;
  options.tolerance = 1e-7;
  const SearchResult result = minimize_bounded(
      [](const std::vector<double>& x) {
        return (1 - x[0]) * (1 - x[0]) + 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]);
      },
      {SearchBound{-2, 2, false}, SearchBound{-1, 3, false}}, {-1.2, 1.0}, options);
  CHECK(result.best[0] == Approx(1).margin(1e-2));
  CHECK(result.best[1] == Approx(1).margin(2e-2));
}

TEST_CASE("The searches are deterministic and never re-evaluate a point", "[optimize]") {
  int calls = 0;
  auto f = [&](const std::vector<double>& u) {
    ++calls;
    return std::fabs(u[0] - 0.31) + std::fabs(u[1] - 0.77);
  };
  SearchOptions options;
  options.max_evaluations = 80;
  const SearchResult first = nelder_mead(f, {0.5, 0.5}, options);
  CHECK(static_cast<std::size_t>(calls) == first.steps.size());
  const SearchResult second = nelder_mead(f, {0.5, 0.5}, options);
  REQUIRE(first.steps.size() == second.steps.size());
  for (std::size_t i = 0; i < first.steps.size(); ++i) CHECK(first.steps[i].x == second.steps[i].x);
  // The start wins ties: a constant function keeps it.
  const SearchResult flat =
      nelder_mead([](const std::vector<double>&) { return 1.0; }, {0.4, 0.6}, options);
  CHECK(flat.best == std::vector<double>{0.4, 0.6});
}
