#include "sim/config/config_reader.h"

#include <algorithm>
#include <vector>

#include <charconv>
#include <cmath>

namespace dfsim {

namespace {

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}


// Only "-?[0-9]+": std::stoll would accept "12abc", " 12" and "+12".
std::optional<std::int64_t> parse_integer(const std::string& text) {
  std::string_view digits(text);
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty()) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string join(const std::set<std::string, std::less<>>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

std::string one_of(std::initializer_list<std::string_view> allowed) {
  std::string out = "one of ";
  bool first = true;
  for (std::string_view choice : allowed) {
    if (!first) out += ", ";
    out += choice;
    first = false;
  }
  return out;
}

}  // namespace

ConfigReader::ConfigReader(const ConfigNode& node, std::string path)
    : node_(&node), path_(std::move(path)) {
  if (!node.is_map()) throw InputError(node.location, path_, "expected a map");
}

bool ConfigReader::has(std::string_view key) const {
  return node_->find(key) != nullptr;
}

double ConfigReader::quantity(std::string_view key, Dimension dimension, Range range) {
  std::string name(dimension_name(dimension));
  const ConfigNode& value = require_scalar(key, "a " + name);
  std::optional<double> parsed = parse_quantity(value.scalar, dimension);
  if (!parsed || !std::isfinite(*parsed)) {
    throw InputError(value.location, key_path(key),
                     "expected a " + name + " like '" + std::string(dimension_example(dimension)) +
                         "', got " + quoted(value.scalar));
  }
  double number = *parsed;
  std::string rule;
  switch (range) {
    case Range::kPositive:
      if (!(number > 0)) rule = "must be greater than 0";
      break;
    case Range::kNonNegative:
      if (!(number >= 0)) rule = "must not be negative";
      break;
    case Range::kFraction:
      if (!(number > 0 && number <= 1)) rule = "must be a fraction in (0, 1]";
      break;
    case Range::kAny:
      break;
  }
  if (!rule.empty()) {
    throw InputError(value.location, key_path(key), rule + ", got " + quoted(value.scalar));
  }
  return number;
}

double ConfigReader::quantity_or(std::string_view key, Dimension dimension, double fallback,
                                 Range range) {
  if (!has(key)) {
    used_.emplace(key);
    return fallback;
  }
  return quantity(key, dimension, range);
}

std::int64_t ConfigReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const ConfigNode& value = require_scalar(key, "an integer");
  std::optional<std::int64_t> parsed = parse_integer(value.scalar);
  if (!parsed) {
    throw InputError(value.location, key_path(key),
                     "expected an integer, got " + quoted(value.scalar));
  }
  if (*parsed < min || *parsed > max) {
    std::string rule =
        max == INT64_MAX ? "must be at least " + std::to_string(min)
                         : "must be between " + std::to_string(min) + " and " + std::to_string(max);
    throw InputError(value.location, key_path(key), rule + ", got " + quoted(value.scalar));
  }
  return *parsed;
}

std::int64_t ConfigReader::integer_or(std::string_view key, std::int64_t fallback, std::int64_t min,
                                      std::int64_t max) {
  if (!has(key)) {
    used_.emplace(key);
    return fallback;
  }
  return integer(key, min, max);
}

std::string ConfigReader::string(std::string_view key) {
  const ConfigNode& value = require_scalar(key, "a string");
  if (value.scalar.empty()) throw InputError(value.location, key_path(key), "must not be empty");
  return value.scalar;
}

std::string ConfigReader::string_or(std::string_view key, std::string fallback) {
  if (!has(key)) {
    used_.emplace(key);
    return fallback;
  }
  return string(key);
}

bool ConfigReader::boolean(std::string_view key) {
  const ConfigNode& value = require_scalar(key, "true or false");
  if (value.scalar == "true") return true;
  if (value.scalar == "false") return false;
  throw InputError(value.location, key_path(key),
                   "expected true or false, got " + quoted(value.scalar));
}

bool ConfigReader::boolean_or(std::string_view key, bool fallback) {
  if (!has(key)) {
    used_.emplace(key);
    return fallback;
  }
  return boolean(key);
}

std::string ConfigReader::choice(std::string_view key,
                                 std::initializer_list<std::string_view> allowed) {
  std::string expected = one_of(allowed);
  const ConfigNode& value = require_scalar(key, expected);
  for (std::string_view candidate : allowed) {
    if (value.scalar == candidate) return value.scalar;
  }
  throw InputError(value.location, key_path(key),
                   "expected " + expected + ", got " + quoted(value.scalar));
}

std::string ConfigReader::choice_or(std::string_view key,
                                    std::initializer_list<std::string_view> allowed,
                                    std::string fallback) {
  if (!has(key)) {
    used_.emplace(key);
    return fallback;
  }
  return choice(key, allowed);
}

ConfigReader ConfigReader::child(std::string_view key) {
  const ConfigNode& value = require(key);
  if (!value.is_map()) {
    throw InputError(value.location, key_path(key), "expected a map, got " + describe(value));
  }
  return ConfigReader(value, key_path(key));
}

std::optional<ConfigReader> ConfigReader::optional_child(std::string_view key) {
  if (!has(key)) {
    used_.emplace(key);
    return std::nullopt;
  }
  return child(key);
}

void ConfigReader::ignore(std::string_view key) {
  used_.emplace(key);
}

void ConfigReader::finish() const {
  for (const auto& [key, value] : node_->entries) {
    if (used_.count(key)) continue;
    std::string message = "unknown key";
    if (!used_.empty()) message += " (known here: " + join(used_) + ")";
    throw InputError(value.key_location, key_path(key), message);
  }
}

const ConfigNode* ConfigReader::raw(std::string_view key) {
  used_.emplace(key);
  return node_->find(key);
}

void ConfigReader::fail(std::string_view key, const std::string& message) const {
  const ConfigNode* value = key.empty() ? nullptr : node_->find(key);
  throw InputError(value ? value->location : node_->location, key_path(key), message);
}

namespace {

// Edit distance (insertions, deletions, substitutions, adjacent swaps), to spot typos.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

const ConfigNode& ConfigReader::require(std::string_view key) {
  used_.emplace(key);
  const ConfigNode* value = node_->find(key);
  if (value) return *value;
  // A key nobody reads that is spelled almost like the missing one is most likely a typo:
  // point at it rather than at the map.
  for (const auto& [name, entry] : node_->entries) {
    if (used_.count(name) || edit_distance(name, key) > 2) continue;
    throw InputError(entry.key_location, key_path(name),
                     "unknown key (did you mean '" + std::string(key) + "'?)");
  }
  throw InputError(node_->location, key_path(key), "missing required key");
}

const ConfigNode& ConfigReader::require_scalar(std::string_view key, std::string_view expected) {
  const ConfigNode& value = require(key);
  if (value.kind == ConfigNode::Kind::kNull) {
    throw InputError(value.location, key_path(key), "missing value");
  }
  if (value.kind != ConfigNode::Kind::kScalar) {
    throw InputError(value.location, key_path(key),
                     "expected " + std::string(expected) + ", got " + describe(value));
  }
  return value;
}

std::string ConfigReader::key_path(std::string_view key) const {
  // fail("") names the map itself.
  if (key.empty()) return path_;
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

}  // namespace dfsim
