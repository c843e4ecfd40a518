// The safetensors loader: a file the test writes itself (its own encoder, per the format: an
// 8-byte little-endian header length, a JSON header, the data) drives the functional run, and
// every malformed file is one clear error naming the tensor.
#include <catch2/catch.hpp>

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "sim/common/error.h"
#include "sim/config/catalog.h"
#include "sim/functional/model_weights.h"
#include "sim/functional/safetensors.h"
#include "tests/reference_forward.h"
#include "tests/test_support.h"

namespace dfsim {
namespace {

struct Entry {
  std::string name;
  std::string dtype;  // F32, BF16, F16
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

std::string encode(const std::vector<Entry>& entries, bool drop_data_tail = false) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const Entry& e : entries) {
    const std::size_t begin = data.size();
    for (float v : e.values) {
      std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
      if (e.dtype == "F32") {
        for (int b = 0; b < 4; ++b) data += static_cast<char>((bits >> (8 * b)) & 0xFF);
        continue;
      }
      // The values are bf16-exact (and the F16 ones fp16-exact): truncation is exact.
      std::uint16_t half = e.dtype == "BF16"
                               ? static_cast<std::uint16_t>(bits >> 16)
                               : std::bit_cast<std::uint16_t>(static_cast<_Float16>(v));
      data += static_cast<char>(half & 0xFF);
      data += static_cast<char>(half >> 8);
    }
    header[e.name] = {
        {"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the format pads the header to 8 bytes
  std::string out;
  for (int b = 0; b < 8; ++b) out += static_cast<char>((text.size() >> (8 * b)) & 0xFF);
  out += text + data;
  if (drop_data_tail) out.resize(out.size() - 3);
  return out;
}

// tiny-llama's generated weights under Hugging Face names: embedding and head as F32,
// projections as BF16, norms as F16 (values near 1, exact in fp16).
std::vector<Entry> tiny_llama_entries(const functional::ModelWeights& w, const ModelSpec& m) {
  const std::int64_t h = m.hidden_size, kv = m.kv_width(), q = m.q_width(),
                     inter = m.intermediate_size;
  std::vector<Entry> entries{
      {"model.embed_tokens.weight", "F32", {m.vocab_size, h}, w.embed_tokens}};
  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    const auto& layer = w.layers[l];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    entries.push_back({p + "input_layernorm.weight", "F16", {h}, layer.attn_norm});
    entries.push_back({p + "self_attn.q_proj.weight", "BF16", {q, h}, layer.q_proj});
    entries.push_back({p + "self_attn.k_proj.weight", "BF16", {kv, h}, layer.k_proj});
    entries.push_back({p + "self_attn.v_proj.weight", "BF16", {kv, h}, layer.v_proj});
    entries.push_back({p + "self_attn.o_proj.weight", "BF16", {h, q}, layer.o_proj});
    entries.push_back({p + "post_attention_layernorm.weight", "F16", {h}, layer.mlp_norm});
    entries.push_back({p + "mlp.gate_proj.weight", "BF16", {inter, h}, layer.gate_proj});
    entries.push_back({p + "mlp.up_proj.weight", "BF16", {inter, h}, layer.up_proj});
    entries.push_back({p + "mlp.down_proj.weight", "BF16", {h, inter}, layer.down_proj});
  }
  entries.push_back({"model.norm.weight", "F16", {h}, w.final_norm});
  entries.push_back({"lm_head.weight", "F32", {m.vocab_size, h}, w.lm_head});
  return entries;
}

struct Fixture {
  ModelSpec model = load_model_spec("tiny-llama", {});
  functional::ModelWeights weights = functional::generate_weights(model, 11);
  std::vector<Entry> entries = tiny_llama_entries(weights, model);
};

TEST_CASE("safetensors: a written file loads back exactly", "[functional][safetensors]") {
  Fixture f;
  testing::TempDir dir;
  const std::string path = dir.write("tiny.safetensors", encode(f.entries));
  functional::ModelWeights loaded = functional::load_safetensors_weights(path, f.model);
  CHECK(loaded.embed_tokens == f.weights.embed_tokens);
  CHECK(loaded.layers[1].q_proj == f.weights.layers[1].q_proj);
  CHECK(loaded.layers[0].mlp_norm == f.weights.layers[0].mlp_norm);
  CHECK(loaded.lm_head == f.weights.lm_head);
}

TEST_CASE("safetensors: a functional run on a file matches the reference",
          "[functional][safetensors][cli]") {
  Fixture f;
  testing::TempDir dir;
  dir.write("tiny.safetensors", encode(f.entries));
  auto outcome = testing::run_dfsim(dir,
                                    "run --model tiny-llama --hw sn40l --looping on --functional "
                                    "--prompt-tokens 7,8,9 --tokens 6 --weights tiny.safetensors");
  REQUIRE(outcome.code == 0);
  auto reference = testing::reference_generate(f.model, f.weights, {7, 8, 9}, 6);
  std::string expected = "generated tokens:";
  for (std::int32_t token : reference.tokens) expected += " " + std::to_string(token);
  CHECK(testing::split_lines(outcome.out).at(1) == expected);
}

TEST_CASE("safetensors: a bad file is one error naming the tensor, exit 2",
          "[functional][safetensors][cli]") {
  Fixture f;
  testing::TempDir dir;
  auto run = [&](const std::string& bytes) {
    dir.write("bad.safetensors", bytes);
    auto outcome = testing::run_dfsim(dir,
                                      "run --model tiny-llama --hw h100-sxm --functional "
                                      "--prompt-tokens 1 --tokens 1 --weights bad.safetensors");
    CHECK(outcome.code == 2);
    CHECK(testing::split_lines(outcome.err).size() == 1);
    return outcome.err;
  };
  SECTION("missing tensor") {
    std::vector<Entry> entries = f.entries;
    entries.pop_back();
    CHECK_THAT(run(encode(entries)), Catch::Contains("tensor 'lm_head.weight' is missing"));
  }
  SECTION("wrong shape") {
    std::vector<Entry> entries = f.entries;
    entries[2].shape = {32, 128};  // layer 0 q_proj is [64, 64]
    CHECK_THAT(run(encode(entries)),
               Catch::Contains("tensor 'model.layers.0.self_attn.q_proj.weight' has shape [32, "
                               "128], the model needs [64, 64]"));
  }
  SECTION("truncated data") {
    CHECK_THAT(run(encode(f.entries, true)),
               Catch::Contains("tensor 'lm_head.weight': truncated file"));
  }
  SECTION("bad header") {
    std::string bytes = encode(f.entries);
    bytes[9] = '[';  // the JSON no longer parses
    CHECK_THAT(run(bytes), Catch::Contains("bad header"));
  }
}

TEST_CASE("safetensors: the header parser rejects malformed headers", "[functional][safetensors]") {
  auto parse = [](const std::string& json, std::uint64_t data_bytes = 0) {
    std::string bytes;
    for (int b = 0; b < 8; ++b) bytes += static_cast<char>((json.size() >> (8 * b)) & 0xFF);
    bytes += json;
    bytes.append(data_bytes, '\0');
    return functional::parse_safetensors_header(bytes, bytes.size(), "f.safetensors");
  };
  const std::string good = R"({"a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}})";
  auto header = parse(good, 12);
  CHECK(header.data_offset == 8 + good.size());
  CHECK(header.tensors.at("a").shape == std::vector<std::int64_t>{2, 3});
  CHECK_THROWS_WITH(functional::parse_safetensors_header("\x05\x00", 2, "f.safetensors"),
                    Catch::Contains("no 8-byte header length"));
  CHECK_THROWS_WITH(
      parse(R"({"a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 10]}})", 12),
      Catch::Contains("tensor 'a': 10 bytes for shape [2, 3] of BF16 (needs 12)"));
  CHECK_THROWS_WITH(parse(R"({"a": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}})", 1),
                    Catch::Contains("tensor 'a': unknown dtype 'Q9'"));
  CHECK_THROWS_WITH(parse(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
                    Catch::Contains("tensor 'a': shape entries must be non-negative integers"));
  CHECK_THROWS_WITH(parse(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", 4),
                    Catch::Contains("tensor 'a': data_offsets end before they begin"));
  CHECK_THROWS_WITH(parse(R"({"a": {"dtype": "F32", "shape": [1], "offsets": [0, 4]}})", 4),
                    Catch::Contains("tensor 'a': unknown key 'offsets'"));
  CHECK_THROWS_WITH(parse(R"([1, 2])"), Catch::Contains("expected a JSON object"));
  std::string huge(8, '\xff');
  CHECK_THROWS_AS(functional::parse_safetensors_header(huge, 8, "f.safetensors"), InputError);
}

}  // namespace
}  // namespace dfsim
