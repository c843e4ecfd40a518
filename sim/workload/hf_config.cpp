#include "sim/workload/hf_config.h"

#include <fmt/format.h>

#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include "sim/common/error.h"
#include "sim/common/units.h"

namespace dfsim {

namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string json_kind(const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::kNull:
      return "null";
    case ConfigNode::Kind::kMap:
      return "an object";
    case ConfigNode::Kind::kSequence:
      return "an array";
    case ConfigNode::Kind::kScalar:
      return node.quoted ? "the string \"" + node.scalar + "\"" : node.scalar;
  }
  return "something else";
}

// Typed reads of one JSON object. HF writes null for "not set", so null reads as absent.
class JsonObject {
 public:
  JsonObject(const ConfigNode& node, std::string path) : node_(node), path_(std::move(path)) {}

  const ConfigNode* get(std::string_view key) const {
    const ConfigNode* value = node_.find(key);
    return value && value->kind != ConfigNode::Kind::kNull ? value : nullptr;
  }

  const ConfigNode& require(std::string_view key, std::string_view what) const {
    if (const ConfigNode* value = get(key)) return *value;
    throw InputError(node_.location, key_path(key), "missing " + std::string(what));
  }

  [[noreturn]] void fail(const ConfigNode& value, std::string_view key,
                         const std::string& message) const {
    throw InputError(value.location, key_path(key), message);
  }

  // A JSON number without fraction or exponent, at least `min`.
  std::int64_t integer(std::string_view key, const ConfigNode& value, std::int64_t min = 1) const {
    std::string_view text = value.scalar;
    bool digits = value.kind == ConfigNode::Kind::kScalar && !value.quoted && !text.empty();
    for (char c : text) digits = digits && c >= '0' && c <= '9';
    if (!digits || text.size() > 18) {
      fail(value, key, "expected an integer, got " + json_kind(value));
    }
    const std::int64_t number = std::stoll(std::string(text));
    if (number < min) {
      fail(value, key, fmt::format("must be at least {}, got {}", min, number));
    }
    return number;
  }

  // A finite JSON number.
  double number(std::string_view key, const ConfigNode& value) const {
    std::optional<double> parsed;
    if (value.kind == ConfigNode::Kind::kScalar && !value.quoted) {
      parsed = parse_quantity(value.scalar, Dimension::kCount);
    }
    if (!parsed) fail(value, key, "expected a number, got " + json_kind(value));
    return *parsed;
  }

  bool boolean(std::string_view key, const ConfigNode& value) const {
    if (value.kind == ConfigNode::Kind::kScalar && !value.quoted) {
      if (value.scalar == "true") return true;
      if (value.scalar == "false") return false;
    }
    fail(value, key, "expected true or false, got " + json_kind(value));
  }

  const std::string& string(std::string_view key, const ConfigNode& value) const {
    if (value.kind != ConfigNode::Kind::kScalar || !value.quoted) {
      fail(value, key, "expected a string, got " + json_kind(value));
    }
    return value.scalar;
  }

  const ConfigNode& object(std::string_view key, const ConfigNode& value) const {
    if (!value.is_map()) fail(value, key, "expected an object or null, got " + json_kind(value));
    return value;
  }

  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const SourceLocation& location() const { return node_.location; }

 private:
  const ConfigNode& node_;
  std::string path_;
};

// The workload tree being built; every value points at the JSON text it came from.
class Tree {
 public:
  explicit Tree(const SourceLocation& location) {
    root_.kind = ConfigNode::Kind::kMap;
    root_.location = location;
  }

  void set(const std::string& key, const std::string& text, const ConfigNode* from) {
    set_node(root_, key, text, from);
  }
  static void set_node(ConfigNode& map, const std::string& key, const std::string& text,
                       const ConfigNode* from) {
    ConfigNode node;
    node.kind = ConfigNode::Kind::kScalar;
    node.scalar = text;
    node.location = from ? from->location : map.location;
    node.key_location = from ? from->key_location : map.location;
    map.entries.emplace_back(key, std::move(node));
  }
  void add(const std::string& key, ConfigNode node) {
    root_.entries.emplace_back(key, std::move(node));
  }
  ConfigNode release() { return std::move(root_); }

