// Reading weights from a safetensors file (huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte range, then the data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/functional/model_weights.h"

namespace dfsim::functional {

struct SafetensorsEntry {
  std::string dtype;  // "F32", "F16", "BF16", ... as the file names it
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte range within the data section
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;
  std::uint64_t data_offset = 0;  // where the data section starts in the file
};

// Parses the header from the first bytes of a file of `file_size` bytes (`bytes` may be the
// whole file). Checks the length prefix, the JSON, every entry's fields and that each byte range
// matches its shape and dtype and lies inside the file. Throws InputError naming `path` and the
// tensor. Pure: no I/O, so it can be fed arbitrary bytes.
SafetensorsHeader parse_safetensors_header(std::string_view bytes, std::uint64_t file_size,
                                           const std::string& path);

// Bytes per element of a safetensors dtype name, 0 when unknown.
std::uint64_t safetensors_dtype_bytes(std::string_view dtype);

// The model's weights from a file with Hugging Face Llama tensor names
// (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight,
// lm_head.weight), dtypes F32, F16 or BF16, each rounded to the dtype the model stores it in.
// A missing tensor, a wrong shape or dtype, a truncated file or a bad header is an InputError
// naming the tensor.
ModelWeights load_safetensors_weights(const std::string& path, const ModelSpec& model);

}  // namespace dfsim::functional
