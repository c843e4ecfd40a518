#include "sim/functional/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "sim/common/error.h"
#include "sim/functional/numerics.h"
#include "sim/functional/quantize.h"

namespace dfsim::functional {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& message) {
  throw InputError(path + ": " + message);
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

std::uint64_t safetensors_dtype_bytes(std::string_view dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2")
    return 1;
  return 0;
}

SafetensorsHeader parse_safetensors_header(std::string_view bytes, std::uint64_t file_size,
                                           const std::string& path) {
  if (bytes.size() < 8 || file_size < 8) bad(path, "truncated: no 8-byte header length");
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  if (length > file_size - 8 || length > bytes.size() - 8) {
    bad(path,
        "truncated: the header length (" + std::to_string(length) + " bytes) exceeds the file");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, length));
  } catch (const nlohmann::json::exception& error) {
    bad(path, std::string("bad header: not JSON (") + error.what() + ")");
  }
  if (!header.is_object()) bad(path, "bad header: expected a JSON object of tensors");
  SafetensorsHeader result;
  result.data_offset = 8 + length;
  const std::uint64_t data_size = file_size - result.data_offset;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = "tensor '" + name + "'";
    if (!value.is_object()) bad(path, where + ": expected an object");
    for (const auto& [key, ignored] : value.items()) {
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        bad(path, where + ": unknown key '" + key + "'");
    }
    SafetensorsEntry entry;
    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) bad(path, where + ": dtype must be a string");
    entry.dtype = dtype->get<std::string>();
    const std::uint64_t element = safetensors_dtype_bytes(entry.dtype);
    if (element == 0) bad(path, where + ": unknown dtype '" + entry.dtype + "'");
    const auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) bad(path, where + ": shape must be a list");
    std::uint64_t elements = 1;
    for (const auto& dim : *shape) {
      if (!dim.is_number_unsigned())
        bad(path, where + ": shape entries must be non-negative integers");
      const std::uint64_t d = dim.get<std::uint64_t>();
      if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
          (d != 0 && elements > std::numeric_limits<std::uint64_t>::max() / element / d)) {
        bad(path, where + ": shape too large");
      }
      elements *= d;
      entry.shape.push_back(static_cast<std::int64_t>(d));
    }
    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      bad(path, where + ": data_offsets must be [begin, end]");
    }
    entry.begin = (*offsets)[0].get<std::uint64_t>();
    entry.end = (*offsets)[1].get<std::uint64_t>();
    if (entry.begin > entry.end) bad(path, where + ": data_offsets end before they begin");
    if (entry.end - entry.begin != elements * element) {
      bad(path, where + ": " + std::to_string(entry.end - entry.begin) + " bytes for shape " +
                    shape_text(entry.shape) + " of " + entry.dtype + " (needs " +
                    std::to_string(elements * element) + ")");
    }
    if (entry.end > data_size) bad(path, where + ": truncated file (data ends before the tensor)");
    result.tensors.emplace(name, std::move(entry));
  }
  return result;
}

namespace {

class Reader {
 public:
  Reader(std::string path, std::string bytes, SafetensorsHeader header)
      : path_(std::move(path)), bytes_(std::move(bytes)), header_(std::move(header)) {}

  bool has(const std::string& name) const { return header_.tensors.count(name) > 0; }

