#include "sim/common/error.h"

namespace dfsim {

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {

// Messages quote what the user wrote (a key, a value, a YAML error about a control character);
// escaping control characters keeps every message one line, as promised.
std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string compose(const SourceLocation& location, const std::string& key,
                    const std::string& message) {
  std::string out = location.str();
  if (!out.empty()) out += ": ";
  if (!key.empty()) out += key + ": ";
  return one_line(out + message);
}

}  // namespace

InputError::InputError(SourceLocation location, std::string key, const std::string& message)
    : std::runtime_error(compose(location, key, message)),
      location_(std::move(location)),
      key_(std::move(key)) {}

InputError::InputError(const std::string& message) : std::runtime_error(one_line(message)) {}

}  // namespace dfsim