 private:
  ConfigNode root_;
};

// torch_dtype (or `dtype`, its name since transformers 4.56) to a dfsim dtype name.
std::string dtype_of(const JsonObject& json, std::string_view key, const ConfigNode& value) {
  const std::string& text = json.string(key, value);
  if (text == "bfloat16") return "bf16";
  if (text == "float16") return "fp16";
  if (text == "float32") return "fp32";
  json.fail(value, key, "expected \"bfloat16\", \"float16\" or \"float32\", got \"" + text + "\"");
}

// Weight dtype of a quantized checkpoint (quantization_config), when its scheme is known.
std::string quantized_dtype(const JsonObject& parent, const ConfigNode& value) {
  const ConfigNode& node = parent.object("quantization_config", value);
  JsonObject config(node, "quantization_config");
  std::string method;
  if (const ConfigNode* m = config.get("quant_method")) method = config.string("quant_method", *m);
  if (method == "fp8") return "fp8";
  if (const ConfigNode* bits = config.get("bits")) {
    const std::int64_t count = config.integer("bits", *bits);
    if (count == 4) return "int4";
    if (count == 8) return "int8";
    config.fail(*bits, "bits", fmt::format("{}-bit weights are not modelled (4 or 8)", count));
  }
  for (auto [key, dtype] : {std::pair{"load_in_4bit", "int4"}, std::pair{"load_in_8bit", "int8"}}) {
    if (const ConfigNode* flag = config.get(key); flag && config.boolean(key, *flag)) return dtype;
  }
  parent.fail(node, "quantization_config",
              "quantization method '" + method +
                  "' is not understood; remove the key and choose the weights with "
                  "--set model.weight_dtype=int4|int8|fp8");
}

// rope_scaling (or transformers 5's rope_parameters) as dfsim's rope_scaling map; nullopt for
// plain RoPE. Kept as data: scaling changes angles, not costs.
std::optional<ConfigNode> rope_scaling(const JsonObject& parent, std::string_view key,
                                       const ConfigNode& value) {
  JsonObject scaling(parent.object(key, value), parent.key_path(key));
  const ConfigNode* type = scaling.get("rope_type");
  std::string_view type_key = "rope_type";
  if (!type) {
    type = scaling.get("type");
    type_key = "type";
  }
  if (!type) return std::nullopt;
  const std::string& name = scaling.string(type_key, *type);
  if (name == "default") return std::nullopt;
  ConfigNode node;
  node.kind = ConfigNode::Kind::kMap;
  node.location = value.location;
  node.key_location = value.key_location;
  Tree::set_node(node, "type", name, type);
  for (std::string_view field : {"factor", "low_freq_factor", "high_freq_factor"}) {
    if (const ConfigNode* number = scaling.get(field)) {
      scaling.number(field, *number);
      Tree::set_node(node, std::string(field), number->scalar, number);
    }
  }
  if (const ConfigNode* original = scaling.get("original_max_position_embeddings")) {
    Tree::set_node(node, "original_max_position_embeddings",
                   std::to_string(scaling.integer("original_max_position_embeddings", *original)),
                   original);
  }
  return node;
}

}  // namespace

bool is_hf_config_path(const std::string& path) {
  return ends_with(path, ".json");
}

