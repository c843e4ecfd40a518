// Hugging Face config.json files as workloads: the shipped copies agree with their YAML twins,
// HF defaults and per-family rules (Qwen2 biases, sliding windows) are applied, and bad input
// is one line naming the JSON value's line and column.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/workload/hf_config.h"
#include "sim/workload/workload_graph.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;
using dfsim::Dtype;
using dfsim::InputError;
using dfsim::ModelSpec;

namespace {

// A complete Llama-style config; `extra` lines are inserted after the opening brace.
std::string llama_json(const std::string& extra = "", const std::string& type = "llama") {
  return "{\n" + extra + "  \"model_type\": \"" + type +
         "\",\n"
         "  \"hidden_size\": 64,\n"
         "  \"intermediate_size\": 128,\n"
         "  \"num_hidden_layers\": 4,\n"
         "  \"num_attention_heads\": 4,\n"
         "  \"num_key_value_heads\": 2,\n"
         "  \"vocab_size\": 256,\n"
         "  \"max_position_embeddings\": 512,\n"
         "  \"torch_dtype\": \"bfloat16\"\n"
         "}\n";
}

std::string error_of(const std::string& path, std::vector<dfsim::Override> overrides = {}) {
  return dfsim::testing::message_of<InputError>([&] { dfsim::load_model_spec(path, overrides); });
}

void check_same_model(const ModelSpec& json, const ModelSpec& yaml) {
  CHECK(json.name == yaml.name);
  CHECK(json.family == yaml.family);
  CHECK(json.hidden_size == yaml.hidden_size);
  CHECK(json.intermediate_size == yaml.intermediate_size);
  CHECK(json.num_layers == yaml.num_layers);
  CHECK(json.num_attention_heads == yaml.num_attention_heads);
  CHECK(json.num_key_value_heads == yaml.num_key_value_heads);
  CHECK(json.head_dim == yaml.head_dim);
  CHECK(json.vocab_size == yaml.vocab_size);
  CHECK(json.max_position_embeddings == yaml.max_position_embeddings);
  CHECK(json.tie_word_embeddings == yaml.tie_word_embeddings);
  CHECK(json.rope_theta == yaml.rope_theta);
  CHECK(json.rms_norm_eps == yaml.rms_norm_eps);
  CHECK(json.rope_scaling.type == yaml.rope_scaling.type);
  CHECK(json.rope_scaling.factor == yaml.rope_scaling.factor);
  CHECK(json.attention_bias == yaml.attention_bias);
  CHECK(json.attention_output_bias == yaml.attention_output_bias);
  CHECK(json.sliding_window == yaml.sliding_window);
  CHECK(json.num_local_experts == yaml.num_local_experts);
  CHECK(json.num_experts_per_tok == yaml.num_experts_per_tok);
  CHECK(json.weight_dtype == yaml.weight_dtype);
  CHECK(json.activation_dtype == yaml.activation_dtype);
  CHECK(json.kv_cache_dtype == yaml.kv_cache_dtype);
  CHECK(json.layer_overrides.size() == yaml.layer_overrides.size());
}

}  // namespace

TEST_CASE("Every shipped config.json reads as the same model as its YAML twin", "[hf]") {
  for (const char* name :
       {"llama2-7b", "llama3.1-8b", "mistral-7b", "qwen2.5-7b", "mixtral-8x7b"}) {
    INFO(name);
    const ModelSpec yaml = dfsim::load_model_spec(name, {});
    const ModelSpec json = dfsim::load_model_spec(std::string(name) + ".config.json", {});
    check_same_model(json, yaml);
    // And the graphs agree op for op in what they count.
    const dfsim::StepShape step{1, 1, 4096, false};
    const auto a = dfsim::build_decoder_graph(json, step);
    const auto b = dfsim::build_decoder_graph(yaml, step);
    CHECK(a.total_parameters() == b.total_parameters());
    CHECK(a.total_flops() == b.total_flops());
  }
}

