#include "sim/engine/serving_sweep_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <vector>

#include "sim/common/units.h"
#include "sim/engine/serving_sweep_inputs.h"

namespace dfsim {

namespace {

struct Column {
  std::string header;
  std::function<std::string(const SweepRow&)> cell;
};

}  // namespace

std::string serving_sweep_table(const SweepFile& file) {
  const ServingSweepInputs inputs = serving_sweep_inputs(file, "the sweep's table", true);
  auto index = [&](const char* name) { return file.column_index(name); };
  auto number = [&](const SweepRow& row, const char* name) -> std::optional<double> {
    const int c = index(name);
    if (c < 0) return std::nullopt;
    const std::string& text = row.values[static_cast<std::size_t>(c)];
    double value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      return std::nullopt;
    }
    return value;
  };
  std::vector<Column> columns;
  std::vector<std::size_t> shown = inputs.varying;
  if (shown.empty()) shown.push_back(static_cast<std::size_t>(index("load.rate")));
  for (std::size_t c : shown) {
    columns.push_back({file.columns[c], [c](const SweepRow& row) { return row.values[c]; }});
  }
  auto fixed = [&](const char* header, const char* metric, int digits) {
    columns.push_back({header, [&number, metric, digits](const SweepRow& row) {
                         auto value = number(row, metric);
                         return value ? fmt::format("{:.{}f}", *value, digits) : std::string("-");
                       }});
  };
  auto duration = [&](const char* header, const char* metric) {
    columns.push_back({header, [&number, metric](const SweepRow& row) {
                         auto value = number(row, metric);
                         return value ? format_quantity(*value, Dimension::kDuration)
                                      : std::string("-");
                       }});
  };
  fixed("req/s", "request_throughput", 3);
  fixed("out tok/s", "output_tokens_per_s", 1);
  duration("TTFT mean", "ttft_mean_s");
  duration("TTFT p50", "ttft_p50_s");
  duration("TTFT p99", "ttft_p99_s");
  duration("ITL mean", "itl_mean_s");
  duration("ITL p50", "itl_p50_s");
  duration("ITL p99", "itl_p99_s");
  duration("E2E mean", "e2e_mean_s");
  duration("E2E p99", "e2e_p99_s");
  const bool goodput =
      std::any_of(inputs.rows.begin(), inputs.rows.end(),
                  [&](const SweepRow* row) { return number(*row, "goodput").has_value(); });
  if (goodput) fixed("goodput", "goodput", 3);

  const int status = index("status"), error = index("error");
  std::vector<std::vector<std::string>> cells;
  for (const SweepRow* row : inputs.rows) {
    std::vector<std::string> line;
    const bool failed = row->values[static_cast<std::size_t>(status)] != "ok";
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (failed && c >= shown.size()) break;
      line.push_back(columns[c].cell(*row));
    }
    if (failed) line.push_back("error: " + row->values[static_cast<std::size_t>(error)]);
    cells.push_back(std::move(line));
  }
  // An error row's message runs on past the columns; it widens none of them.
  std::vector<std::size_t> widths;
  for (const Column& column : columns) widths.push_back(column.header.size());
  for (const auto& line : cells) {
    const bool failed = line.size() == shown.size() + 1 && line.size() < columns.size() + 1 &&
                        line.back().rfind("error: ", 0) == 0;
    const std::size_t measured = failed ? shown.size() : line.size();
    for (std::size_t c = 0; c < measured; ++c) widths[c] = std::max(widths[c], line[c].size());
  }
  auto render = [&](const std::vector<std::string>& line) {
    std::string text;
    for (std::size_t c = 0; c < line.size(); ++c) {
      if (c >= shown.size() && line.size() == shown.size() + 1 &&
          line.back().rfind("error: ", 0) == 0) {
        text += "  " + line[c];  // the error message
      } else if (c < shown.size()) {
        text += fmt::format("{}{:<{}}", c ? "  " : "", line[c], widths[c]);
      } else {
        text += fmt::format("  {:>{}}", line[c], widths[c]);
      }
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + "\n";
  };
  std::vector<std::string> header;
  for (const Column& column : columns) header.push_back(column.header);
  std::string text = render(header);
  for (const auto& line : cells) text += render(line);
  return text;
}

}  // namespace dfsim
