#include "sim/engine/optimize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

namespace dfsim {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

double clamp_unit(double u) {
  return std::isfinite(u) ? std::clamp(u, 0.0, 1.0) : 0.0;
}

// Counts distinct evaluations against the budget, answers repeated points from memory (a
// clamped simplex often proposes the same corner twice) and keeps the best point seen; the first
// of equal values wins, so the start is kept when nothing beats it.
class Evaluator {
 public:
  Evaluator(const std::function<double(const std::vector<double>&)>& f, std::size_t budget)
      : f_(f), budget_(budget) {}

  // nullopt once the budget is spent.
  std::optional<double> operator()(const std::vector<double>& u) {
    if (auto known = memory_.find(u); known != memory_.end()) return known->second;
    if (result_.steps.size() >= budget_) return std::nullopt;
    double value = f_(u);
    if (std::isnan(value)) value = kInfinity;
    memory_.emplace(u, value);
    result_.steps.push_back({u, value});
    if (result_.best.empty() || value < result_.best_value) {
      result_.best = u;
      result_.best_value = value;
    }
    return value;
  }

  SearchResult take(const char* method) {
    result_.method = method;
    return std::move(result_);
  }

 private:
  const std::function<double(const std::vector<double>&)>& f_;
  std::size_t budget_;
  std::map<std::vector<double>, double> memory_;
  SearchResult result_;
};

}  // namespace

double from_unit(const SearchBound& bound, double u) {
  u = clamp_unit(u);
  if (u == 0) return bound.lo;
  if (u == 1) return bound.hi;
  if (bound.log)
    return std::exp(std::log(bound.lo) + u * (std::log(bound.hi) - std::log(bound.lo)));
  return bound.lo + u * (bound.hi - bound.lo);
}

double to_unit(const SearchBound& bound, double x) {
  if (bound.hi == bound.lo) return 0;
  if (bound.log) {
    if (!(x > 0)) return 0;
    return clamp_unit((std::log(x) - std::log(bound.lo)) /
                      (std::log(bound.hi) - std::log(bound.lo)));
  }
  return clamp_unit((x - bound.lo) / (bound.hi - bound.lo));
}

SearchResult golden_section(const std::function<double(double)>& f, double start,
                            const SearchOptions& options) {
  const std::function<double(const std::vector<double>&)> g = [&](const std::vector<double>& u) {
    return f(u.front());
  };
  Evaluator eval(g, std::max<std::size_t>(options.max_evaluations, 1));
  eval({clamp_unit(start)});
  // The interior points divide [a, b] in the golden ratio, so each step reuses one of them and
  // shrinks the bracket by r = 0.618 for one new evaluation.
  const double r = (std::sqrt(5.0) - 1) / 2;
  double a = 0, b = 1;
  double c = b - r * (b - a), d = a + r * (b - a);
  std::optional<double> fc = eval({c});
  std::optional<double> fd = fc ? eval({d}) : std::nullopt;
  while (fc && fd && b - a > options.tolerance) {
    if (*fc <= *fd) {  // the minimum lies in [a, d]
      b = d;
      d = c;
      fd = fc;
      c = b - r * (b - a);
      fc = eval({c});
    } else {  // in [c, b]
      a = c;
      c = d;
      fc = fd;
      d = a + r * (b - a);
      fd = eval({d});
    }
  }
  return eval.take("golden-section");
}

SearchResult nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                         const std::vector<double>& start, const SearchOptions& options) {
  const std::size_t n = start.size();
  Evaluator eval(f, std::max<std::size_t>(options.max_evaluations, 1));
  auto clamped = [](std::vector<double> u) {
    for (double& x : u) x = clamp_unit(x);
    return u;
  };
  struct Vertex {
    std::vector<double> u;
    double value = 0;
  };
  std::vector<Vertex> simplex;
  std::vector<double> origin = clamped(start);
  std::optional<double> value = eval(origin);
  if (!value) return eval.take("nelder-mead");
  simplex.push_back({origin, *value});
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> u = origin;
    u[i] = u[i] + options.initial_step <= 1 ? u[i] + options.initial_step
                                            : u[i] - options.initial_step;
    u = clamped(u);
    value = eval(u);
    if (!value) return eval.take("nelder-mead");
    simplex.push_back({u, *value});
  }
  // p + t (q - p), clamped to the box.
  auto along = [&](const std::vector<double>& p, const std::vector<double>& q, double t) {
    std::vector<double> u(n);
    for (std::size_t i = 0; i < n; ++i) u[i] = p[i] + t * (q[i] - p[i]);
    return clamped(u);
  };
  for (;;) {
    // Stable: equal values keep their order, so the run is deterministic.
    std::stable_sort(simplex.begin(), simplex.end(),
                     [](const Vertex& x, const Vertex& y) { return x.value < y.value; });
    double size = 0;
    for (const Vertex& v : simplex) {
      for (std::size_t i = 0; i < n; ++i)
        size = std::max(size, std::fabs(v.u[i] - simplex[0].u[i]));
    }
    if (size <= options.tolerance) break;
    std::vector<double> centroid(n, 0.0);
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t i = 0; i < n; ++i) centroid[i] += simplex[k].u[i] / n;
    }
    Vertex& worst = simplex[n];
    const std::vector<double> reflected = along(centroid, worst.u, -1);
    const std::optional<double> fr = eval(reflected);
    if (!fr) break;
    if (*fr < simplex[0].value) {
      const std::vector<double> expanded = along(centroid, worst.u, -2);
      const std::optional<double> fe = eval(expanded);
      if (!fe) break;
      worst = *fe < *fr ? Vertex{expanded, *fe} : Vertex{reflected, *fr};
      continue;
    }
    if (*fr < simplex[n - 1].value) {
      worst = {reflected, *fr};
      continue;
    }
    // Contract towards the better of the reflected and the worst point.
    const bool outside = *fr < worst.value;
    const std::vector<double> contracted =
        outside ? along(centroid, reflected, 0.5) : along(centroid, worst.u, 0.5);
    const std::optional<double> fc = eval(contracted);
    if (!fc) break;
    if (outside ? *fc <= *fr : *fc < worst.value) {
      worst = {contracted, *fc};
      continue;
    }
    bool spent = false;
    for (std::size_t k = 1; k <= n && !spent; ++k) {
      simplex[k].u = along(simplex[0].u, simplex[k].u, 0.5);
      const std::optional<double> fs = eval(simplex[k].u);
      if (!fs)
        spent = true;
      else
        simplex[k].value = *fs;
    }
    if (spent) break;
  }
  return eval.take("nelder-mead");
}

SearchResult minimize_bounded(const std::function<double(const std::vector<double>&)>& f,
                              const std::vector<SearchBound>& bounds,
                              const std::vector<double>& start, const SearchOptions& options) {
  const std::size_t n = bounds.size();
  auto values = [&](const std::vector<double>& u) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = from_unit(bounds[i], u[i]);
    return x;
  };
  const std::function<double(const std::vector<double>&)> g = [&](const std::vector<double>& u) {
    return f(values(u));
  };
  std::vector<double> u0(n);
  for (std::size_t i = 0; i < n; ++i) u0[i] = to_unit(bounds[i], start.at(i));
  SearchResult result = n == 1
                            ? golden_section([&](double u) { return g({u}); }, u0.front(), options)
                            : nelder_mead(g, u0, options);
  result.best = values(result.best);
  for (SearchStep& step : result.steps) step.x = values(step.x);
  return result;
}

}  // namespace dfsim
