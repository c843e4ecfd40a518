// `dfsim estimate` against hand derivations. Every expected number is worked out in the comment
// beside it from the model's published shapes and the cost conventions of the graph builder
// (sim/workload/workload_graph.cpp); none is computed with the code under test.
//
// The formulas that circulate online get several of these wrong; for Llama-2-7B one blog post
// gives 40,131,100,672 or 4,294,967,296 FLOPs per token (attention FLOPs as 2 L h^2 per head,
// then multiplied by the head count) and "8 bytes per parameter" for AdamW training (the two
// states alone). The derivations below are the ones dfsim's graph reproduces.
#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/config/catalog.h"
#include "sim/report/estimate_report.h"
#include "sim/workload/estimate.h"

using dfsim::Estimate;
using dfsim::EstimateRequest;

namespace {

std::int64_t component(const Estimate& e, const std::string& name) {
  for (const auto& group : e.components) {
    if (group.component == name) return group.parameters;
  }
  return -1;
}

Estimate estimate(const std::string& model, std::int64_t context = 128, int devices = 1) {
  EstimateRequest request;
  request.context = context;
  request.prompt = context;
  request.devices = devices;
  return dfsim::estimate_model(dfsim::load_model_spec(model, {}), request);
}

// Runs the dfsim binary and returns its stdout.
std::string run_dfsim(const std::string& args) {
  const std::string command = "'" DFSIM_BINARY "' " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), &pclose);
  REQUIRE(pipe);
  std::string out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) out.append(buffer, n);
  return out;
}

}  // namespace