std::string hf_config_name(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file(path);
  std::string name = file.filename().string();
  if (name == "config.json") {
    std::string parent = fs::absolute(file).parent_path().filename().string();
    return parent.empty() ? "config" : parent;
  }
  for (std::string_view suffix : {".config.json", ".json"}) {
    if (ends_with(name, suffix)) return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

ConfigNode hf_config_to_tree(const ConfigNode& root, const std::string& path) {
  if (!root.is_map()) {
    throw InputError(root.location, "", "a Hugging Face config.json must be a JSON object");
  }
  const JsonObject json(root, "");
  const ConfigNode& type_node =
      json.require("model_type", "model_type (one of " + std::string(kHfModelTypes) + ")");
  const std::string& type = json.string("model_type", type_node);
  if (type != "llama" && type != "mistral" && type != "qwen2" && type != "mixtral") {
    json.fail(type_node, "model_type",
              "'" + type + "' is not supported (supported: " + kHfModelTypes + ")");
  }
  if (const ConfigNode* act = json.get("hidden_act");
      act && json.string("hidden_act", *act) != "silu") {
    json.fail(*act, "hidden_act",
              "only \"silu\" (SwiGLU MLPs) is modelled, got \"" + act->scalar + "\"");
  }

  Tree tree(root.location);
  const std::string name = hf_config_name(path);
  tree.set("name", name, nullptr);
  tree.set("family", type, &type_node);

  // Required sizes, under their dfsim names.
  auto integer = [&](std::string_view key, std::string_view as) {
    const ConfigNode& value = json.require(key, "key (a positive integer)");
    const std::int64_t number = json.integer(key, value);
    tree.set(std::string(as), std::to_string(number), &value);
    return number;
  };
  const std::int64_t hidden = integer("hidden_size", "hidden_size");
  integer("intermediate_size", "intermediate_size");
  const std::int64_t layers = integer("num_hidden_layers", "num_layers");
  const std::int64_t heads = integer("num_attention_heads", "num_attention_heads");
  integer("vocab_size", "vocab_size");
  integer("max_position_embeddings", "max_position_embeddings");
  // transformers: num_key_value_heads None means multi-head attention.
  std::int64_t kv_heads = heads;
  if (const ConfigNode* value = json.get("num_key_value_heads")) {
    kv_heads = json.integer("num_key_value_heads", *value);
    tree.set("num_key_value_heads", std::to_string(kv_heads), value);
  } else {
    tree.set("num_key_value_heads", std::to_string(heads), json.get("num_attention_heads"));
  }
  if (const ConfigNode* value = json.get("head_dim")) {
    tree.set("head_dim", std::to_string(json.integer("head_dim", *value)), value);
  }

  // Defaults are the ones the transformers config class of each model_type applies.
  const bool mixtral = type == "mixtral";
  auto number = [&](std::string_view key, const std::string& fallback) {
    if (const ConfigNode* value = json.get(key)) {
      json.number(key, *value);
      tree.set(std::string(key), value->scalar, value);
    } else {
      tree.set(std::string(key), fallback, nullptr);
    }
  };
  auto boolean = [&](std::string_view key, std::string_view as, bool fallback) {
    const ConfigNode* value = json.get(key);
    const bool flag = value ? json.boolean(key, *value) : fallback;
    tree.set(std::string(as), flag ? "true" : "false", value);
    return flag;
  };
  boolean("tie_word_embeddings", "tie_word_embeddings", false);
  number("rms_norm_eps", mixtral ? "1e-5" : "1e-6");

  // transformers 5 moved rope_theta and the scaling into one object, rope_parameters.
  std::optional<ConfigNode> scaling;
  const ConfigNode* theta = json.get("rope_theta");
  std::string theta_key = "rope_theta";
  if (const ConfigNode* value = json.get("rope_scaling")) {
    scaling = rope_scaling(json, "rope_scaling", *value);
  }
  if (const ConfigNode* parameters = json.get("rope_parameters")) {
    JsonObject rope(json.object("rope_parameters", *parameters), "rope_parameters");
    if (!theta && (theta = rope.get("rope_theta"))) theta_key = "rope_parameters.rope_theta";
    if (!scaling) scaling = rope_scaling(json, "rope_parameters", *parameters);
  }
  if (theta) json.number(theta_key, *theta);
  tree.set("rope_theta", theta ? theta->scalar : mixtral ? "1e6" : "10000.0", theta);
  if (scaling) tree.add("rope_scaling", std::move(*scaling));

  // Checkpoint dtype: the weights as stored, activations and KV cache in the same format.
  const ConfigNode* dtype_node = json.get("torch_dtype");
  std::string_view dtype_key = "torch_dtype";
  if (!dtype_node) {
    dtype_node = json.get("dtype");
    dtype_key = "dtype";
  }
  if (!dtype_node) {
    throw InputError(root.location, "torch_dtype",
                     "missing (the checkpoint's dtype); add e.g. \"torch_dtype\": \"bfloat16\"");
  }
  const std::string dtype = dtype_of(json, dtype_key, *dtype_node);
  std::string weights = dtype;
  const ConfigNode* quantization = json.get("quantization_config");
  if (quantization) weights = quantized_dtype(json, *quantization);
  tree.set("weight_dtype", weights, quantization ? quantization : dtype_node);
  // GPTQ and AWQ state the weights per scale ("group_size"; -1: one per output channel).
  if (quantization && (weights == "int4" || weights == "int8")) {
    JsonObject config(*quantization, "quantization_config");
    if (const ConfigNode* group = config.get("group_size")) {
      const bool per_channel = group->kind == ConfigNode::Kind::kScalar && group->scalar == "-1";
      const std::int64_t size = per_channel ? 0 : config.integer("group_size", *group);
      tree.set("weight_group_size", std::to_string(size), group);
    }
  }
  tree.set("activation_dtype", dtype, dtype_node);
  tree.set("kv_cache_dtype", dtype, dtype_node);

  // Biases: Llama's attention_bias covers q, k, v and o; Qwen2 always has q/k/v biases and no
  // o bias; Mistral and Mixtral have none.
  if (type == "llama") {
    const bool bias = boolean("attention_bias", "attention_bias", false);
    tree.set("attention_output_bias", bias ? "true" : "false", json.get("attention_bias"));
    if (const ConfigNode* mlp_bias = json.get("mlp_bias");
        mlp_bias && json.boolean("mlp_bias", *mlp_bias)) {
      json.fail(*mlp_bias, "mlp_bias", "MLP biases are not modelled");
    }
  } else if (type == "qwen2") {
    tree.set("attention_bias", "true", &type_node);
  }

  // Sliding window: Mistral and Mixtral apply it to every layer when set; Qwen2 only with
  // use_sliding_window, and only to layers from max_window_layers on; Llama has none.
  std::string window_note;
  if (const ConfigNode* window = json.get("sliding_window"); window && type != "llama") {
    const std::int64_t size = json.integer("sliding_window", *window);
    std::int64_t first_layer = 0;
    bool used = true;
    if (type == "qwen2") {
      const ConfigNode* use = json.get("use_sliding_window");
      used = use && json.boolean("use_sliding_window", *use);
      if (const ConfigNode* from = json.get("max_window_layers")) {
        first_layer = json.integer("max_window_layers", *from, 0);
      }
    }
    if (used && first_layer == 0) {
      tree.set("sliding_window", std::to_string(size), window);
      window_note = fmt::format(", sliding window {}", size);
    } else if (used && first_layer < layers) {
      ConfigNode indices;
      indices.kind = ConfigNode::Kind::kSequence;
      indices.location = window->location;
      for (std::int64_t layer = first_layer; layer < layers; ++layer) {
        ConfigNode index;
        index.kind = ConfigNode::Kind::kScalar;
        index.scalar = std::to_string(layer);
        index.location = window->location;
        indices.items.push_back(std::move(index));
      }
      ConfigNode entry;
      entry.kind = ConfigNode::Kind::kMap;
      entry.location = window->location;
      entry.entries.emplace_back("layers", std::move(indices));
      Tree::set_node(entry, "sliding_window", std::to_string(size), window);
      ConfigNode overrides;
      overrides.kind = ConfigNode::Kind::kSequence;
      overrides.location = window->location;
      overrides.items.push_back(std::move(entry));
      tree.add("layer_overrides", std::move(overrides));
      window_note = fmt::format(", sliding window {} from layer {}", size, first_layer);
    }
  }

  std::string experts_note;
  if (mixtral) {
    auto count = [&](std::string_view key, std::int64_t fallback) {
      const ConfigNode* value = json.get(key);
      const std::int64_t number = value ? json.integer(key, *value) : fallback;
      tree.set(std::string(key), std::to_string(number), value);
      return number;
    };
    const std::int64_t experts = count("num_local_experts", 8);
    const std::int64_t top_k = count("num_experts_per_tok", 2);
    experts_note = fmt::format(", MoE {} experts top-{}", experts, top_k);
  }
  tree.set("description",
           fmt::format("Hugging Face config.json ({}: {} layers, hidden {}, GQA {}/{}{}{}{})", type,
                       layers, hidden, heads, kv_heads, type == "qwen2" ? ", q/k/v biases" : "",
                       experts_note, window_note),
           nullptr);
  return tree.release();
}

}  // namespace dfsim
