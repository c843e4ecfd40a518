// `dfsim calibrate`: fits up to three numeric fields of a hardware config that no datasheet
// gives to measured rows (the validate CSV format, sim/engine/calibration.h). Each free field is
// an override applied to every row of the fit, whatever config the row names, so a field of
// sn40l.yaml is fitted to rows of sn40l-8 and sn40l-16 too (they inherit it). The rows of the fit
// are those whose hardware is the calibrated config or inherits from it. Every evaluation
// simulates all of them, each simulation in a child process; the search is bounded and
// deterministic (sim/engine/optimize.h).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/common/units.h"
#include "sim/engine/calibration.h"
#include "sim/engine/optimize.h"

namespace dfsim {

// What is minimised over the rows of the fit (error = simulated / measured - 1).
enum class CalibrationObjective {
  kMedianAbs,  // the median of |error|: robust to a row or two the model cannot meet
  kRmsLog,     // sqrt(mean(log(simulated / measured)^2)): symmetric in over and under
};

const char* objective_name(CalibrationObjective objective);

// The objective over results that were all simulated; +inf if any was not.
double calibration_objective(const std::vector<RowResult>& rows, CalibrationObjective objective);

// One `--free KEY=LO..HI[,lin|log][,start=V]`.
struct FreeParameter {
  std::string text;                         // as given, for messages
  std::string key;                          // "hw.kernel_call.host_sync"
  Dimension dimension = Dimension::kCount;  // of LO and HI (and the field)
  SearchBound bound;
  std::optional<double> start;  // start=V; else the calibrated config's value
};

// Parses one --free; bad text is a one-line InputError "--free <text>: ...".
FreeParameter parse_free_parameter(const std::string& text);

// An override value for a parameter value: the unit of its dimension, 12 significant digits.
std::string free_value_text(const FreeParameter& parameter, double value, int digits = 12);

// A value for people: 4 significant digits, a zero in the unit of the range's upper end
// ("0 us", not "0 s").
std::string free_display_text(const FreeParameter& parameter, double value);

// "0 us..200 us lin": the range for people.
std::string free_range_text(const FreeParameter& parameter);

struct CalibrateOptions {
  std::string hw;                  // the config calibrated: a name or a path
  std::vector<std::string> paths;  // CSV files or directories of them
  std::vector<FreeParameter> free;
  CalibrationObjective objective = CalibrationObjective::kMedianAbs;
  std::size_t max_evaluations = 0;  // 0: 30 per free parameter
  int workers = 1;
  // Called after each evaluation with a one-line summary (progress on a terminal).
  std::function<void(const std::string&)> progress;
};

struct FittedParameter {
  FreeParameter parameter;
  double start = 0;
  double fitted = 0;
};

struct CalibrationReport {
  std::string hw;       // as given
  std::string hw_path;  // its file
  std::vector<std::string> files;
  std::size_t rows_read = 0;
  std::size_t left_out = 0;  // rows of other hardware
  CalibrationObjective objective = CalibrationObjective::kMedianAbs;
  std::vector<FittedParameter> parameters;
  // The rows of the hardware, at the start and at the fitted values, in file order. Rows that
  // could not be simulated at the start take no part in the fit (`after` repeats them).
  std::vector<RowResult> before;
  std::vector<RowResult> after;
  double objective_before = 0;
  double objective_after = 0;
  std::vector<SearchStep> steps;
  std::string method;
  // Warnings for the reader: a row's config that sets a free field itself, so that a value
  // written into the calibrated config would not reach it (the fit itself applies to it).
  std::vector<std::string> notes;
};

// Checks the free keys against the configs, runs the search and returns what it found. Bad
// input (an unknown or non-numeric key, a range the config rejects, no row that simulates) is
// an InputError.
CalibrationReport calibrate(const CalibrateOptions& options);

// The text of the calibrated config's own file with each fitted field set to its fitted value
// and marked "# FITTED to <file:line rows> (dfsim calibrate, <date>)" with the search and the
// residuals; everything else in the file is kept as it was.
std::string fitted_config_text(const CalibrationReport& report, const std::string& date);

}  // namespace dfsim
