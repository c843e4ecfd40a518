#include "sim/workload/model_spec.h"

#include <charconv>
#include <optional>

#include "sim/config/config_reader.h"

namespace dfsim {

namespace {

// Upper bounds far above any published checkpoint (widths <= 53248, 128 heads, 256k vocab,
// 10M positions) that keep the products of shapes the graph forms (width x width x layers,
// vocab x width) far inside 64 bits: an absurd config is an input error, not a signed overflow.
constexpr std::int64_t kMaxWidth = 1 << 20;
constexpr std::int64_t kMaxHeads = 1 << 16;
constexpr std::int64_t kMaxVocab = 1 << 24;
constexpr std::int64_t kMaxPositions = std::int64_t{1} << 32;

Dtype read_dtype(ConfigReader& reader, std::string_view key, Dtype fallback) {
  if (!reader.has(key)) return fallback;
  std::string text = reader.string(key);
  auto dtype = parse_dtype(text);
  if (!dtype) reader.fail(key, "expected one of " + dtype_choices() + ", got '" + text + "'");
  return *dtype;
}

std::int64_t layer_index(const ConfigNode& item, const std::string& path, std::int64_t layers) {
  std::int64_t value = -1;
  const std::string& text = item.scalar;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (item.kind != ConfigNode::Kind::kScalar || error != std::errc() ||
      end != text.data() + text.size() || value < 0 || value >= layers) {
    throw InputError(
        item.location, path,
        "expected a layer index from 0 to " + std::to_string(layers - 1) + ", got '" + text + "'");
  }
  return value;
}

std::vector<LayerOverride> parse_layer_overrides(ConfigReader& root, const ModelSpec& model) {
  std::vector<LayerOverride> overrides;
  const ConfigNode* list = root.raw("layer_overrides");
  if (!list) return overrides;
  if (list->kind != ConfigNode::Kind::kSequence) {
    throw InputError(list->location, "layer_overrides", "expected a list of overrides");
  }
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const std::string path = "layer_overrides[" + std::to_string(i) + "]";
    ConfigReader item(list->items[i], path);
    LayerOverride entry;
    const ConfigNode* layers = item.raw("layers");
    if (!layers || layers->kind != ConfigNode::Kind::kSequence || layers->items.empty()) {
      item.fail("layers", "expected a non-empty list of layer indices, e.g. [0, 31]");
    }
    for (const ConfigNode& index : layers->items) {
      entry.layers.push_back(layer_index(index, path + ".layers", model.num_layers));
    }
    entry.intermediate_size = item.integer_or("intermediate_size", 0, 1, kMaxWidth);
    entry.num_key_value_heads = item.integer_or("num_key_value_heads", 0, 1, kMaxHeads);
    entry.sliding_window = item.integer_or("sliding_window", -1, 0);
    if (entry.num_key_value_heads > 0 &&
        model.num_attention_heads % entry.num_key_value_heads != 0) {
      item.fail("num_key_value_heads", "must divide num_attention_heads");
    }
    item.finish();
    overrides.push_back(std::move(entry));
  }
  return overrides;
}

RopeScaling parse_rope_scaling(ConfigReader& root) {
  RopeScaling scaling;
  std::optional<ConfigReader> reader = root.optional_child("rope_scaling");
  if (!reader) return scaling;
  scaling.type = reader->string("type");
  scaling.factor = reader->quantity_or("factor", Dimension::kCount, 1.0);
  scaling.original_max_position_embeddings =
      reader->integer_or("original_max_position_embeddings", 0);
  scaling.low_freq_factor =
      reader->quantity_or("low_freq_factor", Dimension::kCount, 0.0, Range::kNonNegative);
  scaling.high_freq_factor =
      reader->quantity_or("high_freq_factor", Dimension::kCount, 0.0, Range::kNonNegative);
  reader->finish();
  return scaling;
}

void parse_experts(ConfigReader& root, ModelSpec& model) {
  model.num_local_experts = root.integer_or("num_local_experts", 0, 0, kMaxHeads);
  model.num_experts_per_tok = root.integer_or("num_experts_per_tok", 0, 0, kMaxHeads);
  model.expert_parallel = root.boolean_or("expert_parallel", true);
  if (model.num_local_experts == 0 && model.num_experts_per_tok > 0) {
    root.fail("num_experts_per_tok", "needs num_local_experts (the experts to choose from)");
  }
  if (model.num_local_experts > 0 &&
      (model.num_experts_per_tok < 1 || model.num_experts_per_tok > model.num_local_experts)) {
    root.fail(model.num_experts_per_tok > 0 ? "num_experts_per_tok" : "num_local_experts",
              "a mixture of experts needs num_experts_per_tok from 1 to num_local_experts (" +
                  std::to_string(model.num_local_experts) + ")");
  }
  if (model.family == "mixtral" && model.num_local_experts == 0) {
    root.fail("family", "mixtral needs num_local_experts and num_experts_per_tok");
  }
}

// The W8A8 schemes quantize weights to int8 (one scale per output channel unless the workload
// gives a group size); a floating checkpoint dtype becomes int8, another integer format is a
// contradiction.
void parse_quantization(ConfigReader& root, ModelSpec& model) {
  const std::string scheme = root.choice_or(
      "quantization", {"weight-only", "w8a8-dynamic", "w8a8-static", "smoothquant"}, "weight-only");
  if (scheme == "w8a8-dynamic") model.quantization = QuantizationScheme::kW8A8Dynamic;
  if (scheme == "w8a8-static") model.quantization = QuantizationScheme::kW8A8Static;
  if (scheme == "smoothquant") model.quantization = QuantizationScheme::kSmoothQuant;
  if (root.has("smoothquant_alpha")) {
    model.smoothquant_alpha =
        root.quantity("smoothquant_alpha", Dimension::kCount, Range::kNonNegative);
    if (model.smoothquant_alpha > 1) root.fail("smoothquant_alpha", "must be from 0 to 1");
    if (model.quantization != QuantizationScheme::kSmoothQuant) {
      root.fail("smoothquant_alpha", "applies only to quantization: smoothquant");
    }
  }
  if (model.quantization == QuantizationScheme::kWeightOnly) return;
  if (is_integer_format(model.weight_dtype) && model.weight_dtype != Dtype::kInt8) {
    root.fail("weight_dtype", "quantization " + scheme +
                                  " runs int8 x int8 matmuls; weight_dtype " +
                                  std::string(dtype_name(model.weight_dtype)) +
                                  " contradicts it (use int8, or quantization: weight-only)");
  }
  if (model.weight_dtype != Dtype::kInt8) {
    model.weight_dtype = Dtype::kInt8;
    if (!root.has("weight_group_size")) model.weight_group_size = 0;
  }
}

}  // namespace

