// Bounded minimisation of a few parameters with a fixed budget of function evaluations, for
// `dfsim calibrate` (each evaluation there is a set of child simulations, so evaluations, not
// iterations, are what is counted). Pure functions: no simulation, no I/O, deterministic.
//
// Each parameter lives in [lo, hi] on a linear or a logarithmic scale; the search works in unit
// coordinates u in [0, 1] per parameter (u = 0 is lo, u = 1 is hi; on a log scale u is the
// position of log x between log lo and log hi), so one step size suits every parameter and a log
// range spanning decades is searched evenly. One parameter: golden-section search over the whole
// range. Two or three: Nelder-Mead from the start point, every vertex clamped to the box.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace dfsim {

struct SearchBound {
  double lo = 0;
  double hi = 1;
  bool log = false;  // requires 0 < lo
};

// x of a unit coordinate u and back (u is clamped to [0, 1]).
double from_unit(const SearchBound& bound, double u);
double to_unit(const SearchBound& bound, double x);

struct SearchStep {
  std::vector<double> x;  // parameter values
  double value = 0;       // the function there (+inf when it could not be evaluated)
};

struct SearchResult {
  std::vector<double> best;       // the best point evaluated (the start when nothing beat it)
  double best_value = 0;          // the function there
  std::vector<SearchStep> steps;  // every evaluation in order, the start first
  const char* method = "";        // "golden-section" or "nelder-mead"
};

struct SearchOptions {
  std::size_t max_evaluations = 30;  // the start counts; repeated points are not re-evaluated
  double tolerance = 1e-4;           // stop once the bracket / simplex is this small in u
  double initial_step = 0.25;        // Nelder-Mead: the first simplex's edge in u
};

// Golden-section search on [0, 1] of a function of one unit coordinate. `start` (in [0, 1]) is
// evaluated first and kept if nothing beats it; the bracket then shrinks by 0.618 per
// evaluation. For a unimodal function the result is within tolerance of the minimum.
SearchResult golden_section(const std::function<double(double)>& f, double start,
                            const SearchOptions& options);

// Nelder-Mead (reflection 1, expansion 2, contraction 1/2, shrink 1/2) in the unit box
// [0, 1]^d, every point clamped to the box, from a simplex of `start` and `start` + step along
// each axis (- step where + would leave the box).
SearchResult nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                         const std::vector<double>& start, const SearchOptions& options);

// The bounded search `dfsim calibrate` runs: golden-section for one parameter, Nelder-Mead for
// more, in unit coordinates; `f` and the result are in parameter values. `start` is clamped into
// the bounds.
SearchResult minimize_bounded(const std::function<double(const std::vector<double>&)>& f,
                              const std::vector<SearchBound>& bounds,
                              const std::vector<double>& start, const SearchOptions& options);

}  // namespace dfsim
