#include "sim/workload/model_spec.h"

#include <charconv>

#include "sim/config/config_reader.h"

namespace dfsim {

namespace {

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
    throw InputError(item.location, path,
                     "expected a layer index from 0 to " + std::to_string(layers - 1) + ", got '" +
                         text + "'");
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
    entry.intermediate_size = item.integer_or("intermediate_size", 0);
    entry.num_key_value_heads = item.integer_or("num_key_value_heads", 0);
    if (entry.num_key_value_heads > 0 && model.num_attention_heads % entry.num_key_value_heads != 0) {
      item.fail("num_key_value_heads", "must divide num_attention_heads");
    }
    item.finish();
    overrides.push_back(std::move(entry));
  }
  return overrides;
}

}  // namespace

std::int64_t ModelSpec::intermediate_size_of(std::int64_t layer) const {
  std::int64_t value = intermediate_size;
  for (const LayerOverride& item : layer_overrides) {
    for (std::int64_t index : item.layers) {
      if (index == layer && item.intermediate_size > 0) value = item.intermediate_size;
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
  model.family = root.choice("family", {"llama"});
  model.hidden_size = root.integer("hidden_size");
  model.intermediate_size = root.integer("intermediate_size");
  model.num_layers = root.integer("num_layers", 1, 100'000);
  model.num_attention_heads = root.integer("num_attention_heads");
  model.num_key_value_heads = root.integer("num_key_value_heads");
  model.vocab_size = root.integer("vocab_size");
  model.max_position_embeddings = root.integer("max_position_embeddings");
  model.tie_word_embeddings = root.boolean_or("tie_word_embeddings", false);
  model.rope_theta = root.quantity_or("rope_theta", Dimension::kCount, 10000.0);
  model.rms_norm_eps = root.quantity_or("rms_norm_eps", Dimension::kCount, 1e-5);

  if (model.num_attention_heads % model.num_key_value_heads != 0) {
    root.fail("num_key_value_heads",
              "must divide num_attention_heads (" + std::to_string(model.num_attention_heads) +
                  ") for grouped-query attention");
  }
  if (root.has("head_dim")) {
    model.head_dim = root.integer("head_dim");
  } else {
    if (model.hidden_size % model.num_attention_heads != 0) {
      root.fail("num_attention_heads",
                "does not divide hidden_size; give head_dim explicitly");
    }
    model.head_dim = model.hidden_size / model.num_attention_heads;
  }
  model.weight_dtype = read_dtype(root, "weight_dtype", Dtype::kBf16);
  model.activation_dtype = read_dtype(root, "activation_dtype", Dtype::kBf16);
  model.kv_cache_dtype = read_dtype(root, "kv_cache_dtype", model.activation_dtype);
  model.layer_overrides = parse_layer_overrides(root, model);
  root.finish();
  return model;
}

}  // namespace dfsim