std::string_view quantization_name(QuantizationScheme scheme) {
  switch (scheme) {
    case QuantizationScheme::kWeightOnly:
      return "weight-only";
    case QuantizationScheme::kW8A8Dynamic:
      return "w8a8-dynamic";
    case QuantizationScheme::kW8A8Static:
      return "w8a8-static";
    case QuantizationScheme::kSmoothQuant:
      return "smoothquant";
  }
  return "?";
}

std::int64_t ModelSpec::intermediate_size_of(std::int64_t layer) const {
  std::int64_t value = intermediate_size;
  for (const LayerOverride& item : layer_overrides) {
    for (std::int64_t index : item.layers) {
      if (index == layer && item.intermediate_size > 0) value = item.intermediate_size;
    }
  }
  return value;
}

std::int64_t ModelSpec::sliding_window_of(std::int64_t layer) const {
  std::int64_t value = sliding_window;
  for (const LayerOverride& item : layer_overrides) {
    for (std::int64_t index : item.layers) {
      if (index == layer && item.sliding_window >= 0) value = item.sliding_window;
    }
  }
  return value;
}

std::int64_t ModelSpec::key_value_heads_of(std::int64_t layer) const {
  std::int64_t value = num_key_value_heads;
  for (const LayerOverride& item : layer_overrides) {
    for (std::int64_t index : item.layers) {
      if (index == layer && item.num_key_value_heads > 0) value = item.num_key_value_heads;
    }
  }
  return value;
}