  std::vector<float> read(const std::string& name, const std::vector<std::int64_t>& shape,
                          Dtype store) const {
    auto it = header_.tensors.find(name);
    if (it == header_.tensors.end()) bad(path_, "tensor '" + name + "' is missing");
    const SafetensorsEntry& entry = it->second;
    if (entry.shape != shape) {
      bad(path_, "tensor '" + name + "' has shape " + shape_text(entry.shape) +
                     ", the model needs " + shape_text(shape));
    }
    const std::uint64_t element = safetensors_dtype_bytes(entry.dtype);
    if (entry.dtype != "F32" && entry.dtype != "F16" && entry.dtype != "BF16") {
      bad(path_, "tensor '" + name + "' is " + entry.dtype + " (F32, F16 or BF16 are read)");
    }
    const char* data = bytes_.data() + header_.data_offset + entry.begin;
    const std::size_t count = (entry.end - entry.begin) / element;
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) {
      const char* p = data + i * element;
      if (element == 4) {
        std::uint32_t bits = 0;
        for (int b = 3; b >= 0; --b) bits = (bits << 8) | static_cast<unsigned char>(p[b]);
        std::memcpy(&values[i], &bits, 4);
      } else {
        const auto bits = static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) |
                                                     (static_cast<unsigned char>(p[1]) << 8));
        values[i] = entry.dtype == "BF16" ? bf16_to_float(bits) : fp16_to_float(bits);
      }
      values[i] = round_to(values[i], store);
    }
    return values;
  }

 private:
  std::string path_;
  std::string bytes_;
  SafetensorsHeader header_;
};

}  // namespace

ModelWeights load_safetensors_weights(const std::string& path, const ModelSpec& model) {
  check_functional_model(model);
  std::ifstream file(path, std::ios::binary);
  if (!file) bad(path, "cannot open the --weights file");
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  SafetensorsHeader header = parse_safetensors_header(bytes, bytes.size(), path);
  Reader reader(path, std::move(bytes), std::move(header));

  const std::int64_t h = model.hidden_size;
  const Dtype act = model.activation_dtype;
  // Matrices are read as fp32 and stored as the model's weight layout says (quantized when it
  // names an integer format), as a converter would before the run.
  const Dtype w = Dtype::kFp32;
  const auto stored = [&](std::vector<float> values, std::int64_t k) {
    quantize_rows(values, k, model.weight_layout());
    return values;
  };
  ModelWeights weights;
  weights.embed_tokens =
      stored(reader.read("model.embed_tokens.weight", {model.vocab_size, h}, w), h);
  for (std::int64_t layer = 0; layer < model.num_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    const std::int64_t kv = model.key_value_heads_of(layer) * model.head_dim;
    const std::int64_t q = model.q_width();
    const std::int64_t inter = model.intermediate_size_of(layer);
    LayerWeights& l = weights.layers.emplace_back();
    l.attn_norm = reader.read(prefix + "input_layernorm.weight", {h}, act);
    l.q_proj = stored(reader.read(prefix + "self_attn.q_proj.weight", {q, h}, w), h);
    l.k_proj = stored(reader.read(prefix + "self_attn.k_proj.weight", {kv, h}, w), h);
    l.v_proj = stored(reader.read(prefix + "self_attn.v_proj.weight", {kv, h}, w), h);
    if (model.attention_bias) {
      l.q_bias = reader.read(prefix + "self_attn.q_proj.bias", {q}, act);
      l.k_bias = reader.read(prefix + "self_attn.k_proj.bias", {kv}, act);
      l.v_bias = reader.read(prefix + "self_attn.v_proj.bias", {kv}, act);
    }
    l.o_proj = stored(reader.read(prefix + "self_attn.o_proj.weight", {h, q}, w), q);
    if (model.attention_output_bias)
      l.o_bias = reader.read(prefix + "self_attn.o_proj.bias", {h}, act);
    l.mlp_norm = reader.read(prefix + "post_attention_layernorm.weight", {h}, act);
    l.gate_proj = stored(reader.read(prefix + "mlp.gate_proj.weight", {inter, h}, w), h);
    l.up_proj = stored(reader.read(prefix + "mlp.up_proj.weight", {inter, h}, w), h);
    l.down_proj = stored(reader.read(prefix + "mlp.down_proj.weight", {h, inter}, w), inter);
  }
  weights.final_norm = reader.read("model.norm.weight", {h}, act);
  // Tied checkpoints usually omit lm_head.weight; the embedding table serves as the head.
  weights.lm_head = model.tie_word_embeddings && !reader.has("lm_head.weight")
                        ? weights.embed_tokens
                        : stored(reader.read("lm_head.weight", {model.vocab_size, h}, w), h);
  return weights;
}

}  // namespace dfsim::functional
