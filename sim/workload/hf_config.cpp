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
  // Written as null: Python's None, which some config classes read as "derive it" (a null
  // num_key_value_heads is multi-head attention) where an absent key takes the class default.
  const ConfigNode* null(std::string_view key) const {
    const ConfigNode* value = node_.find(key);
    return value && value->kind == ConfigNode::Kind::kNull ? value : nullptr;
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

// transformers' defaults for the keys a config.json may leave out: the field defaults of each
// model_type's configuration class, src/transformers/models/<type>/configuration_<type>.py
// (read at huggingface/transformers 008e574; the values are those of the 4.x releases too).
// An absent key takes the class default; a null one is Python's None.
struct TypeDefaults {
  std::string_view type;
  std::int64_t max_position_embeddings;
  std::string_view rms_norm_eps;
  std::string_view rope_theta;
  bool tie_word_embeddings;
  std::int64_t num_key_value_heads;  // absent key; 0: None, i.e. num_attention_heads
  std::int64_t sliding_window;       // absent key; 0: None, no window
};
constexpr TypeDefaults kTypeDefaults[] = {
    // LlamaConfig: max_position_embeddings=2048, rms_norm_eps=1e-6, rope_theta=10000.0 (the
    // base class's default_theta in transformers 5), tie_word_embeddings=False,
    // num_key_value_heads=None, head_dim=None (hidden_size // num_attention_heads),
    // attention_bias=False, mlp_bias=False, hidden_act="silu"; no sliding window.
    {"llama", 2048, "1e-6", "10000.0", false, 0, 0},
    // MistralConfig: max_position_embeddings=4096*32, rms_norm_eps=1e-6, rope_theta=10000.0,
    // tie_word_embeddings=False, num_key_value_heads=8, head_dim=None, sliding_window=4096.
    {"mistral", 4096 * 32, "1e-6", "10000.0", false, 8, 4096},
    // Qwen2Config: max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=10000.0,
    // tie_word_embeddings=False, num_key_value_heads=32, use_sliding_window=False,
    // sliding_window=4096, max_window_layers=28 (q/k/v biases always, no head_dim key).
    {"qwen2", 32768, "1e-6", "10000.0", false, 32, 4096},
    // MixtralConfig: max_position_embeddings=4096*32, rms_norm_eps=1e-5, default_theta=1e6,
    // tie_word_embeddings=False, num_key_value_heads=8, head_dim=None, sliding_window=None,
    // num_local_experts=8, num_experts_per_tok=2.
    {"mixtral", 4096 * 32, "1e-5", "1e6", false, 8, 0},
    // Phi3Config: max_position_embeddings=4096, original_max_position_embeddings=4096,
    // rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
    // num_key_value_heads=None, sliding_window=None (when set, every layer's: Phi3Attention
    // passes config.sliding_window for all layers, as Mistral does). Its fused qkv_proj and
    // gate_up_proj are the projections dfsim already runs as one kernel each.
    {"phi3", 4096, "1e-5", "10000.0", false, 0, 0},
};

// model_types whose decoder layer is not the workload graph's (RMSNorm, grouped-query attention
// with RoPE, SwiGLU MLP or experts): the first difference that changes the computation.
constexpr std::pair<std::string_view, std::string_view> kRefusedTypes[] = {
    {"gemma",
     "its MLP is GeGLU (a gelu_pytorch_tanh gate), not SwiGLU, and it scales the embeddings by "
     "sqrt(hidden_size); dfsim's decoder graph has SwiGLU MLPs only"},
    {"gemma2",
     "besides Gemma's GeGLU MLP, it soft-caps attention scores and final logits (tanh), "
     "alternates sliding-window and global layers, and has four RMSNorms per layer (pre and "
     "post attention and MLP); dfsim's decoder graph has none of these"},
    {"gemma3",
     "besides Gemma's GeGLU MLP, it normalizes queries and keys per head (q_norm, k_norm), has "
     "four RMSNorms per layer and interleaves local and global layers with different RoPE bases; "
     "dfsim's decoder graph has none of these"},
    {"qwen3",
     "it normalizes queries and keys per head (q_norm, k_norm: an RMSNorm over head_dim before "
     "RoPE), an op dfsim's decoder graph does not have"},
};

const TypeDefaults* type_defaults(std::string_view type) {
  for (const TypeDefaults& entry : kTypeDefaults) {
    if (entry.type == type) return &entry;
  }
  return nullptr;
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

HfImport import_hf_config(const ConfigNode& root, const std::string& path) {
  if (!root.is_map()) {
    throw InputError(root.location, "", "a Hugging Face config.json must be a JSON object");
  }
  const JsonObject json(root, "");
  const ConfigNode& type_node =
      json.require("model_type", "model_type (one of " + std::string(kHfModelTypes) + ")");
  const std::string& type = json.string("model_type", type_node);
  for (const auto& [refused, reason] : kRefusedTypes) {
    if (type == refused) {
      json.fail(type_node, "model_type", "'" + type + "' is not supported: " + std::string(reason));
    }
  }
  const TypeDefaults* defaults = type_defaults(type);
  if (!defaults) {
    json.fail(type_node, "model_type",
              "'" + type + "' is not supported (supported: " + kHfModelTypes + ")");
  }
  if (const ConfigNode* act = json.get("hidden_act");
      act && json.string("hidden_act", *act) != "silu") {
    json.fail(*act, "hidden_act",
              "only \"silu\" (SwiGLU MLPs) is modelled, got \"" + act->scalar + "\"");
  }

  HfImport result;
  Tree tree(root.location);
  const std::string name = hf_config_name(path);
  tree.set("name", name, nullptr);
  tree.set("family", type, &type_node);
  // A key the config.json leaves out takes the config class's default; each one is listed for
  // `dfsim estimate --explain`.
  auto defaulted = [&](std::string_view key, std::string_view as, const std::string& value) {
    tree.set(std::string(as), value, nullptr);
    result.defaults.push_back({std::string(key), std::string(as), value});
  };

  // The sizes stay required: transformers' defaults for them are one reference checkpoint's
  // (Llama 2 7B's for llama), so a config without them describes no model of its own.
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
  if (const ConfigNode* value = json.get("max_position_embeddings")) {
    tree.set("max_position_embeddings",
             std::to_string(json.integer("max_position_embeddings", *value)), value);
  } else {
    defaulted("max_position_embeddings", "max_position_embeddings",
              std::to_string(defaults->max_position_embeddings));
  }
  // num_key_value_heads: null is multi-head attention; absent, the class default (8 for
  // Mistral and Mixtral, 32 for Qwen2, None for Llama and Phi-3).
  std::int64_t kv_heads = heads;
  if (const ConfigNode* value = json.get("num_key_value_heads")) {
    kv_heads = json.integer("num_key_value_heads", *value);
    tree.set("num_key_value_heads", std::to_string(kv_heads), value);
  } else if (json.null("num_key_value_heads")) {
    tree.set("num_key_value_heads", std::to_string(heads), json.get("num_attention_heads"));
  } else if (defaults->num_key_value_heads == 0) {
    defaulted("num_key_value_heads", "num_key_value_heads", std::to_string(heads));
  } else {
    kv_heads = defaults->num_key_value_heads;
    if (heads % kv_heads != 0) {
      throw InputError(root.location, "num_key_value_heads",
                       fmt::format("missing; transformers' {} default, {}, does not divide "
                                   "num_attention_heads ({}): give it",
                                   type, kv_heads, heads));
    }
    defaulted("num_key_value_heads", "num_key_value_heads", std::to_string(kv_heads));
  }
  if (const ConfigNode* value = json.get("head_dim")) {
    tree.set("head_dim", std::to_string(json.integer("head_dim", *value)), value);
  }

  auto number = [&](std::string_view key, std::string_view fallback) {
    if (const ConfigNode* value = json.get(key)) {
      json.number(key, *value);
      tree.set(std::string(key), value->scalar, value);
    } else {
      defaulted(key, key, std::string(fallback));
    }
  };
  auto boolean = [&](std::string_view key, std::string_view as, bool fallback) {
    const ConfigNode* value = json.get(key);
    const bool flag = value ? json.boolean(key, *value) : fallback;
    if (value) {
      tree.set(std::string(as), flag ? "true" : "false", value);
    } else {
      defaulted(key, as, flag ? "true" : "false");
    }
    return flag;
  };
  boolean("tie_word_embeddings", "tie_word_embeddings", defaults->tie_word_embeddings);
  number("rms_norm_eps", defaults->rms_norm_eps);

  // transformers 5 moved rope_theta and the scaling into one object, rope_parameters.
  std::optional<ConfigNode> scaling;
  const ConfigNode* theta = json.get("rope_theta");
  std::string theta_key = "rope_theta";
  const ConfigNode* partial = json.get("partial_rotary_factor");
  std::string partial_key = "partial_rotary_factor";
  if (const ConfigNode* value = json.get("rope_scaling")) {
    scaling = rope_scaling(json, "rope_scaling", *value);
  }
  if (const ConfigNode* parameters = json.get("rope_parameters")) {
    JsonObject rope(json.object("rope_parameters", *parameters), "rope_parameters");
    if (!theta && (theta = rope.get("rope_theta"))) theta_key = "rope_parameters.rope_theta";
    if (!partial && (partial = rope.get("partial_rotary_factor"))) {
      partial_key = "rope_parameters.partial_rotary_factor";
    }
    if (!scaling) scaling = rope_scaling(json, "rope_parameters", *parameters);
  }
  if (theta) {
    json.number(theta_key, *theta);
    tree.set("rope_theta", theta->scalar, theta);
  } else {
    defaulted("rope_theta", "rope_theta", std::string(defaults->rope_theta));
  }
  // RoPE on a fraction of each head's dimensions (Phi-4-mini's 0.75) changes which values rotate.
  if (partial && json.number(partial_key, *partial) != 1.0) {
    json.fail(*partial, partial_key,
              "RoPE on part of each head (partial_rotary_factor " + partial->scalar +
                  ") is not modelled; dfsim rotates every dimension");
  }
  if (scaling && type == "phi3") {
    // Phi3Config renames the older "su" and "yarn" to "longrope", and keeps the trained length
    // at the top level (original_max_position_embeddings, default 4096).
    for (auto& [key, node] : scaling->entries) {
      if (key == "type" && (node.scalar == "su" || node.scalar == "yarn")) node.scalar = "longrope";
    }
    if (!scaling->find("original_max_position_embeddings")) {
      const ConfigNode* original = json.get("original_max_position_embeddings");
      const std::int64_t length =
          original ? json.integer("original_max_position_embeddings", *original) : 4096;
      Tree::set_node(*scaling, "original_max_position_embeddings", std::to_string(length),
                     original);
      if (!original) {
        result.defaults.push_back({"original_max_position_embeddings",
                                   "rope_scaling.original_max_position_embeddings", "4096"});
      }
    }
  }
  if (scaling) tree.add("rope_scaling", std::move(*scaling));

  // Checkpoint dtype: the weights as stored, activations and KV cache in the same format. No
  // default: transformers' is None (the loader's choice), which says nothing about the checkpoint.
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
  // o bias; Mistral, Mixtral and Phi-3 have none.
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

  // Sliding window: Mistral, Mixtral and Phi-3 apply it to every layer when set; Qwen2 only with
  // use_sliding_window, and only to layers from max_window_layers on; Llama has none. Absent, the
  // class default (Mistral's 4096); null, none.
  std::string window_note;
  std::int64_t window = 0;
  const ConfigNode* window_node = type == "llama" ? nullptr : json.get("sliding_window");
  if (window_node) {
    window = json.integer("sliding_window", *window_node);
  } else if (!json.null("sliding_window")) {
    window = defaults->sliding_window;
  }
  if (window > 0) {
    std::int64_t first_layer = 0;
    bool used = true;
    if (type == "qwen2") {
      const ConfigNode* use = json.get("use_sliding_window");
      used = use && json.boolean("use_sliding_window", *use);
      // Listed where it decides something: a stated window left unused.
      if (!use && window_node) result.defaults.push_back({"use_sliding_window", "", "false"});
      if (const ConfigNode* from = json.get("max_window_layers")) {
        first_layer = json.integer("max_window_layers", *from, 0);
      } else if (used) {
        first_layer = 28;
        result.defaults.push_back({"max_window_layers", "", "28"});
      }
    }
    if (used && !window_node) {
      result.defaults.push_back({"sliding_window", "sliding_window", std::to_string(window)});
    }
    const SourceLocation& where = window_node ? window_node->location : root.location;
    if (used && first_layer == 0) {
      tree.set("sliding_window", std::to_string(window), window_node);
      window_note = fmt::format(", sliding window {}", window);
    } else if (used && first_layer < layers) {
      ConfigNode indices;
      indices.kind = ConfigNode::Kind::kSequence;
      indices.location = where;
      for (std::int64_t layer = first_layer; layer < layers; ++layer) {
        ConfigNode index;
        index.kind = ConfigNode::Kind::kScalar;
        index.scalar = std::to_string(layer);
        index.location = where;
        indices.items.push_back(std::move(index));
      }
      ConfigNode entry;
      entry.kind = ConfigNode::Kind::kMap;
      entry.location = where;
      entry.entries.emplace_back("layers", std::move(indices));
      Tree::set_node(entry, "sliding_window", std::to_string(window), window_node);
      ConfigNode overrides;
      overrides.kind = ConfigNode::Kind::kSequence;
      overrides.location = where;
      overrides.items.push_back(std::move(entry));
      tree.add("layer_overrides", std::move(overrides));
      window_note = fmt::format(", sliding window {} from layer {}", window, first_layer);
    }
  }

  std::string experts_note;
  if (type == "mixtral") {
    auto count = [&](std::string_view key, std::int64_t fallback) {
      const ConfigNode* value = json.get(key);
      const std::int64_t number = value ? json.integer(key, *value) : fallback;
      if (value) {
        tree.set(std::string(key), std::to_string(number), value);
      } else {
        defaulted(key, key, std::to_string(number));
      }
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
  result.tree = tree.release();
  return result;
}

ConfigNode hf_config_to_tree(const ConfigNode& root, const std::string& path) {
  return import_hf_config(root, path).tree;
}

}  // namespace dfsim