ModelSpec parse_model_spec(const ConfigNode& node) {
  ConfigReader root(node, "");
  ModelSpec model;
  model.name = root.string("name");
  model.description = root.string("description");
  model.source_path = node.location.file;
  model.family = root.choice("family", {"llama", "mistral", "qwen2", "mixtral", "phi3"});
  model.hidden_size = root.integer("hidden_size", 1, kMaxWidth);
  model.intermediate_size = root.integer("intermediate_size", 1, kMaxWidth);
  model.num_layers = root.integer("num_layers", 1, 100'000);
  model.num_attention_heads = root.integer("num_attention_heads", 1, kMaxHeads);
  model.num_key_value_heads = root.integer("num_key_value_heads", 1, kMaxHeads);
  model.vocab_size = root.integer("vocab_size", 1, kMaxVocab);
  model.max_position_embeddings = root.integer("max_position_embeddings", 1, kMaxPositions);
  model.tie_word_embeddings = root.boolean_or("tie_word_embeddings", false);
  model.rope_theta = root.quantity_or("rope_theta", Dimension::kCount, 10000.0);
  model.rms_norm_eps = root.quantity_or("rms_norm_eps", Dimension::kCount, 1e-5);
  model.rope_scaling = parse_rope_scaling(root);
  model.attention_bias = root.boolean_or("attention_bias", false);
  model.attention_output_bias = root.boolean_or("attention_output_bias", false);
  model.sliding_window = root.integer_or("sliding_window", 0, 0);
  parse_experts(root, model);

  if (model.num_attention_heads % model.num_key_value_heads != 0) {
    root.fail("num_key_value_heads", "must divide num_attention_heads (" +
                                         std::to_string(model.num_attention_heads) +
                                         ") for grouped-query attention");
  }
  if (root.has("head_dim")) {
    model.head_dim = root.integer("head_dim", 1, kMaxWidth);
  } else {
    if (model.hidden_size % model.num_attention_heads != 0) {
      root.fail("num_attention_heads", "does not divide hidden_size; give head_dim explicitly");
    }
    model.head_dim = model.hidden_size / model.num_attention_heads;
  }
  model.weight_dtype = read_dtype(root, "weight_dtype", Dtype::kBf16);
  model.weight_group_size =
      root.integer_or("weight_group_size", default_weight_group_size(model.weight_dtype), 0);
  if (is_block_format(model.weight_dtype) && model.weight_group_size != kBlockFormatWeights) {
    root.fail("weight_group_size", std::string(dtype_name(model.weight_dtype)) +
                                       " has fixed blocks of " +
                                       std::to_string(kBlockFormatWeights) + " weights");
  }
  model.activation_dtype = read_dtype(root, "activation_dtype", Dtype::kBf16);
  const bool quantizer_skips_head = model.weight_dtype == Dtype::kInt8 ||
                                    model.weight_dtype == Dtype::kInt4 ||
                                    model.weight_dtype == Dtype::kFp8;
  model.lm_head_dtype = read_dtype(
      root, "lm_head_dtype", quantizer_skips_head ? model.activation_dtype : model.weight_dtype);
  model.kv_cache_dtype = read_dtype(root, "kv_cache_dtype", model.activation_dtype);
  parse_quantization(root, model);
  model.layer_overrides = parse_layer_overrides(root, model);
  if (root.has("attention") && root.choice("attention", {"softmax", "dijiang"}) == "dijiang") {
    model.attention = AttentionVariant::kDiJiang;
    model.dijiang_features = root.integer_or("dijiang_features", model.head_dim, 1, model.head_dim);
    if (model.sliding_window > 0) {
      root.fail("sliding_window",
                "does not apply to dijiang attention (its state covers every "
                "earlier token)");
    }
  } else if (root.has("dijiang_features")) {
    root.fail("dijiang_features", "needs attention: dijiang");
  }
  root.finish();
  return model;
}

}  // namespace dfsim
