// Errors that reach the user. Every problem with outside input (YAML, JSON, command line) is an
// InputError carrying where it came from; main() catches it once and exits with code 2.
#pragma once

#include <stdexcept>
#include <string>

namespace dfsim {

// A place in an input: a file (or "--set", "command line") with 1-based line and column.
// line == 0 means the position is unknown (the file as a whole).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  std::string str() const;  // "file:line:column" or "file"
};

// Bad input from the user. what() is the complete one-line message:
// "file:line:column: key.path: what is wrong" (key path omitted when empty).
class InputError : public std::runtime_error {
 public:
  InputError(SourceLocation location, std::string key, const std::string& message);
  explicit InputError(const std::string& message);  // no location (e.g. a bad CLI value)

  const SourceLocation& location() const { return location_; }
  const std::string& key() const { return key_; }

 private:
  SourceLocation location_;
  std::string key_;
};

// Exit code for bad input, as promised in README.
inline constexpr int kExitBadInput = 2;

}  // namespace dfsim
