#include "sim/report/report_check.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace dfsim {

namespace {

void check(const nlohmann::json& value, const std::string& path, const std::string& what) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      check(it.value(), path.empty() ? it.key() : path + "." + it.key(), what);
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      check(value[i], fmt::format("{}[{}]", path, i), what);
    }
  } else if (value.is_number_float()) {
    const double number = value.get<double>();
    if (!std::isfinite(number) || number < 0) {
      throw std::runtime_error(fmt::format(
          "{}: {} is {} (every reported value must be finite and non-negative); an input is "
          "outside what the model handles, please report it with the command line",
          what, path, number));
    }
  } else if (value.is_number_integer() && !value.is_number_unsigned()) {
    const auto number = value.get<std::int64_t>();
    const bool sentinel =
        number == -1 && path.size() >= 5 && path.compare(path.size() - 5, 5, "layer") == 0;
    if (number < 0 && !sentinel) {
      throw std::runtime_error(fmt::format(
          "{}: {} is {} (every reported value must be non-negative); please report it with the "
          "command line",
          what, path, number));
    }
  }
}

}  // namespace

void check_report_values(const nlohmann::json& report, const std::string& what) {
  check(report, "", what);
}

}  // namespace dfsim
