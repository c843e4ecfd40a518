// Shared by the libFuzzer targets: every parser of outside input may reject its input only with
// an InputError (the CLI turns it into one line and exit code 2). Any other exception escapes and
// libFuzzer reports it as a crash, like a sanitizer finding or a hang.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sim/common/error.h"

namespace dfsim::fuzz {

inline std::string as_text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

template <typename Body>
int run(Body&& body) {
  try {
    body();
  } catch (const InputError& error) {
    // A message must stay one line: the CLI prints it as "dfsim: error: <message>".
    if (std::string_view(error.what()).find('\n') != std::string_view::npos) {
      std::fprintf(stderr, "multi-line InputError: %s\n", error.what());
      std::abort();
    }
  }
  return 0;
}

// A parsed number that reports print must be finite.
inline void require_finite(double value, const char* what) {
  if (!std::isfinite(value)) {
    std::fprintf(stderr, "%s is not finite\n", what);
    std::abort();
  }
}

}  // namespace dfsim::fuzz
