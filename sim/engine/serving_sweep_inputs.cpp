#include "sim/engine/serving_sweep_inputs.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "sim/common/error.h"
#include "sim/engine/sweep.h"

namespace dfsim {

ServingSweepInputs serving_sweep_inputs(const SweepFile& file, const std::string& where,
                                        bool with_errors) {
  if (!is_serving_sweep(file.columns)) {
    throw InputError(where + ": not a serving sweep (no load.rate column)");
  }
  const int status = file.column_index("status");
  const int error = file.column_index("error");
  if (status < 0 || error < 0) throw InputError(where + ": not a sweep file (no status column)");
  ServingSweepInputs inputs;
  for (const SweepRow& row : file.rows) {
    const std::string& value = row.values[static_cast<std::size_t>(status)];
    if (value == "ok" || (with_errors && value == "error")) inputs.rows.push_back(&row);
  }
  if (inputs.rows.empty()) throw InputError(where + ": no rows with status ok");
  // Point order, not completion order.
  if (const int index = file.column_index("point_index"); index >= 0) {
    auto position = [&](const SweepRow* row) {
      const std::string& text = row->values[static_cast<std::size_t>(index)];
      std::size_t value = 0;
      std::from_chars(text.data(), text.data() + text.size(), value);
      return value;
    };
    std::stable_sort(
        inputs.rows.begin(), inputs.rows.end(),
        [&](const SweepRow* a, const SweepRow* b) { return position(a) < position(b); });
  }
  // Inputs: the columns between `error` and the first metric.
  const std::vector<std::string> metrics = sweep_metric_columns(true);
  for (std::size_t c = static_cast<std::size_t>(error) + 1; c < file.columns.size(); ++c) {
    if (file.columns[c] == "wall_s" ||
        std::find(metrics.begin(), metrics.end(), file.columns[c]) != metrics.end()) {
      break;
    }
    std::set<std::string> values;
    for (const SweepRow* row : inputs.rows) values.insert(row->values[c]);
    if (values.size() > 1) inputs.varying.push_back(c);
  }
  for (std::size_t c : inputs.varying) {
    if (file.columns[c] == "load.rate") inputs.along = static_cast<int>(c);
  }
  if (inputs.along < 0) {
    for (std::size_t c : inputs.varying) {
      const std::string& name = file.columns[c];
      if (name.rfind("load.", 0) == 0 || name.rfind("serving.", 0) == 0) {
        inputs.along = static_cast<int>(c);
        break;
      }
    }
  }
  for (std::size_t c : inputs.varying) {
    if (static_cast<int>(c) != inputs.along) inputs.series.push_back(c);
  }
  return inputs;
}

std::string series_label(const SweepFile& file, const SweepRow& row,
                         const std::vector<std::size_t>& columns) {
  std::string label;
  for (std::size_t c : columns) {
    const std::string& name = file.columns[c];
    const std::string& value = row.values[c];
    std::string part = name == "model" || name == "hw" ? value
                       : name == "looping"             ? "looping " + value
                                                       : name + "=" + value;
    label += (label.empty() ? "" : ", ") + part;
  }
  return label;
}

}  // namespace dfsim
