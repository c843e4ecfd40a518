// The decoder graph's costs against hand derivations. Every expected number is written out in
// the comment next to it from the conventions in the builder's class comment
// (sim/workload/workload_graph.cpp); no expected value is computed with the builder's formulas.
#include <catch2/catch.hpp>

#include <cstdint>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/workload/workload_graph.h"

using dfsim::Dtype;
using dfsim::ModelSpec;
using dfsim::Op;
using dfsim::OpKind;
using dfsim::StepShape;
using dfsim::WorkloadGraph;

namespace {

// Llama-2-7B shapes (HF config.json), written out here in bf16 rather than read from the
// catalog: h 4096, I 11008, 32 layers, 32 heads, 32 KV heads (MHA), head_dim 128, vocab 32000.
ModelSpec llama2_7b_bf16() {
  ModelSpec model;
  model.name = "llama2-7b-test";
  model.hidden_size = 4096;
  model.intermediate_size = 11008;
  model.num_layers = 32;
  model.num_attention_heads = 32;
  model.num_key_value_heads = 32;
  model.head_dim = 128;
  model.vocab_size = 32000;
  model.max_position_embeddings = 4096;
  model.tie_word_embeddings = false;
  model.weight_dtype = Dtype::kBf16;
  model.activation_dtype = Dtype::kBf16;
  model.kv_cache_dtype = Dtype::kBf16;
  return model;
}

WorkloadGraph::OpId find_op(const WorkloadGraph& graph, const std::string& name) {
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    if (graph.op(id).name == name) return id;
  }
  FAIL("no op named " << name);
  throw std::logic_error("unreachable");
}

const Op& op_named(const WorkloadGraph& graph, const std::string& name) {
  return graph.op(find_op(graph, name));
}

// Decode: batch 1, one new token, 127 tokens already cached (the 128th position).
constexpr StepShape kDecode{1, 1, 127, false};
// Prefill: batch 2, a 16-token prompt each, nothing cached.
constexpr StepShape kPrefill{2, 16, 0, true};

}  // namespace

