#include "sim/common/units.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace dfsim {

namespace {

struct Prefix {
  std::string_view symbol;
  double factor;
};

// Longest symbols first so "Gi" is tried before "G".
constexpr std::array<Prefix, 11> kPrefixes{{{"Ki", 1024.0},
                                            {"Mi", 1024.0 * 1024},
                                            {"Gi", 1024.0 * 1024 * 1024},
                                            {"Ti", 1024.0 * 1024 * 1024 * 1024},
                                            {"Pi", 1024.0 * 1024 * 1024 * 1024 * 1024},
                                            {"k", 1e3},
                                            {"K", 1e3},
                                            {"M", 1e6},
                                            {"G", 1e9},
                                            {"T", 1e12},
                                            {"P", 1e15}}};

// Units of each dimension without prefix, and the factor to the SI base unit.
struct BaseUnit {
  std::string_view symbol;
  double factor;
  bool takes_prefix;
};

std::vector<BaseUnit> base_units(Dimension dimension) {
  switch (dimension) {
    case Dimension::kBytes:
      return {{"B", 1.0, true}, {"bytes", 1.0, false}};
    case Dimension::kBandwidth:
      return {{"B/s", 1.0, true}};
    case Dimension::kFlopRate:
      return {{"FLOPS", 1.0, true}, {"FLOP/s", 1.0, true}, {"OPS", 1.0, true}, {"OP/s", 1.0, true}};
    case Dimension::kFrequency:
      return {{"Hz", 1.0, true}};
    case Dimension::kDuration:
      return {{"s", 1.0, false},   {"ms", 1e-3, false}, {"us", 1e-6, false},
              {"µs", 1e-6, false}, {"ns", 1e-9, false}, {"ps", 1e-12, false}};
    case Dimension::kCount:
      return {{"", 1.0, false}};
    case Dimension::kPower:
      return {{"W", 1.0, true}};
    case Dimension::kEnergyPerByte:
      return {{"J/B", 1.0, false},
              {"nJ/B", 1e-9, false},
              {"pJ/B", 1e-12, false},
              {"pJ/bit", 8e-12, false}};
  }
  return {};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Accepts [+-]digits[.digits][e[+-]digits]; returns the number and the rest of the text.
std::optional<std::pair<double, std::string_view>> leading_number(std::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t integer_digits = digits();
  size_t fraction_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    fraction_digits = digits();
  }
  if (integer_digits + fraction_digits == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t mark = i++;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) i = mark;  // "5e" is not an exponent: leave it to the unit
  }
  std::string number(text.substr(0, i));
  if (number.front() == '+') number.erase(0, 1);
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size() || !std::isfinite(value))
    return std::nullopt;
  return std::make_pair(value, text.substr(i));
}

}  // namespace

std::string_view dimension_name(Dimension dimension) {
  switch (dimension) {
    case Dimension::kBytes:
      return "size";
    case Dimension::kBandwidth:
      return "bandwidth";
    case Dimension::kFlopRate:
      return "compute rate";
    case Dimension::kFrequency:
      return "frequency";
    case Dimension::kDuration:
      return "duration";
    case Dimension::kCount:
      return "number";
    case Dimension::kPower:
      return "power";
    case Dimension::kEnergyPerByte:
      return "energy per byte";
  }
  return "quantity";
}

std::string_view dimension_example(Dimension dimension) {
  switch (dimension) {
    case Dimension::kBytes:
      return "80 GiB";
    case Dimension::kBandwidth:
      return "3.35 TB/s";
    case Dimension::kFlopRate:
      return "989 TFLOPS";
    case Dimension::kFrequency:
      return "1.755 GHz";
    case Dimension::kDuration:
      return "4 us";
    case Dimension::kCount:
      return "132";
    case Dimension::kPower:
      return "700 W";
    case Dimension::kEnergyPerByte:
      return "31.8 pJ/B";
  }
  return "";
}

std::optional<double> parse_quantity(std::string_view text, Dimension dimension) {
  text = trim(text);
  auto number = leading_number(text);
  if (!number) return std::nullopt;
  auto [value, rest] = *number;
  std::string_view unit = trim(rest);
  // A finite number times a prefix can still overflow ("1e300 PB").
  auto finite = [](double scaled) -> std::optional<double> {
    if (!std::isfinite(scaled)) return std::nullopt;
    return scaled;
  };
  for (const BaseUnit& base : base_units(dimension)) {
    if (unit == base.symbol) return finite(value * base.factor);
    if (!base.takes_prefix || unit.size() <= base.symbol.size()) continue;
    if (unit.substr(unit.size() - base.symbol.size()) != base.symbol) continue;
    std::string_view prefix = unit.substr(0, unit.size() - base.symbol.size());
    for (const Prefix& candidate : kPrefixes) {
      if (prefix == candidate.symbol) return finite(value * candidate.factor * base.factor);
    }
  }
  return std::nullopt;
}

std::string format_quantity(double value, Dimension dimension, int significant_digits) {
  auto format = [&](double scaled, std::string_view unit) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*g", significant_digits, scaled);
    std::string out = buffer;
    // Appended in place: `" " + std::string(unit)` builds a temporary, and GCC 12 at -O3 warns
    // -Wrestrict inside libstdc++ on it (a false positive, GCC bugs 105329 and 105651).
    if (!unit.empty()) (out += ' ') += unit;
    return out;
  };
  if (dimension == Dimension::kCount) return format(value, "");
  if (dimension == Dimension::kEnergyPerByte) return format(value * 1e12, "pJ/B");
  if (dimension == Dimension::kDuration) {
    double magnitude = std::fabs(value);
    if (magnitude == 0 || magnitude >= 1) return format(value, "s");
    if (magnitude >= 1e-3) return format(value * 1e3, "ms");
    if (magnitude >= 1e-6) return format(value * 1e6, "us");
    return format(value * 1e9, "ns");
  }
  std::string_view unit = dimension == Dimension::kBytes       ? "B"
                          : dimension == Dimension::kBandwidth ? "B/s"
                          : dimension == Dimension::kFlopRate  ? "FLOPS"
                          : dimension == Dimension::kPower     ? "W"
                                                               : "Hz";
  static constexpr std::array<std::pair<double, std::string_view>, 5> kScales{
      {{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}}};
  for (const auto& [factor, prefix] : kScales) {
    if (std::fabs(value) >= factor)
      return format(value / factor, std::string(prefix) + std::string(unit));
  }
  return format(value, unit);
}

}  // namespace dfsim
