// NumPy's .npy format (version 1.0), written by hand per the format specification
// (numpy.lib.format): magic, header length, a Python dict literal padded to 64 bytes, data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dfsim::functional {

// The bytes of a little-endian float32 C-order array of `shape`.
std::string npy_float32(const std::vector<float>& values, const std::vector<std::int64_t>& shape);

}  // namespace dfsim::functional