TEST_CASE("decode step FLOPs of every op kind, Llama-2-7B shapes", "[graph]") {
  const WorkloadGraph graph = dfsim::build_decoder_graph(llama2_7b_bf16(), kDecode);
  // T = batch * new_tokens = 1 * 1 = 1 row.

  // Projections: 2*m*n*k with m = T = 1.
  // q_proj: 2 * 1 * 4096 * 4096 = 33,554,432 (k_proj, v_proj, o_proj identical: MHA, q_width = h).
  for (const char* role : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
    const Op& op = op_named(graph, std::string("layer5.") + role);
    CHECK(op.kind == OpKind::kMatMul);
    CHECK(op.flops == 33'554'432.0);
    CHECK(op.matmul_flops == 33'554'432.0);
  }
  // gate_proj / up_proj / down_proj: 2 * 1 * 4096 * 11008 = 2 * 45,088,768 = 90,177,536.
  for (const char* role : {"gate_proj", "up_proj", "down_proj"}) {
    CHECK(op_named(graph, std::string("layer5.") + role).flops == 90'177'536.0);
  }
  // lm_head: 2 * 1 * 4096 * 32000 = 262,144,000.
  CHECK(op_named(graph, "lm_head").flops == 262'144'000.0);

  // rmsnorm: rows * (4h + 3) = 1 * (4*4096 + 3) = 16,387 (attn_norm, mlp_norm, final_norm).
  CHECK(op_named(graph, "layer0.attn_norm").flops == 16'387.0);
  CHECK(op_named(graph, "layer31.mlp_norm").flops == 16'387.0);
  CHECK(op_named(graph, "final_norm").flops == 16'387.0);
  CHECK(op_named(graph, "final_norm").matmul_flops == 0.0);

  // rope: 3 * T * (q_width + kv_width) = 3 * 1 * (4096 + 4096) = 24,576.
  CHECK(op_named(graph, "layer0.rope").flops == 24'576.0);

  // Attention pairs per (sequence, head): S = n*past + n(n+1)/2 = 1*127 + 1*2/2 = 128.
  // Over batch and heads: 128 * 1 * 32 = 4,096 pairs.
  // scores: (2*head_dim + 1) * 4096 = 257 * 4096 = 1,052,672, of which 256 * 4096 = 1,048,576
  // are the q.k dot products (tensor-core work) and 4,096 the 1/sqrt(d) scaling.
  const Op& scores = op_named(graph, "layer0.attention_scores");
  CHECK(scores.flops == 1'052'672.0);
  CHECK(scores.matmul_flops == 1'048'576.0);
  // softmax: 5 * 4096 = 20,480, none on tensor cores.
  CHECK(op_named(graph, "layer0.softmax").flops == 20'480.0);
  CHECK(op_named(graph, "layer0.softmax").matmul_flops == 0.0);
  // values: 2 * head_dim * 4096 = 256 * 4096 = 1,048,576, all tensor-core work.
  CHECK(op_named(graph, "layer0.attention_values").flops == 1'048'576.0);
  CHECK(op_named(graph, "layer0.attention_values").matmul_flops == 1'048'576.0);

  // swiglu: 5 * T * I = 5 * 1 * 11008 = 55,040.
  CHECK(op_named(graph, "layer0.swiglu").flops == 55'040.0);
  // residual adds: T * h = 1 * 4096 = 4,096.
  CHECK(op_named(graph, "layer0.attn_residual").flops == 4'096.0);
  CHECK(op_named(graph, "layer0.mlp_residual").flops == 4'096.0);
  // Gathers and cache writes do no arithmetic.
  CHECK(op_named(graph, "embedding").flops == 0.0);
  CHECK(op_named(graph, "layer0.kv_append").flops == 0.0);
}

TEST_CASE("prefill step FLOPs of every op kind, Llama-2-7B shapes", "[graph]") {
  const WorkloadGraph graph = dfsim::build_decoder_graph(llama2_7b_bf16(), kPrefill);
  // T = batch * new_tokens = 2 * 16 = 32 rows.

  // q_proj: 2 * 32 * 4096 * 4096 = 1,073,741,824.
  CHECK(op_named(graph, "layer3.q_proj").flops == 1'073'741'824.0);
  CHECK(op_named(graph, "layer3.q_proj").m == 32);
  // gate_proj: 2 * 32 * 4096 * 11008 = 2,885,681,152.
  CHECK(op_named(graph, "layer3.gate_proj").flops == 2'885'681'152.0);
  // rmsnorm: 32 * (4*4096 + 3) = 32 * 16,387 = 524,384.
  CHECK(op_named(graph, "layer3.attn_norm").flops == 524'384.0);
  // rope: 3 * 32 * (4096 + 4096) = 786,432.
  CHECK(op_named(graph, "layer3.rope").flops == 786'432.0);

  // Causal pairs per (sequence, head): S = n*past + n(n+1)/2 = 16*0 + 16*17/2 = 136.
  // Over batch and heads: 136 * 2 * 32 = 8,704 pairs.
  // scores: 257 * 8704 = 2,236,928 (256 * 8704 = 2,228,224 on tensor cores).
  CHECK(op_named(graph, "layer3.attention_scores").flops == 2'236'928.0);
  CHECK(op_named(graph, "layer3.attention_scores").matmul_flops == 2'228'224.0);
  // softmax: 5 * 8704 = 43,520.
  CHECK(op_named(graph, "layer3.softmax").flops == 43'520.0);
  // values: 256 * 8704 = 2,228,224.
  CHECK(op_named(graph, "layer3.attention_values").flops == 2'228'224.0);

  // swiglu: 5 * 32 * 11008 = 1,761,280.
  CHECK(op_named(graph, "layer3.swiglu").flops == 1'761'280.0);
  // add: 32 * 4096 = 131,072.
  CHECK(op_named(graph, "layer3.mlp_residual").flops == 131'072.0);

  // lm_head in prefill: logits only for the last position of each sequence, so batch = 2 rows
  // (not 32): 2 * 2 * 4096 * 32000 = 524,288,000.
  const Op& lm_head = op_named(graph, "lm_head");
  CHECK(lm_head.m == 2);
  CHECK(lm_head.flops == 524'288'000.0);
  // The final norm normalizes only the rows the LM head reads: 2 * 16,387 = 32,774.
  CHECK(op_named(graph, "final_norm").flops == 32'774.0);
  CHECK(op_named(graph, "final_norm").m == 2);
}

TEST_CASE("attention of a GQA model scores with all query heads, ropes q and k widths", "[graph]") {
  // tiny-llama: h 64, 4 heads, 2 KV heads, head_dim 16 -> q_width 64, kv_width 32.
  const ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  REQUIRE(model.q_width() == 64);
  REQUIRE(model.kv_width() == 32);
  // Prefill batch 2, 16 new tokens, past 0 -> T = 32.
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, kPrefill);
  // rope: 3 * 32 * (64 + 32) = 9,216.
  CHECK(op_named(graph, "layer1.rope").flops == 9'216.0);
  // S = 16*17/2 = 136 pairs per sequence and head; 136 * 2 * 4 query heads = 1,088 pairs.
  // scores: (2*16 + 1) * 1088 = 33 * 1088 = 35,904; softmax 5 * 1088 = 5,440;
  // values 2*16*1088 = 34,816.
  CHECK(op_named(graph, "layer1.attention_scores").flops == 35'904.0);
  CHECK(op_named(graph, "layer1.softmax").flops == 5'440.0);
  CHECK(op_named(graph, "layer1.attention_values").flops == 34'816.0);
  // k_proj: 2 * 32 * 64 * 32 = 131,072 (n = kv_width); q_proj: 2 * 32 * 64 * 64 = 262,144.
  CHECK(op_named(graph, "layer1.k_proj").flops == 131'072.0);
  CHECK(op_named(graph, "layer1.q_proj").flops == 262'144.0);
  // KV-cache read of the scores: batch * (past + new) * kv_width * 2 B = 2 * 16 * 32 * 2 = 2,048
  // (K of the two KV heads only, shared by the query heads of each group).
  CHECK(op_named(graph, "layer1.attention_scores").cache_read_bytes == 2'048.0);
}

TEST_CASE("a static KV cache is attended in full", "[graph]") {
  const ModelSpec model = llama2_7b_bf16();
  // Decode after 4 cached tokens in a 208-position static cache (gpt-fast's 5 + 200 rounded up).
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 4, false, 208});
  const Op& scores = op_named(graph, "layer0.attention_scores");
  CHECK(scores.n == 208);
  // K of all 208 positions: 208 * 4096 * 2 B = 1,703,936 B (not the 5 written: 40,960).
  CHECK(scores.cache_read_bytes == 1'703'936.0);
  CHECK(op_named(graph, "layer0.attention_values").k == 208);
  CHECK(op_named(graph, "layer0.attention_values").cache_read_bytes == 1'703'936.0);
  // Every position is scored, the masked ones too: 1 * 208 pairs * 32 heads = 6,656;
  // scores (2 * 128 + 1) * 6,656 = 1,710,592; softmax 5 * 6,656 = 33,280.
  CHECK(scores.flops == 1'710'592.0);
  CHECK(op_named(graph, "layer0.softmax").flops == 33'280.0);
  // A cache no larger than the written positions changes nothing: 128 keys as without one.
  const WorkloadGraph full = dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false, 100});
  CHECK(op_named(full, "layer0.attention_scores").n == 128);
}

TEST_CASE("weight, KV-cache and logits bytes, Llama-2-7B shapes", "[graph]") {
  const ModelSpec bf16 = llama2_7b_bf16();
  const WorkloadGraph decode = dfsim::build_decoder_graph(bf16, kDecode);
  const WorkloadGraph prefill = dfsim::build_decoder_graph(bf16, kPrefill);

  // q_proj weights: 4096 * 4096 * 2 B = 33,554,432 B, read once per step whatever the rows.
  CHECK(op_named(decode, "layer0.q_proj").weight_bytes == 33'554'432.0);
  CHECK(op_named(prefill, "layer0.q_proj").weight_bytes == 33'554'432.0);
  // down_proj: 11008 * 4096 * 2 = 90,177,536 B.
  CHECK(op_named(decode, "layer0.down_proj").weight_bytes == 90'177'536.0);
  // rmsnorm weight: 4096 * 2 = 8,192 B.
  CHECK(op_named(decode, "layer0.attn_norm").weight_bytes == 8'192.0);
  // embedding gathers T rows: decode 1 * 4096 * 2 = 8,192 B; prefill 32 * 4096 * 2 = 262,144 B.
  CHECK(op_named(decode, "embedding").weight_bytes == 8'192.0);
  CHECK(op_named(prefill, "embedding").weight_bytes == 262'144.0);
  // Token ids are int32: decode 1 * 4 = 4 B; prefill 32 * 4 = 128 B.
  CHECK(op_named(decode, "embedding").external_read_bytes == 4.0);
  CHECK(op_named(prefill, "embedding").external_read_bytes == 128.0);

  SECTION("fp32 weights read twice the bytes") {
    ModelSpec fp32 = bf16;
    fp32.weight_dtype = Dtype::kFp32;
    const WorkloadGraph graph = dfsim::build_decoder_graph(fp32, kDecode);
    // 4096 * 4096 * 4 B = 67,108,864 B.
    CHECK(op_named(graph, "layer0.q_proj").weight_bytes == 67'108'864.0);
    // Norm weights stay in the activation dtype (bf16): 4096 * 2 = 8,192 B.
    CHECK(op_named(graph, "layer0.attn_norm").weight_bytes == 8'192.0);
    // FLOPs do not depend on the storage dtype: still 33,554,432.
    CHECK(op_named(graph, "layer0.q_proj").flops == 33'554'432.0);
  }

  SECTION("the same through a catalog override") {
    const ModelSpec loaded = dfsim::load_model_spec("llama2-7b", {{"model.weight_dtype", "fp32"}});
    CHECK(loaded.weight_dtype == Dtype::kFp32);
    const WorkloadGraph graph = dfsim::build_decoder_graph(loaded, kDecode);
    CHECK(op_named(graph, "layer0.q_proj").weight_bytes == 67'108'864.0);
  }

  // KV-cache read of attention_scores: batch * (past + new) * kv_width * 2 B.
  // decode: 1 * (127 + 1) * 4096 * 2 = 1,048,576 B; prefill: 2 * (0 + 16) * 4096 * 2 = 262,144 B.
  // attention_values reads the V half: the same amounts.
  CHECK(op_named(decode, "layer0.attention_scores").cache_read_bytes == 1'048'576.0);
  CHECK(op_named(decode, "layer0.attention_values").cache_read_bytes == 1'048'576.0);
  CHECK(op_named(prefill, "layer0.attention_scores").cache_read_bytes == 262'144.0);
  CHECK(op_named(prefill, "layer0.attention_values").cache_read_bytes == 262'144.0);
  CHECK(op_named(decode, "layer0.softmax").cache_read_bytes == 0.0);

  // kv_append writes K and V of the new tokens: 2 * T * kv_width * 2 B.
  // decode: 2 * 1 * 4096 * 2 = 16,384 B; prefill: 2 * 32 * 4096 * 2 = 524,288 B.
  CHECK(op_named(decode, "layer0.kv_append").cache_write_bytes == 16'384.0);
  CHECK(op_named(prefill, "layer0.kv_append").cache_write_bytes == 524'288.0);
  CHECK(op_named(decode, "layer0.kv_append").cache_read_bytes == 0.0);

  // Logits leave the graph in fp32: rows * vocab * 4 B.
  // decode: 1 * 32000 * 4 = 128,000 B; prefill (batch rows only): 2 * 32000 * 4 = 256,000 B.
  CHECK(op_named(decode, "lm_head").m == 1);
  CHECK(op_named(decode, "lm_head").external_write_bytes == 128'000.0);
  CHECK(op_named(prefill, "lm_head").external_write_bytes == 256'000.0);
  // lm_head weights: 32000 * 4096 * 2 = 262,144,000 B.
  CHECK(op_named(decode, "lm_head").weight_bytes == 262'144'000.0);
}

TEST_CASE("quantized weight bytes include their scales, Llama-2-7B shapes", "[graph][dtype]") {
  auto bytes = [](const std::string& dtype, const std::string& op, const std::string& group = "") {
    std::vector<dfsim::Override> set{{"model.weight_dtype", dtype}};
    if (!group.empty()) set.push_back({"model.weight_group_size", group});
    const ModelSpec model = dfsim::load_model_spec("llama2-7b", set);
    return op_named(dfsim::build_decoder_graph(model, kDecode), op).weight_bytes;
  };
  // q_proj is [k 4096, n 4096]: 16,777,216 weights.
  // int4, default group 128: 16,777,216 x 0.5 = 8,388,608 + 32 groups x 4096 channels x 4 B
  // (scale + zero point) = 524,288: 8,912,896 B.
  CHECK(bytes("int4", "layer0.q_proj") == 8'912'896.0);
  // int4, group 32 (gpt-fast's int4 row): 8,388,608 + 128 x 4096 x 4 = 2,097,152: 10,485,760.
  CHECK(bytes("int4", "layer0.q_proj", "32") == 10'485'760.0);
  // down_proj [k 11008, n 4096], int4 group 128: 11008 x 4096 x 0.5 = 22,544,384 + 86 groups x
  // 4096 x 4 = 1,409,024: 23,953,408 B; group 1000 (not dividing k): ceil(11008/1000) = 12
  // groups: 22,544,384 + 12 x 4096 x 4 = 196,608: 22,740,992 B.
  CHECK(bytes("int4", "layer0.down_proj") == 23'953'408.0);
  CHECK(bytes("int4", "layer0.down_proj", "1000") == 22'740'992.0);
  // int8, per channel by default: 16,777,216 + 4096 x 2 B = 16,785,408.
  CHECK(bytes("int8", "layer0.q_proj") == 16'785'408.0);
  // llama.cpp blocks: q4_0 16,777,216 x 18/32 = 9,437,184; q8_0 x 34/32 = 17,825,792.
  CHECK(bytes("q4_0", "layer0.q_proj") == 9'437'184.0);
  CHECK(bytes("q8_0", "layer0.q_proj") == 17'825'792.0);
  // f16 is fp16: 2 B; the norm stays in the activation dtype (fp16 in the catalog: 8,192 B).
  CHECK(bytes("f16", "layer0.q_proj") == 33'554'432.0);
  CHECK(bytes("q4_0", "layer0.attn_norm") == 8'192.0);
  // Weight-only quantizers leave the embedding and the LM head in the activation dtype (fp16
  // here): one embedding row 4096 x 2 = 8,192 B, lm_head 4096 x 32000 x 2 = 262,144,000 B.
  CHECK(bytes("int4", "embedding") == 8'192.0);
  CHECK(bytes("int8", "lm_head") == 262'144'000.0);
  CHECK(bytes("fp8", "lm_head") == 262'144'000.0);
  // llama.cpp's files quantize them: q4_0 lm_head 131,072,000 x 18/32 = 73,728,000 B.
  CHECK(bytes("q4_0", "lm_head") == 73'728'000.0);
  // Asked for explicitly: int4 at the default group 128: 131,072,000 x 0.5 + 32 groups x 32000
  // x 4 = 4,096,000: 69,632,000 B.
  {
    const ModelSpec model = dfsim::load_model_spec(
        "llama2-7b", {{"model.weight_dtype", "int4"}, {"model.lm_head_dtype", "int4"}});
    CHECK(op_named(dfsim::build_decoder_graph(model, kDecode), "lm_head").weight_bytes ==
          69'632'000.0);
  }

  SECTION("the weights to dequantize are counted in their format") {
    const ModelSpec model = dfsim::load_model_spec("llama2-7b", {{"model.weight_dtype", "int4"}});
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, kDecode);
    const Op& q = op_named(graph, "layer0.q_proj");
    CHECK(q.weight_dtype == Dtype::kInt4);
    CHECK(q.weight_elements == 16'777'216.0);
    CHECK(op_named(graph, "layer0.attn_norm").weight_dtype == Dtype::kFp16);
  }
  SECTION("a block format's size is fixed") {
    CHECK_THROWS_WITH(dfsim::load_model_spec("llama2-7b", {{"model.weight_dtype", "q4_0"},
                                                           {"model.weight_group_size", "64"}}),
                      Catch::Contains("weight_group_size: q4_0 has fixed blocks of 32 weights"));
  }
  SECTION("every catalog workload takes every weight format") {
    for (const auto& entry : dfsim::list_configs(dfsim::ConfigKind::kWorkload)) {
      for (const char* dtype : {"fp32", "fp16", "bf16", "fp8", "int8", "int4", "q8_0", "q4_0"}) {
        const ModelSpec model = dfsim::load_model_spec(entry.path, {{"model.weight_dtype", dtype}});
        const WorkloadGraph graph = dfsim::build_decoder_graph(model, kDecode);
        CHECK(op_named(graph, "lm_head").weight_bytes > 0);
      }
    }
  }
}

TEST_CASE("the llama2-7b catalog entry has the Llama-2-7B shapes", "[graph]") {
  const ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  CHECK(model.hidden_size == 4096);
  CHECK(model.intermediate_size == 11008);
  CHECK(model.num_layers == 32);
  CHECK(model.q_width() == 4096);
  CHECK(model.kv_width() == 4096);
  CHECK(model.vocab_size == 32000);
  // fp16 is 2 bytes, like bf16: the same decode numbers as the bf16 spec above.
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, kDecode);
  CHECK(op_named(graph, "layer0.q_proj").weight_bytes == 33'554'432.0);
  CHECK(op_named(graph, "layer0.attention_scores").flops == 1'052'672.0);
}

TEST_CASE("parameter counts of published Llama checkpoints", "[graph]") {
  // Parameters do not depend on the step shape; use a decode step.
  const StepShape step{1, 1, 0, false};

  SECTION("Llama-2-7B") {
    // embeddings 32000 * 4096                          =   131,072,000
    // lm_head    32000 * 4096 (untied)                 =   131,072,000
    // per layer: q,k,v,o 4 * 4096^2 = 4 * 16,777,216   =    67,108,864
    //            gate,up,down 3 * 4096 * 11008         =   135,266,304
    //            two norms 2 * 4096                    =         8,192
    //            layer total                           =   202,383,360
    // 32 layers: 32 * 202,383,360                      = 6,476,267,520
    // final norm                                       =         4,096
    // total 6,476,267,520 + 2 * 131,072,000 + 4,096    = 6,738,415,616
    const WorkloadGraph graph =
        dfsim::build_decoder_graph(dfsim::load_model_spec("llama2-7b", {}), step);
    CHECK(graph.total_parameters() == 6'738'415'616);
    CHECK(op_named(graph, "layer0.q_proj").parameters == 16'777'216);
    CHECK(op_named(graph, "lm_head").parameters == 131'072'000);
  }

  SECTION("Llama-3.2-1B, tied embeddings") {
    // h 2048, I 8192, 16 layers, 32 heads x 64 = q_width 2048, 8 KV heads x 64 = kv_width 512,
    // vocab 128256; lm_head shares the embedding matrix, so it is counted once.
    // embeddings 128256 * 2048                         =   262,668,288
    // per layer: q 2048*2048 = 4,194,304, k 2048*512 = 1,048,576, v 1,048,576, o 4,194,304
    //            attention                             =    10,485,760
    //            gate,up,down 3 * 2048 * 8192          =    50,331,648
    //            two norms 2 * 2048                    =         4,096
    //            layer total                           =    60,821,504
    // 16 layers: 16 * 60,821,504                       =   973,144,064
    // final norm                                       =         2,048
    // total 973,144,064 + 262,668,288 + 2,048          = 1,235,814,400
    const WorkloadGraph graph =
        dfsim::build_decoder_graph(dfsim::load_model_spec("llama3.2-1b", {}), step);
    CHECK(graph.total_parameters() == 1'235'814'400);
    CHECK(op_named(graph, "lm_head").parameters == 0);
    // The tied lm_head still reads its weights every step: 128256 * 2048 * 2 B = 525,336,576 B.
    CHECK(op_named(graph, "lm_head").weight_bytes == 525'336'576.0);
  }

  SECTION("Llama-3.1-8B") {
    // h 4096, I 14336, 32 layers, q_width 32*128 = 4096, kv_width 8*128 = 1024, vocab 128256.
    // embeddings 128256 * 4096                         =   525,336,576
    // lm_head    128256 * 4096 (untied)                =   525,336,576
    // per layer: q 4096^2 = 16,777,216, k 4096*1024 = 4,194,304, v 4,194,304, o 16,777,216
    //            attention                             =    41,943,040
    //            gate,up,down 3 * 4096 * 14336         =   176,160,768
    //            two norms 2 * 4096                    =         8,192
    //            layer total                           =   218,112,000
    // 32 layers: 32 * 218,112,000                      = 6,979,584,000
    // final norm                                       =         4,096
    // total 6,979,584,000 + 2 * 525,336,576 + 4,096    = 8,030,261,248
    const WorkloadGraph graph =
        dfsim::build_decoder_graph(dfsim::load_model_spec("llama3.1-8b", {}), step);
    CHECK(graph.total_parameters() == 8'030'261'248);
  }
}

TEST_CASE("decode FLOPs of tiny-llama sum to 2 x matmul parameters + attention + elementwise",
          "[graph]") {
  // tiny-llama: h 64, I 128, 2 layers, 4 heads, 2 KV heads, head_dim 16 (q_width 64,
  // kv_width 32), vocab 256, untied. Decode: batch 1, 1 new token, past 7.
  const ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 7, false});

  // Matmul parameters per layer: q 64*64 = 4,096, k 64*32 = 2,048, v 2,048, o 4,096,
  // gate 64*128 = 8,192, up 8,192, down 8,192 -> 36,864; two layers 73,728;
  // lm_head 64*256 = 16,384 -> 90,112. One row each: 2 * 90,112 = 180,224 FLOPs.
  const double matmul = 180'224;
  // Attention per layer: S = 1*7 + 1 = 8 pairs per head, 8 * 1 * 4 heads = 32 pairs.
  // scores (2*16+1) * 32 = 1,056; softmax 5 * 32 = 160; values 2*16*32 = 1,024 -> 2,240.
  // Two layers: 4,480.
  const double attention = 4'480;
  // Elementwise per layer: two rmsnorms 2 * (4*64 + 3) = 518; rope 3 * (64 + 32) = 288;
  // swiglu 5 * 128 = 640; two adds 2 * 64 = 128 -> 1,574. Two layers: 3,148.
  // final_norm 4*64 + 3 = 259. embedding and kv_append: 0.
  const double elementwise = 3'148 + 259;
  // Total: 180,224 + 4,480 + 3,407 = 188,111.
  REQUIRE(matmul + attention + elementwise == 188'111.0);
  CHECK(graph.total_flops() == 188'111.0);

  // The matmul part alone: 2 * 90,112 = 180,224 from projections, plus the attention matmuls
  // 2 * (1,024 + 1,024) = 4,096 -> 184,320.
  double matmul_flops = 0;
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    matmul_flops += graph.op(id).matmul_flops;
  }
  CHECK(matmul_flops == 184'320.0);
  // Parameters: 90,112 matmul + embedding 256*64 = 16,384 + 5 norms * 64 = 320 -> 106,816.
  CHECK(graph.total_parameters() == 106'816);
}

TEST_CASE("graph structure of tiny-llama: op count, order, kinds", "[graph]") {
  const ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 7, false});

  // Per layer the builder adds 17 ops: attn_norm, q_proj, k_proj, v_proj, rope, kv_append,
  // attention_scores, softmax, attention_values, o_proj, attn_residual, mlp_norm, gate_proj,
  // up_proj, swiglu, down_proj, mlp_residual. Total: 1 embedding + 2 * 17 + final_norm +
  // lm_head = 37.
  CHECK(graph.op_count() == 37);
  const char* const layer_roles[] = {
      "attn_norm",        "q_proj",  "k_proj",           "v_proj",    "rope",          "kv_append",
      "attention_scores", "softmax", "attention_values", "o_proj",    "attn_residual", "mlp_norm",
      "gate_proj",        "up_proj", "swiglu",           "down_proj", "mlp_residual"};
  REQUIRE(std::size(layer_roles) == 17);
  CHECK(graph.op(0).name == "embedding");
  for (int layer = 0; layer < 2; ++layer) {
    for (std::size_t i = 0; i < 17; ++i) {
      const Op& op = graph.op(1 + 17 * layer + i);
      CHECK(op.role == layer_roles[i]);
      CHECK(op.layer == layer);
      CHECK(op.name == "layer" + std::to_string(layer) + "." + layer_roles[i]);
    }
  }
  CHECK(graph.op(35).name == "final_norm");
  CHECK(graph.op(36).name == "lm_head");
  CHECK(graph.op(35).layer == -1);

  // Ops of each kind: 7 matmuls per layer + lm_head = 15; 2 norms per layer + final = 5;
  // 2 adds per layer = 4; one of each attention op, rope, kv_append, swiglu per layer = 2.
  std::map<OpKind, int> kinds;
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) ++kinds[graph.op(id).kind];
  CHECK(kinds[OpKind::kEmbedding] == 1);
  CHECK(kinds[OpKind::kMatMul] == 15);
  CHECK(kinds[OpKind::kRmsNorm] == 5);
  CHECK(kinds[OpKind::kAdd] == 4);
  CHECK(kinds[OpKind::kRope] == 2);
  CHECK(kinds[OpKind::kKvAppend] == 2);
  CHECK(kinds[OpKind::kAttentionScores] == 2);
  CHECK(kinds[OpKind::kSoftmax] == 2);
  CHECK(kinds[OpKind::kAttentionValues] == 2);
  CHECK(kinds[OpKind::kSwiGlu] == 2);

  // Vertex order is a topological order: every edge goes to a higher vertex index.
  const auto& g = graph.graph();
  std::size_t edges = 0;
  for (auto [it, end] = boost::edges(g); it != end; ++it) {
    CHECK(boost::source(*it, g) < boost::target(*it, g));
    ++edges;
  }
  // Edges per layer: x->attn_norm, attn_norm->{q,k,v} (3), q->rope, k->rope, rope->kv_append,
  // v->kv_append, rope->scores, kv_append->scores, scores->softmax, softmax->values,
  // kv_append->values, values->o_proj, o_proj->attn_residual, x->attn_residual,
  // attn_residual->mlp_norm, mlp_norm->{gate,up} (2), gate->swiglu, up->swiglu,
  // swiglu->down, down->mlp_residual, attn_residual->mlp_residual
  // = 1 + 3 + 2 + 2 + 2 + 3 + 1 + 1 + 1 + 1 + 2 + 2 + 1 + 1 + 1 = 24.
  // Plus mlp_residual->final_norm and final_norm->lm_head: 2 * 24 + 2 = 50.
  CHECK(edges == 50);
  // Every op but the embedding has a producer, every op but lm_head a consumer.
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    if (id != 0) CHECK(boost::in_degree(id, g) > 0);
    if (id != 36) CHECK(boost::out_degree(id, g) > 0);
  }

  // topological_order() lists every op once, producers before consumers.
  const std::vector<WorkloadGraph::OpId> order = graph.topological_order();
  REQUIRE(order.size() == 37);
  std::vector<std::size_t> position(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (auto [it, end] = boost::edges(g); it != end; ++it) {
    CHECK(position[boost::source(*it, g)] < position[boost::target(*it, g)]);
  }
}

TEST_CASE("standalone bytes of an op are weights + cache + external + inputs + outputs",
          "[graph]") {
  const ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 7, false});
  // Decode, T = 1; activations are bf16 (2 B), a [1, 64] row is 128 B, [1, 32] is 64 B.

  // embedding: weights 1 * 64 * 2 = 128, token id 4, output layer0.input 128 (read by
  // attn_norm and attn_residual but written once) -> 260.
  CHECK(graph.output_bytes(find_op(graph, "embedding")) == 128.0);
  CHECK(graph.standalone_bytes(find_op(graph, "embedding")) == 260.0);
  // attn_norm: weight 64 * 2 = 128, input 128, output attn_norm.out 128 (three consumers,
  // one write) -> 384.
  CHECK(graph.standalone_bytes(find_op(graph, "layer0.attn_norm")) == 384.0);
  // q_proj: weights 64 * 64 * 2 = 8,192, input 128, output q [1, 64] 128 -> 8,448.
  CHECK(graph.standalone_bytes(find_op(graph, "layer0.q_proj")) == 8'448.0);
  // k_proj: weights 64 * 32 * 2 = 4,096, input 128, output k [1, 32] 64 -> 4,288.
  CHECK(graph.standalone_bytes(find_op(graph, "layer0.k_proj")) == 4'288.0);
  // kv_append: cache write 2 * 1 * 32 * 2 = 128, inputs k_rotated 64 + v 64, outputs are
  // zero-byte ordering dependencies -> 256.
  CHECK(graph.output_bytes(find_op(graph, "layer0.kv_append")) == 0.0);
  CHECK(graph.standalone_bytes(find_op(graph, "layer0.kv_append")) == 256.0);
  // attention_scores: K cache 1 * 8 * 32 * 2 = 512, q_rotated [1, 64] 128, scores
  // [1, 4, 1, 8] = 32 elements * 2 = 64 -> 704.
  CHECK(graph.input_bytes(find_op(graph, "layer0.attention_scores")) == 128.0);
  CHECK(graph.output_bytes(find_op(graph, "layer0.attention_scores")) == 64.0);
  CHECK(graph.standalone_bytes(find_op(graph, "layer0.attention_scores")) == 704.0);
  // softmax: scores 64 in, probabilities 64 out -> 128.
  CHECK(graph.standalone_bytes(find_op(graph, "layer0.softmax")) == 128.0);
  // mlp_residual: inputs down 128 + hidden 128, output layer1.input 128 (two consumers) -> 384.
  CHECK(graph.standalone_bytes(find_op(graph, "layer0.mlp_residual")) == 384.0);
  // lm_head: weights 256 * 64 * 2 = 32,768, logits 1 * 256 * 4 = 1,024, input 128, no
  // output edge -> 33,920.
  CHECK(graph.standalone_bytes(find_op(graph, "lm_head")) == 33'920.0);

  // The identity for every op.
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    INFO(op.name);
    CHECK(graph.standalone_bytes(id) ==
          op.weight_bytes + op.cache_read_bytes + op.cache_write_bytes + op.external_read_bytes +
              op.external_write_bytes + graph.input_bytes(id) + graph.output_bytes(id));
  }
}

// A serving iteration: two decoding sequences at different contexts in one step (StepShape's
// groups). Llama-2-7B shapes: h 4096, 32 heads of 128 (kv_width 4096), bf16.
TEST_CASE("a step of two sequences at different contexts: matmuls over both, attention at each",
          "[graph][serving]") {
  const ModelSpec model = llama2_7b_bf16();
  StepShape step;
  step.groups = {{.count = 1, .new_tokens = 1, .past = 127, .logits = true},
                 {.count = 1, .new_tokens = 1, .past = 511, .logits = true}};
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, step);

  // Matmuls over the sum of the tokens, T = 2: q_proj 2 T h h = 2 x 2 x 4096 x 4096.
  CHECK(op_named(graph, "layer0.q_proj").flops == 67108864.0);
  CHECK(op_named(graph, "layer0.q_proj").m == 2);
  // KV append of both tokens: 2 (K and V) x T x 4096 x 2 B = 32768 B.
  CHECK(op_named(graph, "layer0.kv_append").cache_write_bytes == 32768.0);
  // Sequence 0: 127 cached + itself = 128 keys; 32 heads: 4096 (query, key) pairs.
  // q.k: 2 x 128 x 4096 = 1048576, plus the scale, one per pair: 1052672. K read: 128 keys x
  // 4096 x 2 B = 1048576 B.
  const Op& first = op_named(graph, "layer0.attention_scores");
  CHECK(first.n == 128);
  CHECK(first.groups == 32);
  CHECK(first.flops == 1052672.0);
  CHECK(first.cache_read_bytes == 1048576.0);
  // Sequence 1: 512 keys, 16384 pairs: 2 x 128 x 16384 = 4194304 + 16384 = 4210688 FLOPs;
  // 512 x 4096 x 2 B = 4194304 B of K. Its ops follow the first sequence's.
  std::vector<const Op*> scores;
  double values_bytes = 0;
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    if (op.layer == 0 && op.kind == OpKind::kAttentionScores) scores.push_back(&op);
    if (op.layer == 0 && op.kind == OpKind::kAttentionValues) values_bytes += op.cache_read_bytes;
  }
  REQUIRE(scores.size() == 2);
  CHECK(scores[1]->n == 512);
  CHECK(scores[1]->flops == 4210688.0);
  CHECK(scores[1]->cache_read_bytes == 4194304.0);
  // V of both: 1048576 + 4194304 B.
  CHECK(values_bytes == 5242880.0);
  // Both sample: LM head over 2 rows, 2 x 2 x 4096 x 32000 FLOPs, 2 x 32000 fp32 logits.
  CHECK(op_named(graph, "lm_head").flops == 524288000.0);
  CHECK(op_named(graph, "lm_head").external_write_bytes == 256000.0);
}

TEST_CASE("a prompt chunk that does not end its prompt samples nothing", "[graph][serving]") {
  const ModelSpec model = llama2_7b_bf16();
  StepShape step;
  // A decode at context 100 and a 16-token chunk at 64 whose prompt goes on.
  step.groups = {{.count = 1, .new_tokens = 1, .past = 100, .logits = true},
                 {.count = 1, .new_tokens = 16, .past = 64, .logits = false}};
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, step);
  // 17 tokens through the matmuls: q_proj 2 x 17 x 4096 x 4096.
  CHECK(op_named(graph, "layer0.q_proj").flops == 570425344.0);
  // The head runs on the decode's position only: 2 x 1 x 4096 x 32000.
  CHECK(op_named(graph, "lm_head").flops == 262144000.0);
  // The chunk's causal pairs: 16 x 64 + 16 x 17 / 2 = 1160 per head, x 32 heads = 37120;
  // q.k 2 x 128 x 37120 = 9502720 + 37120 scale = 9539840.
  bool found = false;
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    if (op.layer == 0 && op.kind == OpKind::kAttentionScores && op.m == 16) {
      CHECK(op.flops == 9539840.0);
      CHECK(op.n == 80);
      found = true;
    }
  }
  CHECK(found);

  step.groups = {{.count = 2, .new_tokens = 16, .past = 0, .logits = false}};
  const WorkloadGraph chunks = dfsim::build_decoder_graph(model, step);
  for (WorkloadGraph::OpId id = 0; id < chunks.op_count(); ++id) {
    CHECK(chunks.op(id).role != "lm_head");
  }
}

TEST_CASE("a uniform batch given as one group is the uniform step", "[graph][serving]") {
  const ModelSpec model = llama2_7b_bf16();
  for (const StepShape& uniform : {StepShape{4, 1, 100, false}, StepShape{2, 16, 0, true}}) {
    StepShape grouped;
    grouped.groups = {{.count = uniform.batch,
                       .new_tokens = uniform.new_tokens,
                       .past = uniform.past,
                       .logits = true}};
    for (int ranks : {1, 2}) {
      const WorkloadGraph a = dfsim::build_decoder_graph(model, uniform, ranks);
      const WorkloadGraph b = dfsim::build_decoder_graph(model, grouped, ranks);
      REQUIRE(a.op_count() == b.op_count());
      for (WorkloadGraph::OpId id = 0; id < a.op_count(); ++id) {
        const Op& x = a.op(id);
        const Op& y = b.op(id);
        CHECK(x.name == y.name);
        CHECK(x.flops == y.flops);
        CHECK(x.m == y.m);
        CHECK(x.n == y.n);
        CHECK(x.k == y.k);
        CHECK(x.groups == y.groups);
        CHECK(x.weight_bytes == y.weight_bytes);
        CHECK(x.cache_read_bytes == y.cache_read_bytes);
        CHECK(x.cache_write_bytes == y.cache_write_bytes);
        CHECK(x.external_write_bytes == y.external_write_bytes);
        CHECK(x.collective_bytes == y.collective_bytes);
        CHECK(a.input_bytes(id) == b.input_bytes(id));
        CHECK(a.output_bytes(id) == b.output_bytes(id));
      }
    }
  }
}
