#include "sim/common/error.h"

namespace dfsim {

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {
std::string compose(const SourceLocation& location, const std::string& key,
                    const std::string& message) {
  std::string out = location.str();
  if (!out.empty()) out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}
}  // namespace

InputError::InputError(SourceLocation location, std::string key, const std::string& message)
    : std::runtime_error(compose(location, key, message)),
      location_(std::move(location)),
      key_(std::move(key)) {}

InputError::InputError(const std::string& message) : std::runtime_error(message) {}

}  // namespace dfsim