TEST_CASE("HF values and per-family rules", "[hf]") {
  const dfsim::testing::TempDir dir;  // removed with its files, also when a check fails
  SECTION("llama3.1-8b: GQA, rope_scaling kept as data") {
    const ModelSpec m = dfsim::load_model_spec("llama3.1-8b.config.json", {});
    CHECK(m.family == "llama");
    CHECK(m.num_key_value_heads == 8);
    CHECK(m.head_dim == 128);  // 4096 / 32, no head_dim key
    CHECK(m.rope_theta == 500000.0);
    CHECK(m.rope_scaling.type == "llama3");
    CHECK(m.rope_scaling.factor == 8.0);
    CHECK(m.rope_scaling.low_freq_factor == 1.0);
    CHECK(m.rope_scaling.high_freq_factor == 4.0);
    CHECK(m.rope_scaling.original_max_position_embeddings == 8192);
    CHECK(m.weight_dtype == Dtype::kBf16);
    CHECK_FALSE(m.attention_bias);
  }
  SECTION("llama2-7b: float16, rope_theta absent -> transformers' 10000, rope_scaling null") {
    const ModelSpec m = dfsim::load_model_spec("llama2-7b.config.json", {});
    CHECK(m.weight_dtype == Dtype::kFp16);
    CHECK(m.rope_theta == 10000.0);
    CHECK(m.rope_scaling.type.empty());
    CHECK(m.num_key_value_heads == 32);
  }
  SECTION("qwen2.5-7b: q/k/v biases, no o bias, sliding window off (use_sliding_window false)") {
    const ModelSpec m = dfsim::load_model_spec("qwen2.5-7b.config.json", {});
    CHECK(m.attention_bias);
    CHECK_FALSE(m.attention_output_bias);
    CHECK(m.sliding_window == 0);
    CHECK(m.layer_overrides.empty());
  }
  SECTION("mistral-7b: sliding window 4096 on every layer") {
    const ModelSpec m = dfsim::load_model_spec("mistral-7b.config.json", {});
    CHECK(m.sliding_window == 4096);
    CHECK(m.sliding_window_of(31) == 4096);
  }
  SECTION("mixtral-8x7b: 8 experts, 2 per token; sliding_window null is no window") {
    const ModelSpec m = dfsim::load_model_spec("mixtral-8x7b.config.json", {});
    CHECK(m.num_local_experts == 8);
    CHECK(m.num_experts_per_tok == 2);
    CHECK(m.sliding_window == 0);
    CHECK(m.rope_theta == 1e6);
  }
  SECTION("qwen2 with use_sliding_window: the window covers layers from max_window_layers on") {
    const std::string path =
        dir.write("qwen-swa.config.json",
                  llama_json("  \"use_sliding_window\": true,\n  \"max_window_layers\": 2,\n"
                             "  \"sliding_window\": 32,\n",
                             "qwen2"));
    const ModelSpec m = dfsim::load_model_spec(path, {});
    CHECK(m.name == "qwen-swa");
    CHECK(m.attention_bias);
    CHECK(m.sliding_window_of(0) == 0);
    CHECK(m.sliding_window_of(1) == 0);
    CHECK(m.sliding_window_of(2) == 32);
    CHECK(m.sliding_window_of(3) == 32);
  }
  SECTION("llama attention_bias covers q, k, v and o; num_key_value_heads null means MHA") {
    std::string text = llama_json("  \"attention_bias\": true,\n");
    text.replace(text.find("\"num_key_value_heads\": 2"), 24, "\"num_key_value_heads\": null");
    const ModelSpec m = dfsim::load_model_spec(dir.write("b.json", text), {});
    CHECK(m.attention_bias);
    CHECK(m.attention_output_bias);
    CHECK(m.num_key_value_heads == 4);
    CHECK(m.name == "b");
  }
  SECTION("a directory's config.json is named after the directory") {
    const std::string path = dir.write("config.json", llama_json());
    CHECK(dfsim::load_model_spec(path, {}).name ==
          fs::path(path).parent_path().filename().string());
  }
  SECTION("GPTQ 4-bit weights; transformers 5 'dtype' and rope_parameters") {
    const std::string text =
        "{\n"
        "  \"model_type\": \"mistral\", \"hidden_size\": 64, \"intermediate_size\": 128,\n"
        "  \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 256,\n"
        "  \"num_key_value_heads\": 4,\n"
        "  \"max_position_embeddings\": 512, \"dtype\": \"float16\",\n"
        "  \"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"},\n"
        "  \"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": "
        "64}\n"
        "}\n";
    const ModelSpec m = dfsim::load_model_spec(dir.write("q.json", text), {});
    CHECK(m.weight_dtype == Dtype::kInt4);
    CHECK(m.weight_group_size == 64);  // GPTQ's group_size
    CHECK(m.activation_dtype == Dtype::kFp16);
    CHECK(m.rope_theta == 1e6);
    CHECK(m.rope_scaling.type.empty());
  }
}

