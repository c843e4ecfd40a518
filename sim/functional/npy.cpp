#include "sim/functional/npy.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace dfsim::functional {

static_assert(std::endian::native == std::endian::little, "the .npy writer assumes '<f4' memory");

std::string npy_float32(const std::vector<float>& values, const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  std::string dims;
  for (std::int64_t d : shape) {
    count *= d;
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  }
  if (count != static_cast<std::int64_t>(values.size())) {
    throw std::logic_error("npy_float32: shape does not match the values");
  }
  if (shape.size() == 1) dims += ",";  // a Python tuple: (3,) for one dimension, (2, 3) for more
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header, padded with spaces and ended by a newline so
  // the data starts on a 64-byte boundary.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  const std::size_t offset = out.size();
  out.resize(offset + values.size() * sizeof(float));
  std::memcpy(out.data() + offset, values.data(), values.size() * sizeof(float));
  return out;
}

}  // namespace dfsim::functional
