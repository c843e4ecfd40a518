#include "sim/serving/request_trace.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "sim/common/csv_line.h"
#include "sim/common/error.h"

namespace dfsim {

namespace {

// The three columns a trace needs, by role.
enum Role { kArrival = 0, kInput = 1, kOutput = 2 };

struct Format {
  const char* name;
  std::array<const char*, 3> columns;  // by Role
};

constexpr Format kDfsimFormat{"dfsim", {"arrival_s", "input_tokens", "output_tokens"}};
constexpr Format kAzureFormat{"Azure", {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}};

const std::string kExpectedHeaders =
    "expected the columns arrival_s,input_tokens,output_tokens or "
    "TIMESTAMP,ContextTokens,GeneratedTokens";

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<Role> role_in(const Format& format, std::string_view column) {
  for (int role = 0; role < 3; ++role) {
    if (column == format.columns[role]) return static_cast<Role>(role);
  }
  return std::nullopt;
}

// Strict integer: digits only (a leading '-' is read so that the message can say "negative").
std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool leap_year(long long y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// "YYYY-MM-DD HH:MM:SS[.fraction]" as nanoseconds since 1970-01-01 00:00:00 (the zone does not
// matter: only differences are used). Fraction digits past the ninth are dropped.
std::optional<std::int64_t> parse_datetime_ns(std::string_view text) {
  auto digits = [&](std::size_t at, std::size_t count) -> std::optional<int> {
    if (at + count > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  const auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*month < 1 || *month > 12 || *day < 1) return std::nullopt;
  const int month_days = kDaysInMonth[*month - 1] + (*month == 2 && leap_year(*year) ? 1 : 0);
  if (*day > month_days || *hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
  std::int64_t fraction_ns = 0;
  if (text.size() > 19) {
    if (text[19] != '.' || text.size() == 20) return std::nullopt;
    std::int64_t scale = 100000000;
    for (std::size_t i = 20; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      fraction_ns += (text[i] - '0') * scale;
      scale /= 10;
    }
  }
  const long long days =
      days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  const std::int64_t seconds = days * 86400LL + *hour * 3600LL + *minute * 60LL + *second;
  return seconds * 1000000000LL + fraction_ns;
}

}  // namespace

std::vector<Request> parse_request_trace(const std::string& text, const std::string& file_name) {
  std::istringstream stream(text);
  std::string line;
  int line_number = 0;
  const Format* format = nullptr;
  std::array<int, 3> index_of{-1, -1, -1};  // field index by Role
  std::size_t field_count = 0;
  std::vector<Request> requests;
  std::optional<std::int64_t> first_ns;  // Azure: the first row's time
  double previous_arrival = 0;
  int previous_line = 0;

  while (std::getline(stream, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const SourceLocation where{file_name, line_number, 1};
    std::vector<CsvField> fields = split_csv_line(line, where);
    auto at = [&](const CsvField& field) {
      return SourceLocation{file_name, line_number, static_cast<int>(field.column)};
    };

    if (format == nullptr) {  // the header
      for (std::size_t i = 0; i < fields.size(); ++i) {
        const std::string_view name = trim(fields[i].text);
        const Format* owner = role_in(kDfsimFormat, name)   ? &kDfsimFormat
                              : role_in(kAzureFormat, name) ? &kAzureFormat
                                                            : nullptr;
        if (owner == nullptr) {
          throw InputError(at(fields[i]), std::string(name), "unknown column; " + kExpectedHeaders);
        }
        if (format != nullptr && owner != format) {
          throw InputError(at(fields[i]), std::string(name),
                           std::string("a column of the ") + owner->name +
                               " format in a header of the " + format->name + " format; " +
                               kExpectedHeaders);
        }
        format = owner;
        const Role role = *role_in(*format, name);
        if (index_of[role] >= 0)
          throw InputError(at(fields[i]), std::string(name), "repeated column");
        index_of[role] = static_cast<int>(i);
      }
      for (int role = 0; role < 3; ++role) {
        if (index_of[role] < 0) {
          throw InputError(where, format->columns[role], "missing column; " + kExpectedHeaders);
        }
      }
      field_count = fields.size();
      continue;
    }

    if (fields.size() != field_count) {
      const int column = fields.size() > field_count ? static_cast<int>(fields[field_count].column)
                                                     : static_cast<int>(line.size() + 1);
      throw InputError(SourceLocation{file_name, line_number, column}, "",
                       "expected " + std::to_string(field_count) + " fields, got " +
                           std::to_string(fields.size()));
    }

    Request request;
    for (Role role : {kInput, kOutput}) {
      const CsvField& field = fields[static_cast<std::size_t>(index_of[role])];
      const std::string_view value = trim(field.text);
      const std::optional<long long> tokens = parse_integer(value);
      if (!tokens) {
        throw InputError(at(field), format->columns[role],
                         "expected an integer number of tokens, got '" + std::string(value) + "'");
      }
      if (*tokens < 1 || *tokens > 1000000000) {
        throw InputError(at(field), format->columns[role],
                         std::string(*tokens < 0    ? "negative"
                                     : *tokens == 0 ? "zero"
                                                    : "too many") +
                             " tokens (" + std::string(value) +
                             "); every request reads and writes 1 to 10^9 tokens");
      }
      (role == kInput ? request.input_tokens : request.output_tokens) = static_cast<int>(*tokens);
    }

    const CsvField& time_field = fields[static_cast<std::size_t>(index_of[kArrival])];
    const std::string_view time_text = trim(time_field.text);
    if (format == &kDfsimFormat) {
      const std::optional<double> seconds = parse_number(time_text);
      if (!seconds || *seconds < 0) {
        throw InputError(at(time_field), format->columns[kArrival],
                         "expected a number of seconds >= 0, got '" + std::string(time_text) + "'");
      }
      request.arrival_s = *seconds;
    } else {
      const std::optional<std::int64_t> ns = parse_datetime_ns(time_text);
      if (!ns) {
        throw InputError(at(time_field), format->columns[kArrival],
                         "expected a datetime like '2023-11-16 18:15:46.6805900', got '" +
                             std::string(time_text) + "'");
      }
      if (!first_ns) first_ns = *ns;
      request.arrival_s = static_cast<double>(*ns - *first_ns) * 1e-9;
    }
    if (!requests.empty() && request.arrival_s < previous_arrival) {
      throw InputError(at(time_field), format->columns[kArrival],
                       "time goes backwards (earlier than the request on line " +
                           std::to_string(previous_line) + "); rows must be in arrival order");
    }
    previous_arrival = request.arrival_s;
    previous_line = line_number;
    requests.push_back(request);
  }

  if (format == nullptr)
    throw InputError(SourceLocation{file_name}, "",
                     "empty trace: no header line; " + kExpectedHeaders);
  if (requests.empty())
    throw InputError(SourceLocation{file_name}, "", "no requests after the header");
  return requests;
}

std::vector<Request> read_request_trace(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InputError(SourceLocation{path}, "", "cannot read the trace file");
  std::ostringstream buffer;
  buffer << file.rdbuf();
  return parse_request_trace(buffer.str(), path);
}

}  // namespace dfsim