TEST_CASE("Model overrides (--set model.*) apply to a config.json", "[hf]") {
  const ModelSpec m = dfsim::load_model_spec("mixtral-8x7b.config.json",
                                             {dfsim::parse_override("model.num_layers=2"),
                                              dfsim::parse_override("model.weight_dtype=fp8")});
  CHECK(m.num_layers == 2);
  CHECK(m.weight_dtype == Dtype::kFp8);
  CHECK(m.num_local_experts == 8);
}

TEST_CASE("Bad config.json: one line at the value's line and column", "[hf]") {
  const dfsim::testing::TempDir dir;  // removed with its files, also when a check fails
  SECTION("unknown model_type lists the supported ones") {
    const std::string path = dir.write("g.json", llama_json("", "falcon"));
    // Line 2 is `  "model_type": "falcon",`: the value's opening quote is column 17.
    CHECK(error_of(path) == path +
                                ":2:17: model_type: 'falcon' is not supported (supported: llama, "
                                "mistral, qwen2, mixtral, phi3)");
  }
  SECTION("a number written as a string") {
    std::string text = llama_json();
    text.replace(text.find("\"hidden_size\": 64"), 17, "\"hidden_size\": \"64\"");
    const std::string path = dir.write("s.json", text);
    // Line 3 is `  "hidden_size": "64",`: column 18.
    CHECK(error_of(path) ==
          path + ":3:18: hidden_size: expected an integer, got the string \"64\"");
  }
  SECTION("a fraction where an integer is needed") {
    std::string text = llama_json();
    text.replace(text.find("\"num_hidden_layers\": 4"), 22, "\"num_hidden_layers\": 4.5");
    const std::string path = dir.write("f.json", text);
    CHECK(error_of(path) == path + ":5:24: num_hidden_layers: expected an integer, got 4.5");
  }
  SECTION("a boolean written as a string") {
    const std::string path =
        dir.write("t.json", llama_json("  \"tie_word_embeddings\": \"false\",\n"));
    CHECK(error_of(path) ==
          path + ":2:26: tie_word_embeddings: expected true or false, got the string \"false\"");
  }
  SECTION("rope_scaling that is neither an object nor null") {
    const std::string path = dir.write("r.json", llama_json("  \"rope_scaling\": 8,\n"));
    CHECK(error_of(path) == path + ":2:19: rope_scaling: expected an object or null, got 8");
  }
  SECTION("a missing size") {
    std::string text = llama_json();
    text.erase(text.find("  \"vocab_size\": 256,\n"), 21);
    const std::string path = dir.write("v.json", text);
    CHECK(error_of(path) == path + ":1:1: vocab_size: missing key (a positive integer)");
  }
  SECTION("no model_type") {
    const std::string path = dir.write("n.json", "{\"hidden_size\": 64}\n");
    CHECK(error_of(path) ==
          path +
              ":1:1: model_type: missing model_type (one of llama, mistral, qwen2, mixtral, phi3)");
  }
  SECTION("missing torch_dtype") {
    std::string text = llama_json();
    text.replace(text.find(",\n  \"torch_dtype\": \"bfloat16\""), 29, "");
    const std::string path = dir.write("d.json", text);
    CHECK(error_of(path) == path +
                                ":1:1: torch_dtype: missing (the checkpoint's dtype); add e.g. "
                                "\"torch_dtype\": \"bfloat16\"");
  }
  SECTION("an activation other than SiLU") {
    const std::string path = dir.write("a.json", llama_json("  \"hidden_act\": \"gelu\",\n"));
    CHECK(error_of(path) ==
          path + ":2:17: hidden_act: only \"silu\" (SwiGLU MLPs) is modelled, got \"gelu\"");
  }
  SECTION("sizes that do not fit together are caught by the workload rules, at the JSON value") {
    std::string text = llama_json();
    text.replace(text.find("\"num_key_value_heads\": 2"), 24, "\"num_key_value_heads\": 3");
    const std::string path = dir.write("k.json", text);
    CHECK(error_of(path) ==
          path +
              ":7:26: num_key_value_heads: must divide num_attention_heads (4) for "
              "grouped-query attention");
  }
  SECTION("JSON syntax error") {
    const std::string path = dir.write("x.json", "{\n  \"model_type\": \"llama\",,\n}\n");
    CHECK(error_of(path).rfind(path + ":2:", 0) == 0);
  }
  SECTION("a YAML workload cannot inherit from a config.json") {
    const std::string path = dir.write("child.yaml", "inherit: mixtral-8x7b.config.json\n");
    CHECK(error_of(path).find("cannot inherit from a Hugging Face config") != std::string::npos);
  }
}