TEST_CASE("Llama-2-7B has 6,738,415,616 parameters", "[estimate]") {
  // h 4096, I 11008, 32 layers, 32 heads = 32 KV heads (MHA), vocab 32000, untied.
  const Estimate e = estimate("llama2-7b");
  // embedding 32000 x 4096 = 131,072,000; lm_head the same.
  CHECK(component(e, "embedding") == 131'072'000);
  CHECK(component(e, "lm_head") == 131'072'000);
  // attention: 32 x 4 x 4096^2 = 32 x 67,108,864 = 2,147,483,648.
  CHECK(component(e, "attention") == 2'147'483'648);
  // mlp: 32 x 3 x 4096 x 11008 = 32 x 135,266,304 = 4,328,521,728.
  CHECK(component(e, "mlp") == 4'328'521'728);
  // norms: (2 x 32 + 1) x 4096 = 266,240.
  CHECK(component(e, "norms") == 266'240);
  // 131,072,000 x 2 + 2,147,483,648 + 4,328,521,728 + 266,240 = 6,738,415,616.
  CHECK(e.total_parameters == 6'738'415'616);
  CHECK(e.active_parameters == 6'738'415'616);  // dense: every token uses every weight
  CHECK(e.parameters_per_device == 6'738'415'616);
}

TEST_CASE("Llama-2-7B decode FLOPs per token at context 4096", "[estimate]") {
  // One decode step with L = 4096 tokens cached: the new token attends to L + 1 = 4097 positions.
  const Estimate e = estimate("llama2-7b", 4096);
  const dfsim::FlopCount& d = e.decode;
  REQUIRE(d.tokens == 1);
  // Matmuls, 2 FLOPs per weight: weights used by matmuls = total - embedding (a gather) -
  // norms = 6,738,415,616 - 131,072,000 - 266,240 = 6,607,077,376; x 2 = 13,214,154,752.
  CHECK(d.matmul == 13'214'154'752.0);
  // Scores: 32 layers x 32 heads x 4097 pairs x (2 x 128 dot product + 1 scale)
  //   = 1024 x 4097 x 257 = 1,078,199,296.
  CHECK(d.attention_scores == 1'078'199'296.0);
  // Softmax: 1024 x 4097 x 5 = 20,976,640.
  CHECK(d.attention_softmax == 20'976'640.0);
  // Values: 1024 x 4097 x 2 x 128 = 1,074,003,968.
  CHECK(d.attention_values == 1'074'003'968.0);
  // Other: RMSNorm 65 x (4 x 4096 + 3) = 1,065,155; RoPE 32 x 3 x (4096 + 4096) = 786,432;
  // SwiGLU 32 x 5 x 11008 = 1,761,280; residual adds 64 x 4096 = 262,144: 3,875,011.
  CHECK(d.other == 3'875'011.0);
  // Total 13,214,154,752 + 1,078,199,296 + 20,976,640 + 1,074,003,968 + 3,875,011
  //     = 15,391,209,667, i.e. 2 x (matmul weights) + ~2.2 GFLOPs of attention at this context.
  CHECK(d.total == 15'391'209'667.0);
  CHECK(e.asked().per_token() == 15'391'209'667.0);
}

TEST_CASE("Prefill FLOPs per token count causal pairs and one LM-head row", "[estimate]") {
  // tiny-llama: h 64, I 128, 2 layers, 4 heads / 2 KV heads of 16, vocab 256.
  // Prefill of P = 8 tokens (batch 1). Per layer:
  //   q 2x8x64x64 = 65,536; k, v 2x8x64x32 = 32,768 each; o 65,536; gate, up, down 2x8x64x128 =
  //   131,072 each: 589,824 per layer, 1,179,648 for 2 layers; LM head (last row only)
  //   2 x 1 x 64 x 256 = 32,768. Matmuls 1,212,416.
  //   pairs = 8 x 9 / 2 = 36 per head; scores 2 x 4 x 36 x (2 x 16 + 1) = 9,504;
  //   softmax 2 x 4 x 36 x 5 = 1,440; values 2 x 4 x 36 x 32 = 9,216.
  //   other: norms 2 x 2 x 8 x (4 x 64 + 3) + 1 x 259 = 8,288 + 259 = 8,547; rope 2 x 3 x 8 x 96 =
  //   4,608; swiglu 2 x 5 x 8 x 128 = 10,240; adds 4 x 8 x 64 = 2,048: 25,443.
  //   total 1,212,416 + 9,504 + 1,440 + 9,216 + 25,443 = 1,258,019, per token / 8.
  EstimateRequest request;
  request.phase = dfsim::PhaseKind::kPrefill;
  request.prompt = 8;
  const Estimate e = dfsim::estimate_model(dfsim::load_model_spec("tiny-llama", {}), request);
  CHECK(e.prefill.matmul == 1'212'416.0);
  CHECK(e.prefill.attention_scores == 9'504.0);
  CHECK(e.prefill.attention_softmax == 1'440.0);
  CHECK(e.prefill.attention_values == 9'216.0);
  CHECK(e.prefill.other == 25'443.0);
  CHECK(e.prefill.total == 1'258'019.0);
  CHECK(e.asked().per_token() == Approx(1'258'019.0 / 8).epsilon(1e-15));
}

TEST_CASE("Qwen2.5-7B with q/k/v biases has 7,615,616,512 parameters", "[estimate]") {
  // h 3584, I 18944, 28 layers, 28 heads / 4 KV heads of 128 (kv width 512), vocab 152064.
  const Estimate e = estimate("qwen2.5-7b");
  // attention per layer: q 3584^2 = 12,845,056 + bias 3584; k, v 3584 x 512 = 1,835,008 + bias
  // 512 each; o 12,845,056 (no bias): 29,360,128 + 4,608 = 29,364,736; x 28 = 822,212,608.
  CHECK(component(e, "attention") == 822'212'608);
  // mlp: 28 x 3 x 3584 x 18944 = 28 x 203,685,888 = 5,703,204,864.
  CHECK(component(e, "mlp") == 5'703'204'864);
  // norms: (2 x 28 + 1) x 3584 = 204,288; embedding = lm_head = 152064 x 3584 = 544,997,376.
  CHECK(component(e, "norms") == 204'288);
  CHECK(component(e, "embedding") == 544'997'376);
  // 822,212,608 + 5,703,204,864 + 204,288 + 2 x 544,997,376 = 7,615,616,512.
  CHECK(e.total_parameters == 7'615'616'512);
  // The biases add one FLOP per output element: decode matmuls = 2 x (matmul weights) + 28 x
  // 4608 = 2 x (7,615,616,512 - 544,997,376 - 204,288 - 28 x 4608) + 129,024
  //      = 2 x 7,070,285,824 + 129,024 = 14,140,700,672.
  CHECK(e.decode.matmul == 14'140'700'672.0);
}

TEST_CASE("Mixtral-8x7B: 46,702,792,704 parameters, 12,879,925,248 active per token",
          "[estimate]") {
  // h 4096, I 14336 per expert, 32 layers, 8 experts top-2, 32 heads / 8 KV heads, vocab 32000.
  const Estimate e = estimate("mixtral-8x7b");
  // experts: 32 layers x 8 experts x 3 x 4096 x 14336 = 256 x 176,160,768 = 45,097,156,608.
  CHECK(component(e, "experts") == 45'097'156'608);
  // router: 32 x 4096 x 8 = 1,048,576.
  CHECK(component(e, "router") == 1'048'576);
  // attention: 32 x (2 x 4096^2 + 2 x 4096 x 1024) = 32 x 41,943,040 = 1,342,177,280.
  CHECK(component(e, "attention") == 1'342'177'280);
  // + embedding, lm_head 131,072,000 each + norms 266,240:
  // 45,097,156,608 + 1,048,576 + 1,342,177,280 + 262,144,000 + 266,240 = 46,702,792,704.
  CHECK(e.total_parameters == 46'702'792'704);
  // Active: 2 of 8 experts, 45,097,156,608 / 4 = 11,274,289,152, plus everything else
  // (1,605,636,096): 12,879,925,248 (Mistral AI: "12.9B active parameters").
  CHECK(e.active_parameters == 12'879'925'248);
  // Decode FLOPs of the experts at batch 1: 2 x 11,274,289,152 = 22,548,578,304 for the
  // matmuls, + the combine 32 x 2 rows x 2 x 4096 = 524,288; router 32 x (2 x 4096 x 8 + 60):
  // 2,097,152 + 1,920 = 2,099,072.
  double experts = 0, router = 0;
  for (const auto& term : e.decode.terms) {
    if (term.role == "expert_gate_up" || term.role == "expert_down") experts += term.value;
    if (term.role == "router") router += term.value;
  }
  CHECK(experts == 22'548'578'304.0 + 524'288.0);
  CHECK(router == 2'099'072.0);
}

TEST_CASE("Memory: weights per format, KV cache, activation peak, training", "[estimate]") {
  const Estimate e = estimate("llama2-7b", 4096);
  const double p = 6'738'415'616.0;
  // As configured (fp16): every parameter at 2 B, the norms too (fp16 activations).
  CHECK(e.weight_bytes == 2 * p);
  auto format = [&](const std::string& name) {
    for (const auto& item : dfsim::weight_formats()) {
      if (item.name == name) return item.bytes_per_parameter * e.parameters_per_device;
    }
    return -1.0;
  };
  // int4 with a 16-bit scale and zero point (4 B) per 128 weights: p x (0.5 + 4/128) =
  // p x 17/32 = 3,579,783,296; q4_0: p x 18/32 = 3,790,358,784; q8_0: p x 34/32 =
  // 7,159,566,592.
  CHECK(format("int4") == 3'579'783'296.0);
  CHECK(format("q4_0") == 3'790'358'784.0);
  CHECK(format("q8_0") == 7'159'566'592.0);
  CHECK(format("fp32") == 4 * p);
  // KV cache: 2 (K, V) x 32 layers x 4096 (32 KV heads x 128) x 2 B = 524,288 B per token;
  // the step at context 4096 reads 4097 positions: 2,148,007,936 B.
  CHECK(e.kv_cache_bytes_per_token == 524'288.0);
  CHECK(e.kv_cache_bytes == 524'288.0 * 4097);
  CHECK(e.kv_positions == 4097);
  // Decode batch 1: the widest moment is the LM head, whose input row (4096 x 2 B = 8,192) and
  // fp32 logits (32000 x 4 = 128,000) are live together: 136,192 B. (The MLP holds the
  // residual 8,192 + gate, up and SwiGLU outputs 3 x 11008 x 2 = 66,048: 74,240.)
  CHECK(e.activation_peak_bytes == 136'192.0);
  CHECK(e.activation_peak_op == "lm_head");
  // Training: AdamW mixed precision 16 B/parameter = 107,814,649,856 B; SGD with momentum 12;
  // 8-bit Adam 8 + 2 + 8/2048.
  for (const auto& optimizer : e.training) {
    if (optimizer.key == "adamw") CHECK(optimizer.bytes == 107'814'649'856.0);
    if (optimizer.key == "sgd_momentum") CHECK(optimizer.bytes == 12 * p);
    if (optimizer.key == "adam_8bit") CHECK(optimizer.bytes == p * (10.0 + 8.0 / 2048.0));
    // Adafactor: 8 B/parameter + factored states. Per layer 4 x (4096 + 4096) for q, k, v, o,
    // 3 x 4 x (4096 + 11008) for the MLP, 2 x 4 x 4096 for the norms: 131,072 + 181,248 +
    // 32,768 = 345,088; x 32 = 11,042,816; embedding and lm_head 2 x 4 x (32000 + 4096) =
    // 288,768; final norm 16,384: 11,347,968.
    if (optimizer.key == "adafactor") CHECK(optimizer.bytes == 8 * p + 11'347'968.0);
  }
}

TEST_CASE("Sliding window caps the attended positions", "[estimate]") {
  // Pairs of one sequence: window 4, 10 new tokens, nothing cached: 1 + 2 + 3 + 4 + 6 x 4 = 34.
  CHECK(dfsim::attended_pairs(0, 10, 4) == 34.0);
  // 2 cached, 3 new, window 4: positions see 3, 4, 4 -> 11.
  CHECK(dfsim::attended_pairs(2, 3, 4) == 11.0);
  CHECK(dfsim::attended_pairs(2, 3, 0) == 3 * 2 + 6.0);  // no window: n past + n(n+1)/2
  // Mistral 7B (window 4096) decoding at context 8192 attends 4096 positions, not 8193:
  // scores 32 layers x 32 heads x 4096 x 257 = 1,077,936,128; KV read 4096 x 131,072 B.
  const Estimate e = estimate("mistral-7b", 8192);
  CHECK(e.decode.attention_scores == 1'077'936'128.0);
  CHECK(e.kv_positions == 4096);
  CHECK(e.kv_cache_bytes == 4096 * 131'072.0);
  // Below the window nothing changes: context 100 attends 101 positions.
  CHECK(estimate("mistral-7b", 100).kv_positions == 101);
}

TEST_CASE("estimate --devices divides by tensor parallelism", "[estimate]") {
  // Llama-2-7B over 2 devices: attention and MLP halve, the LM head splits its vocabulary, the
  // embedding and norms are replicated: 131,072,000 + 2,147,483,648/2 + 4,328,521,728/2 +
  // 266,240 + 131,072,000/2 = 3,434,876,928.
  const Estimate e = estimate("llama2-7b", 128, 2);
  CHECK(e.total_parameters == 6'738'415'616);
  CHECK(e.parameters_per_device == 3'434'876'928);
  // Each all-reduce adds the other rank's partial: 4096 adds, 2 per layer: 262,144.
  CHECK(e.decode.collectives == 262'144.0);
  // Matmul FLOPs halve except the replicated... none: 2 x (6,607,077,376 / 2) = 6,607,077,376.
  CHECK(e.decode.matmul == 6'607'077'376.0);
}

TEST_CASE("dfsim estimate JSON keys and exact integers", "[estimate]") {
  const nlohmann::json j = nlohmann::json::parse(
      run_dfsim("estimate --model mixtral-8x7b --context 4096 --format json"));
  REQUIRE(j["total_parameters"].is_number_integer());
  REQUIRE(j["active_parameters"].is_number_integer());
  CHECK(j["total_parameters"].get<std::int64_t>() == 46'702'792'704);
  CHECK(j["active_parameters"].get<std::int64_t>() == 12'879'925'248);
  CHECK(j["phase"] == "decode");
  CHECK(j["flops_per_token"].get<double>() == j["flops"]["decode"]["per_token"].get<double>());
  for (const char* key : {"parameters_by_component", "active_parameters_by_component",
                          "weight_bytes", "weight_bytes_by_format", "kv_cache_bytes_per_token",
                          "kv_cache_bytes", "activation_peak_bytes", "training_bytes"}) {
    CHECK(j.contains(key));
  }
  for (const char* format : {"fp32", "bf16", "fp16", "fp8", "int8", "int4", "q8_0", "q4_0"}) {
    CHECK(j["weight_bytes_by_format"].contains(format));
  }
  for (const char* optimizer : {"adamw", "adafactor", "adam_8bit", "sgd_momentum"}) {
    CHECK(j["training_bytes"].contains(optimizer));
  }
  // The same model from its config.json, prefill: the asked phase switches.
  const nlohmann::json p = nlohmann::json::parse(run_dfsim(
      "estimate --model mixtral-8x7b.config.json --phase prefill --prompt 64 --format json"));
  CHECK(p["total_parameters"].get<std::int64_t>() == 46'702'792'704);
  CHECK(p["flops_per_token"].get<double>() == p["flops"]["prefill"]["per_token"].get<double>());
  // --explain shows the derivations with the numbers in them.
  const std::string explained = run_dfsim("estimate --model llama2-7b --context 4096 --explain");
  CHECK(explained.find("32 x (4,096 x 4,096) = 536,870,912") != std::string::npos);
  CHECK(explained.find("4,097 pairs") != std::string::npos);
  CHECK(explained.find("6,738,415,616 x 16 B") != std::string::npos);
}
