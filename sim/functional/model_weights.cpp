#include "sim/functional/model_weights.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "sim/common/error.h"
#include "sim/functional/numerics.h"
#include "sim/functional/quantize.h"

namespace dfsim::functional {

namespace {

// splitmix64: a tiny, well-mixed generator whose stream is the same on every platform (the
// standard library's distributions are not).
class Stream {
 public:
  explicit Stream(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() {  // [-1, 1)
    return static_cast<float>(static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0);
  }

 private:
  std::uint64_t state_;
};

class Generator {
 public:
  Generator(std::uint64_t seed, WeightLayout layout) : seed_(seed), layout_(layout) {}
  std::vector<float> uniform(std::int64_t count, double scale) {
    Stream stream(seed_ * 0x100000001B3ull + ++tensors_);
    std::vector<float> values(static_cast<std::size_t>(count));
    for (float& value : values) value = static_cast<float>(stream.uniform() * scale);
    return values;
  }
  // Rows of `in` weights, stored (quantized where the layout says) as the model stores them.
  std::vector<float> matrix(std::int64_t out, std::int64_t in, double scale = 0) {
    std::vector<float> values =
        uniform(out * in, scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(in)));
    quantize_rows(values, in, layout_);
    return values;
  }
  std::vector<float> norm(std::int64_t width, Dtype dtype) {
    std::vector<float> values = uniform(width, 0.1);
    for (float& value : values) value = round_to(1.0f + value, dtype);
    return values;
  }

 private:
  std::uint64_t seed_;
  WeightLayout layout_;
  std::uint64_t tensors_ = 0;
};

}  // namespace

void check_functional_model(const ModelSpec& model) {
  auto refuse = [&](const std::string& why) {
    throw InputError("--functional: model " + model.name + ": " + why);
  };
  if (model.is_moe()) refuse("mixture-of-experts layers are not executed functionally");
  // Weights are held as fp32 in this process: past a quarter billion (1 GiB) a run would take
  // minutes and gigabytes, not the seconds functional checks are for.
  constexpr double kMaxParameters = 256.0 * 1024 * 1024;
  double parameters = 2.0 * static_cast<double>(model.vocab_size) * model.hidden_size;
  for (std::int64_t layer = 0; layer < model.num_layers; ++layer) {
    parameters += static_cast<double>(model.hidden_size) *
                  (2.0 * model.q_width() + 2.0 * model.key_value_heads_of(layer) * model.head_dim +
                   3.0 * model.intermediate_size_of(layer));
  }
  if (parameters > kMaxParameters) {
    refuse(
        fmt::format("{:.0f} M parameters; functional execution is for small models (at most "
                    "{:.0f} M)",
                    parameters / 1e6, kMaxParameters / 1e6));
  }
  if (!functional_dtype(model.weight_dtype) && !is_integer_format(model.weight_dtype)) {
    refuse("weight dtype " + std::string(dtype_name(model.weight_dtype)) +
           " is not executed functionally (fp32, bf16, fp16, int8, int4, q8_0, q4_0)");
  }
  for (Dtype dtype : {model.activation_dtype, model.kv_cache_dtype}) {
    if (!functional_dtype(dtype)) {
      refuse("dtype " + std::string(dtype_name(dtype)) +
             " is not executed functionally (fp32, bf16, fp16)");
    }
  }
  const std::string& type = model.rope_scaling.type;
  if (!type.empty() && type != "default" && type != "llama3" && type != "linear") {
    refuse("rope_scaling type '" + type + "' is not executed functionally (llama3, linear)");
  }
  if (type == "llama3" &&
      (model.rope_scaling.original_max_position_embeddings <= 0 ||
       model.rope_scaling.high_freq_factor <= model.rope_scaling.low_freq_factor ||
       model.rope_scaling.low_freq_factor <= 0)) {
    refuse(
        "llama3 rope_scaling needs original_max_position_embeddings and "
        "0 < low_freq_factor < high_freq_factor");
  }
}

ModelWeights generate_weights(const ModelSpec& model, std::uint64_t seed) {
  check_functional_model(model);
  const std::int64_t h = model.hidden_size;
  Generator gen(seed, model.weight_layout());
  ModelWeights weights;
  weights.embed_tokens = gen.matrix(model.vocab_size, h, 1.0);
  for (std::int64_t layer = 0; layer < model.num_layers; ++layer) {
    const std::int64_t kv_width = model.key_value_heads_of(layer) * model.head_dim;
    const std::int64_t inter = model.intermediate_size_of(layer);
    LayerWeights& w = weights.layers.emplace_back();
    // Norm weights and biases stay in the activation dtype (see the workload graph).
    w.attn_norm = gen.norm(h, model.activation_dtype);
    w.q_proj = gen.matrix(model.q_width(), h);
    w.k_proj = gen.matrix(kv_width, h);
    w.v_proj = gen.matrix(kv_width, h);
    if (model.attention_bias) {
      w.q_bias = gen.uniform(model.q_width(), 0.1);
      w.k_bias = gen.uniform(kv_width, 0.1);
      w.v_bias = gen.uniform(kv_width, 0.1);
      round_all(w.q_bias, model.activation_dtype);
      round_all(w.k_bias, model.activation_dtype);
      round_all(w.v_bias, model.activation_dtype);
    }
    w.o_proj = gen.matrix(h, model.q_width());
    if (model.attention_output_bias) {
      w.o_bias = gen.uniform(h, 0.1);
      round_all(w.o_bias, model.activation_dtype);
    }
    w.mlp_norm = gen.norm(h, model.activation_dtype);
    w.gate_proj = gen.matrix(inter, h);
    w.up_proj = gen.matrix(inter, h);
    w.down_proj = gen.matrix(h, inter);
  }
  weights.final_norm = gen.norm(h, model.activation_dtype);
  weights.lm_head =
      model.tie_word_embeddings ? weights.embed_tokens : gen.matrix(model.vocab_size, h);
  return weights;
}

}  // namespace dfsim::functional