namespace {

// Only the keys dfsim requires: the sizes and the dtype (16 heads of 4, so transformers' default
// of 8 key/value heads for mistral and mixtral divides them).
std::string minimal_json(const std::string& type, const std::string& extra = "") {
  return "{\n" + extra + "  \"model_type\": \"" + type +
         "\",\n"
         "  \"hidden_size\": 64,\n"
         "  \"intermediate_size\": 128,\n"
         "  \"num_hidden_layers\": 2,\n"
         "  \"num_attention_heads\": 16,\n"
         "  \"vocab_size\": 256,\n"
         "  \"torch_dtype\": \"bfloat16\"\n"
         "}\n";
}

std::vector<std::string> defaults_of(const std::string& path) {
  std::vector<std::string> out;
  for (const dfsim::HfDefault& item : dfsim::hf_config_defaults(path)) {
    out.push_back(item.key + "=" + item.value);
  }
  return out;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("Keys a config.json leaves out take transformers' defaults for its model_type", "[hf]") {
  const dfsim::testing::TempDir dir;
  // Expected values: the field defaults of transformers' configuration_<type>.py (see the table
  // in sim/workload/hf_config.cpp), e.g. LlamaConfig(max_position_embeddings=2048,
  // rms_norm_eps=1e-6), MistralConfig(num_key_value_heads=8, sliding_window=4096).
  SECTION("llama") {
    const std::string path = dir.write("l.json", minimal_json("llama"));
    const ModelSpec m = dfsim::load_model_spec(path, {});
    CHECK(m.max_position_embeddings == 2048);
    CHECK(m.num_key_value_heads == 16);  // None: multi-head attention
    CHECK(m.rms_norm_eps == 1e-6);
    CHECK(m.rope_theta == 10000.0);
    CHECK_FALSE(m.tie_word_embeddings);
    CHECK(m.sliding_window == 0);
    CHECK(defaults_of(path) == Strings{"max_position_embeddings=2048", "num_key_value_heads=16",
                                       "tie_word_embeddings=false", "rms_norm_eps=1e-6",
                                       "rope_theta=10000.0", "attention_bias=false"});
  }
  SECTION("mistral: 8 key/value heads and a 4096-token window unless stated; null means none") {
    const std::string path = dir.write("m.json", minimal_json("mistral"));
    const ModelSpec m = dfsim::load_model_spec(path, {});
    CHECK(m.max_position_embeddings == 131072);  // 4096 * 32
    CHECK(m.num_key_value_heads == 8);
    CHECK(m.sliding_window == 4096);
    CHECK(defaults_of(path) == Strings{"max_position_embeddings=131072", "num_key_value_heads=8",
                                       "tie_word_embeddings=false", "rms_norm_eps=1e-6",
                                       "rope_theta=10000.0", "sliding_window=4096"});
    const std::string nulls = dir.write(
        "n.json",
        minimal_json("mistral", "  \"num_key_value_heads\": null,\n  \"sliding_window\": null,\n"));
    const ModelSpec n = dfsim::load_model_spec(nulls, {});
    CHECK(n.num_key_value_heads == 16);  // None: num_attention_heads
    CHECK(n.sliding_window == 0);
  }
  SECTION("mixtral: rms_norm_eps 1e-5, rope_theta 1e6, 8 experts top-2") {
    const std::string path = dir.write("x.json", minimal_json("mixtral"));
    const ModelSpec m = dfsim::load_model_spec(path, {});
    CHECK(m.rms_norm_eps == 1e-5);
    CHECK(m.rope_theta == 1e6);
    CHECK(m.num_local_experts == 8);
    CHECK(m.num_experts_per_tok == 2);
    CHECK(m.sliding_window == 0);  // MixtralConfig: sliding_window=None
    CHECK(defaults_of(path) == Strings{"max_position_embeddings=131072", "num_key_value_heads=8",
                                       "tie_word_embeddings=false", "rms_norm_eps=1e-5",
                                       "rope_theta=1e6", "num_local_experts=8",
                                       "num_experts_per_tok=2"});
  }
  SECTION("qwen2 without max_position_embeddings runs at 32768") {
    const std::string path =
        dir.write("q.json", minimal_json("qwen2", "  \"num_key_value_heads\": 4,\n"));
    const ModelSpec m = dfsim::load_model_spec(path, {});
    CHECK(m.max_position_embeddings == 32768);
    CHECK(m.attention_bias);
    CHECK(defaults_of(path) == Strings{"max_position_embeddings=32768", "tie_word_embeddings=false",
                                       "rms_norm_eps=1e-6", "rope_theta=10000.0"});
  }
  SECTION("qwen2 with use_sliding_window and no max_window_layers: layers from 28 on") {
    std::string text =
        minimal_json("qwen2",
                     "  \"num_key_value_heads\": 4,\n  \"use_sliding_window\": true,\n"
                     "  \"sliding_window\": 8,\n");
    text.replace(text.find("\"num_hidden_layers\": 2"), 22, "\"num_hidden_layers\": 30");
    const std::string path = dir.write("w.json", text);
    const ModelSpec m = dfsim::load_model_spec(path, {});
    CHECK(m.sliding_window_of(27) == 0);
    CHECK(m.sliding_window_of(28) == 8);
    CHECK(m.sliding_window_of(29) == 8);
  }
  SECTION("qwen2's default of 32 key/value heads that does not divide the heads is refused") {
    const std::string path = dir.write("k.json", minimal_json("qwen2"));
    CHECK(error_of(path) == path +
                                ":1:1: num_key_value_heads: missing; transformers' qwen2 default, "
                                "32, does not divide num_attention_heads (16): give it");
  }
  SECTION("a stated key is not a default") {
    const std::string path = dir.write(
        "s.json", minimal_json("llama",
                               "  \"max_position_embeddings\": 512,\n  \"rms_norm_eps\": 1e-5,\n"
                               "  \"rope_theta\": 500000.0,\n  \"tie_word_embeddings\": true,\n"
                               "  \"num_key_value_heads\": 4,\n  \"attention_bias\": false,\n"));
    CHECK(defaults_of(path).empty());
    CHECK(dfsim::load_model_spec(path, {}).tie_word_embeddings);
  }
}

TEST_CASE("phi3: a Phi-3-mini config.json is a llama-shaped decoder with fused projections",
          "[hf]") {
  const dfsim::testing::TempDir dir;
  // microsoft/Phi-3-mini-4k-instruct's config.json (the keys dfsim reads).
  const std::string text =
      "{\n"
      "  \"architectures\": [\"Phi3ForCausalLM\"],\n"
      "  \"hidden_act\": \"silu\",\n"
      "  \"hidden_size\": 3072,\n"
      "  \"intermediate_size\": 8192,\n"
      "  \"max_position_embeddings\": 4096,\n"
      "  \"model_type\": \"phi3\",\n"
      "  \"num_attention_heads\": 32,\n"
      "  \"num_hidden_layers\": 32,\n"
      "  \"num_key_value_heads\": 32,\n"
      "  \"original_max_position_embeddings\": 4096,\n"
      "  \"rms_norm_eps\": 1e-05,\n"
      "  \"rope_scaling\": null,\n"
      "  \"rope_theta\": 10000.0,\n"
      "  \"sliding_window\": 2047,\n"
      "  \"tie_word_embeddings\": false,\n"
      "  \"torch_dtype\": \"bfloat16\",\n"
      "  \"vocab_size\": 32064\n"
      "}\n";
  const std::string path = dir.write("phi-3-mini.json", text);
  const ModelSpec m = dfsim::load_model_spec(path, {});
  CHECK(m.family == "phi3");
  CHECK(m.head_dim == 96);  // 3072 / 32
  CHECK(m.sliding_window_of(0) == 2047);
  CHECK(m.sliding_window_of(31) == 2047);
  CHECK_FALSE(m.attention_bias);
  CHECK(defaults_of(path).empty());
  // Parameters, as the model card's 3.8B: embedding and LM head 2 x 32064 x 3072 = 197,001,216;
  // per layer qkv 3072 x 9216 + o 3072^2 + gate_up 3072 x 16384 + down 8192 x 3072 + 2 norms
  // x 3072 = 113,252,352, x 32 = 3,624,075,264; final norm 3072: 3,821,079,552 in all.
  const auto graph = dfsim::build_decoder_graph(m, dfsim::StepShape{1, 1, 16, false});
  CHECK(graph.total_parameters() == 3'821'079'552);

  SECTION("the 128k variant's longrope scaling is kept as data, at the top-level original length") {
    std::string scaled = text;
    scaled.replace(scaled.find("\"rope_scaling\": null"), 20,
                   "\"rope_scaling\": {\"type\": \"su\", \"short_factor\": [1.0], "
                   "\"long_factor\": [2.0]}");
    const ModelSpec s = dfsim::load_model_spec(dir.write("phi-128k.json", scaled), {});
    CHECK(s.rope_scaling.type == "longrope");  // Phi3Config renames "su"
    CHECK(s.rope_scaling.original_max_position_embeddings == 4096);
  }
  SECTION("RoPE on part of each head (Phi-4-mini) is refused with the reason") {
    const std::string partial =
        dir.write("phi4.json", minimal_json("phi3", "  \"partial_rotary_factor\": 0.75,\n"));
    CHECK(error_of(partial) == partial +
                                   ":2:28: partial_rotary_factor: RoPE on part of each head "
                                   "(partial_rotary_factor 0.75) is not modelled; dfsim rotates "
                                   "every dimension");
  }
}

TEST_CASE("model_types whose layers the graph cannot express are refused with the reason", "[hf]") {
  const dfsim::testing::TempDir dir;
  // Each reason names the first layer feature that is not in the workload graph.
  for (auto [type, feature] : {std::pair{"gemma", "GeGLU"}, std::pair{"gemma2", "soft-caps"},
                               std::pair{"qwen3", "q_norm, k_norm"}}) {
    INFO(type);
    const std::string path = dir.write(std::string(type) + ".json", minimal_json(type));
    const std::string message = error_of(path);
    CHECK(message.rfind(path + ":2:17: model_type: '" + type + "' is not supported: ", 0) == 0);
    CHECK(message.find(feature) != std::string::npos);
  }
}

TEST_CASE("dfsim estimate --explain lists the defaults a config.json took", "[hf][cli]") {
  const dfsim::testing::TempDir dir;
  dir.write("q.json", minimal_json("qwen2", "  \"num_key_value_heads\": 4,\n"));
  const auto outcome = dfsim::testing::run_dfsim(dir, "estimate --model q.json --explain");
  REQUIRE(outcome.code == 0);
  const std::string listed =
      "\nconfig.json defaults (keys it leaves out, at transformers' values):\n"
      "  max_position_embeddings           32768\n"
      "  tie_word_embeddings               false\n"
      "  rms_norm_eps                      1e-6\n"
      "  rope_theta                        10000.0\n";
  CHECK(outcome.out.find(listed) != std::string::npos);
  // A --set replaces a default, which is then not listed; without --explain nothing is.
  const auto set = dfsim::testing::run_dfsim(
      dir, "estimate --model q.json --explain --set model.rope_theta=1e6");
  CHECK(set.out.find("  rms_norm_eps ") != std::string::npos);
  CHECK(set.out.find("  rope_theta ") == std::string::npos);
  const auto plain = dfsim::testing::run_dfsim(dir, "estimate --model q.json");
  CHECK(plain.out.find("config.json defaults") == std::string::npos);
}
