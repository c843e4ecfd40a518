#include "sim/workload/model_spec.h"

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

}  // namespace

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
  root.finish();
  return model;
}

}  // namespace dfsim
