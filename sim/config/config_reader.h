// Typed, strict access to one map of a ConfigNode tree. Every key read is recorded; finish()
// rejects the keys nobody read ("unknown key"), so a typo never becomes a silent default.
// Errors are InputErrors: "file:line:column: path.to.key: what is wrong".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sim/common/units.h"
#include "sim/config/config_tree.h"

namespace dfsim {

// What values a number may take.
enum class Range {
  kPositive,     // > 0
  kNonNegative,  // >= 0
  kFraction,     // 0 < x <= 1
  kAny,          // any finite value
};

class ConfigReader {
 public:
  // `node` must be a map (else InputError); `path` is the dotted path of `node` used in messages
  // ("" for the document root, "hbm" for a child).
  ConfigReader(const ConfigNode& node, std::string path);

  bool has(std::string_view key) const;

  // Quantities with units (Dimension::kCount for plain numbers).
  double quantity(std::string_view key, Dimension dimension, Range range = Range::kPositive);
  double quantity_or(std::string_view key, Dimension dimension, double fallback,
                     Range range = Range::kPositive);

  // Integers written without fraction or unit; must lie in [min, max].
  std::int64_t integer(std::string_view key, std::int64_t min = 1, std::int64_t max = INT64_MAX);
  std::int64_t integer_or(std::string_view key, std::int64_t fallback, std::int64_t min = 1,
                          std::int64_t max = INT64_MAX);

  std::string string(std::string_view key);
  std::string string_or(std::string_view key, std::string fallback);

  // true/false only (not yes/no/1/0).
  bool boolean(std::string_view key);
  bool boolean_or(std::string_view key, bool fallback);

  // One of `allowed`; the message lists them.
  std::string choice(std::string_view key, std::initializer_list<std::string_view> allowed);
  std::string choice_or(std::string_view key, std::initializer_list<std::string_view> allowed,
                        std::string fallback);

  // A nested map. The child must be finish()ed by the caller too.
  ConfigReader child(std::string_view key);
  std::optional<ConfigReader> optional_child(std::string_view key);

  // Marks a key as used without reading it (e.g. `description` read elsewhere, `inherit`).
  void ignore(std::string_view key);

  // Throws for the first key (in file order) that no call above touched.
  void finish() const;

  // The node for a key (nullptr if absent); marks it used.
  const ConfigNode* raw(std::string_view key);

  // Throws an InputError located at `key` (or at this map when the key is absent).
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;

  const std::string& path() const { return path_; }
  const SourceLocation& location() const { return node_->location; }

 private:
  const ConfigNode& require(std::string_view key);
  // `expected` names what the key holds, for the wrong-type message ("a bandwidth").
  const ConfigNode& require_scalar(std::string_view key, std::string_view expected);
  std::string key_path(std::string_view key) const;

  const ConfigNode* node_;
  std::string path_;
  std::set<std::string, std::less<>> used_;
};

}  // namespace dfsim
