// Hugging Face config.json files as workloads: the shipped copies agree with their YAML twins,
// HF defaults and per-family rules (Qwen2 biases, sliding windows) are applied, and bad input
// is one line naming the JSON value's line and column.
#include <unistd.h>

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

// Writes `text` to a fresh file named `name` in the temp directory and returns its path.
std::string write_config(const std::string& name, const std::string& text) {
  static int counter = 0;
  const fs::path dir = fs::temp_directory_path() / ("dfsim-hf-test-" + std::to_string(::getpid()) +
                                                    "-" + std::to_string(counter++));
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

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
        write_config("qwen-swa.config.json",
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
    const ModelSpec m = dfsim::load_model_spec(write_config("b.json", text), {});
    CHECK(m.attention_bias);
    CHECK(m.attention_output_bias);
    CHECK(m.num_key_value_heads == 4);
    CHECK(m.name == "b");
  }
  SECTION("a directory's config.json is named after the directory") {
    const std::string path = write_config("config.json", llama_json());
    CHECK(dfsim::load_model_spec(path, {}).name ==
          fs::path(path).parent_path().filename().string());
  }
  SECTION("GPTQ 4-bit weights; transformers 5 'dtype' and rope_parameters") {
    const std::string text =
        "{\n"
        "  \"model_type\": \"mistral\", \"hidden_size\": 64, \"intermediate_size\": 128,\n"
        "  \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 256,\n"
        "  \"max_position_embeddings\": 512, \"dtype\": \"float16\",\n"
        "  \"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"},\n"
        "  \"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": "
        "64}\n"
        "}\n";
    const ModelSpec m = dfsim::load_model_spec(write_config("q.json", text), {});
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
  SECTION("unknown model_type lists the supported ones") {
    const std::string path = write_config("g.json", llama_json("", "gemma2"));
    // Line 2 is `  "model_type": "gemma2",`: the value's opening quote is column 17.
    CHECK(error_of(path) == path +
                                ":2:17: model_type: 'gemma2' is not supported (supported: llama, "
                                "mistral, qwen2, mixtral)");
  }
  SECTION("a number written as a string") {
    std::string text = llama_json();
    text.replace(text.find("\"hidden_size\": 64"), 17, "\"hidden_size\": \"64\"");
    const std::string path = write_config("s.json", text);
    // Line 3 is `  "hidden_size": "64",`: column 18.
    CHECK(error_of(path) ==
          path + ":3:18: hidden_size: expected an integer, got the string \"64\"");
  }
  SECTION("a fraction where an integer is needed") {
    std::string text = llama_json();
    text.replace(text.find("\"num_hidden_layers\": 4"), 22, "\"num_hidden_layers\": 4.5");
    const std::string path = write_config("f.json", text);
    CHECK(error_of(path) == path + ":5:24: num_hidden_layers: expected an integer, got 4.5");
  }
  SECTION("a boolean written as a string") {
    const std::string path =
        write_config("t.json", llama_json("  \"tie_word_embeddings\": \"false\",\n"));
    CHECK(error_of(path) ==
          path + ":2:26: tie_word_embeddings: expected true or false, got the string \"false\"");
  }
  SECTION("rope_scaling that is neither an object nor null") {
    const std::string path = write_config("r.json", llama_json("  \"rope_scaling\": 8,\n"));
    CHECK(error_of(path) == path + ":2:19: rope_scaling: expected an object or null, got 8");
  }
  SECTION("a missing size") {
    std::string text = llama_json();
    text.erase(text.find("  \"vocab_size\": 256,\n"), 21);
    const std::string path = write_config("v.json", text);
    CHECK(error_of(path) == path + ":1:1: vocab_size: missing key (a positive integer)");
  }
  SECTION("no model_type") {
    const std::string path = write_config("n.json", "{\"hidden_size\": 64}\n");
    CHECK(error_of(path) ==
          path + ":1:1: model_type: missing model_type (one of llama, mistral, qwen2, mixtral)");
  }
  SECTION("missing torch_dtype") {
    std::string text = llama_json();
    text.replace(text.find(",\n  \"torch_dtype\": \"bfloat16\""), 29, "");
    const std::string path = write_config("d.json", text);
    CHECK(error_of(path) == path +
                                ":1:1: torch_dtype: missing (the checkpoint's dtype); add e.g. "
                                "\"torch_dtype\": \"bfloat16\"");
  }
  SECTION("an activation other than SiLU") {
    const std::string path = write_config("a.json", llama_json("  \"hidden_act\": \"gelu\",\n"));
    CHECK(error_of(path) ==
          path + ":2:17: hidden_act: only \"silu\" (SwiGLU MLPs) is modelled, got \"gelu\"");
  }
  SECTION("sizes that do not fit together are caught by the workload rules, at the JSON value") {
    std::string text = llama_json();
    text.replace(text.find("\"num_key_value_heads\": 2"), 24, "\"num_key_value_heads\": 3");
    const std::string path = write_config("k.json", text);
    CHECK(error_of(path) ==
          path +
              ":7:26: num_key_value_heads: must divide num_attention_heads (4) for "
              "grouped-query attention");
  }
  SECTION("JSON syntax error") {
    const std::string path = write_config("x.json", "{\n  \"model_type\": \"llama\",,\n}\n");
    CHECK(error_of(path).rfind(path + ":2:", 0) == 0);
  }
  SECTION("a YAML workload cannot inherit from a config.json") {
    const std::string path = write_config("child.yaml", "inherit: mixtral-8x7b.config.json\n");
    CHECK(error_of(path).find("cannot inherit from a Hugging Face config") != std::string::npos);
  }
}
