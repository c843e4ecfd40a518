// Kernel formation and GPU tiling against hand derivations. Every expected number is written
// out in the comment next to it; none is computed with the mapper's formulas.
#include <catch2/catch.hpp>

#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/config/catalog.h"
#include "sim/mapping/dequantization.h"
#include "sim/mapping/gpu_mapper.h"
#include "sim/mapping/kernel_formation.h"
#include "sim/mapping/mapper.h"
#include "sim/workload/workload_graph.h"

using dfsim::GpuSpec;
using dfsim::Kernel;
using dfsim::ModelSpec;
using dfsim::Program;
using dfsim::StepShape;
using dfsim::WorkloadGraph;

namespace {

GpuSpec h100() {
  const dfsim::HwConfig hw = dfsim::load_hw_config("h100-sxm", {});
  REQUIRE(hw.gpu() != nullptr);
  return *hw.gpu();
}

const Kernel& kernel_named(const Program& program, const std::string& name) {
  for (const Kernel& kernel : program.kernels) {
    if (kernel.name == name) return kernel;
  }
  FAIL("no kernel named " << name);
  throw std::logic_error("unreachable");
}

WorkloadGraph::OpId find_op(const WorkloadGraph& graph, const std::string& name) {
  for (WorkloadGraph::OpId id = 0; id < graph.op_count(); ++id) {
    if (graph.op(id).name == name) return id;
  }
  FAIL("no op named " << name);
  throw std::logic_error("unreachable");
}

double total_weight_bytes(const WorkloadGraph& graph, const Program& program) {
  double bytes = 0;
  for (const Kernel& kernel : program.kernels) {
    for (std::size_t id : kernel.ops) bytes += graph.op(id).weight_bytes;
  }
  return bytes;
}

const char* const kLayerKernels[] = {"attn_norm", "qkv_proj",      "rope_kv_append", "attention",
                                     "o_proj",    "residual_norm", "gate_up_proj",   "swiglu",
                                     "down_proj", "mlp_residual"};
// Graph ops fused into each of the kernels above: q/k/v, rope+kv_append,
// scores+softmax+values, attn_residual+mlp_norm, gate+up; the others one op each.
const std::size_t kLayerKernelOps[] = {1, 3, 2, 3, 1, 2, 2, 1, 1, 1};

void check_kernel_list(const Program& program, int layers) {
  REQUIRE(std::size(kLayerKernels) == 10);
  // 10 kernels per layer + embedding, final_norm, lm_head.
  REQUIRE(program.kernels.size() == static_cast<std::size_t>(10 * layers + 3));
  CHECK(program.kernels.front().name == "embedding");
  CHECK(program.kernels.front().layer == -1);
  for (int layer = 0; layer < layers; ++layer) {
    for (std::size_t i = 0; i < 10; ++i) {
      const Kernel& kernel = program.kernels[1 + 10 * layer + i];
      CHECK(kernel.name == "layer" + std::to_string(layer) + "." + kLayerKernels[i]);
      CHECK(kernel.role == kLayerKernels[i]);
      CHECK(kernel.layer == layer);
      CHECK(kernel.ops.size() == kLayerKernelOps[i]);
    }
  }
  CHECK(program.kernels[program.kernels.size() - 2].name == "final_norm");
  CHECK(program.kernels.back().name == "lm_head");
  // Every op lands in exactly one kernel, in graph order.
  std::size_t next = 0;
  for (const Kernel& kernel : program.kernels) {
    for (std::size_t id : kernel.ops) CHECK(id == next++);
  }
  CHECK(next == static_cast<std::size_t>(17 * layers + 3));
}

}  // namespace

TEST_CASE("h100-sxm has 132 SMs", "[mapper]") {
  CHECK(h100().sm_count == 132);
}

TEST_CASE("GPU kernels of a tiny-llama decode step", "[mapper]") {
  // tiny-llama: h 64, I 128, 2 layers, 4 heads / 2 KV heads of 16 (q_width 64, kv_width 32),
  // vocab 256, bf16. Decode: batch 1, 1 new token, past 7 (8 keys).
  const ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 7, false});
  const Program program = dfsim::map_to_gpu(graph, h100());

  SECTION("kernel names and fused ops") {
    check_kernel_list(program, 2);
  }

  SECTION("FLOPs and weight bytes are conserved") {
    // Total 188,111 FLOPs (derived in test_workload_graph.cpp: 180,224 projections +
    // 4,480 attention + 3,407 elementwise).
    double flops = 0, matmul_flops = 0;
    for (const Kernel& kernel : program.kernels) {
      flops += kernel.flops;
      matmul_flops += kernel.matmul_flops;
    }
    CHECK(flops == graph.total_flops());
    CHECK(flops == 188'111.0);
    // Tensor-core part: 180,224 projections + 2 layers * (1,024 + 1,024) attention = 184,320.
    CHECK(matmul_flops == 184'320.0);
    // Weights: matmuls 2 B * 90,112 parameters = 180,224; 5 norms * 64 * 2 = 640; embedding
    // row 64 * 2 = 128 -> 180,992.
    CHECK(total_weight_bytes(graph, program) == 180'992.0);
  }

  SECTION("DRAM bytes of each kernel of layer 0") {
    // Rows are bf16: [1, 64] = 128 B, [1, 32] = 64 B, [1, 128] = 256 B.
    struct Expected {
      const char* name;
      double read, write;
    };
    const Expected expected[] = {
        // weights 1*64*2 = 128 + token id 4; writes layer0.input once.
        {"embedding", 132, 128},
        // weight 128 + input 128; writes attn_norm.out 128.
        {"layer0.attn_norm", 256, 128},
        // weights q 8,192 + k 4,096 + v 4,096 + attn_norm.out once 128 = 16,512;
        // writes q 128 + k 64 + v 64 = 256.
        {"layer0.qkv_proj", 16'512, 256},
        // reads q 128 + k 64 + v 64 = 256 (k_rotated stays inside); writes the cache
        // 2 * 1 * 32 * 2 = 128 and q_rotated 128 = 256.
        {"layer0.rope_kv_append", 256, 256},
        // K cache 1*8*32*2 = 512 + V cache 512 + q_rotated 128 = 1,152; writes attention 128.
        {"layer0.attention", 1'152, 128},
        // weights 64*64*2 = 8,192 + input 128; writes o 128.
        {"layer0.o_proj", 8'320, 128},
        // o 128 + layer0.input 128 + mlp_norm weight 128 = 384; writes hidden 128 (read again
        // by mlp_residual) + mlp_norm.out 128 = 256.
        {"layer0.residual_norm", 384, 256},
        // weights 2 * 64*128*2 = 32,768 + mlp_norm.out once 128; writes gate 256 + up 256.
        {"layer0.gate_up_proj", 32'896, 512},
        // gate 256 + up 256; writes 256.
        {"layer0.swiglu", 512, 256},
        // weights 128*64*2 = 16,384 + input 256; writes 128.
        {"layer0.down_proj", 16'640, 128},
        // down 128 + hidden 128; writes layer1.input once 128.
        {"layer0.mlp_residual", 256, 128},
        // weight 128 + input 128; writes 128.
        {"final_norm", 256, 128},
        // weights 256*64*2 = 32,768 + input 128; writes fp32 logits 1*256*4 = 1,024.
        {"lm_head", 32'896, 1'024},
    };
    for (const Expected& e : expected) {
      INFO(e.name);
      const Kernel& kernel = kernel_named(program, e.name);
      CHECK(kernel.dram_read_bytes == e.read);
      CHECK(kernel.dram_write_bytes == e.write);
    }
    // Whole step. Layer reads: 256 + 16,512 + 256 + 1,152 + 8,320 + 384 + 32,896 + 512 +
    // 16,640 + 256 = 77,184; layer writes: 128 + 256 + 256 + 128 + 128 + 256 + 512 + 256 +
    // 128 + 128 = 2,176. Reads 132 + 2 * 77,184 + 256 + 32,896 = 187,652;
    // writes 128 + 2 * 2,176 + 128 + 1,024 = 5,632.
    double read = 0, write = 0;
    for (const Kernel& kernel : program.kernels) {
      read += kernel.dram_read_bytes;
      write += kernel.dram_write_bytes;
    }
    CHECK(read == 187'652.0);
    CHECK(write == 5'632.0);
  }

  SECTION("the fused attention kernel keeps scores and probabilities on chip") {
    const Kernel& attention = kernel_named(program, "layer1.attention");
    // 1,152 read + 128 written (above) = 1,280 B.
    CHECK(attention.dram_bytes() == 1'280.0);
    // Run alone, the three ops also write and read scores and probabilities, each
    // [1, 4, 1, 8] = 32 elements * 2 B = 64 B: scores 512 + 128 + 64 = 704, softmax 64 + 64 =
    // 128, values 512 + 64 + 128 = 704 -> 1,536 = 1,280 + 4 * 64.
    double standalone = 0;
    for (std::size_t id : attention.ops) standalone += graph.standalone_bytes(id);
    CHECK(standalone == 1'536.0);
  }

  SECTION("tiling") {
    // Decode matmuls have 1 row: GEMV, one persistent CTA per SM.
    for (const char* name : {"layer0.qkv_proj", "layer1.o_proj", "layer0.gate_up_proj",
                             "layer1.down_proj", "lm_head"}) {
      INFO(name);
      CHECK(kernel_named(program, name).tiles == 132);
      CHECK(kernel_named(program, name).tiles_per_unit == 1);
    }
    // XQA (h100-sxm's decode_attention; bf16 cache: mha.cu): batch 1 x 2 KV heads = 2 pairs;
    // 132 / 2 = 66 sub-sequences wanted, but 8 keys fill at most ceil(8 / 256) = 1 -> 2 CTAs,
    // one per SM.
    CHECK(kernel_named(program, "layer0.attention").tiles == 2);
    CHECK(kernel_named(program, "layer0.attention").tiles_per_unit == 1);
    // Elementwise: ceil(elements / 2048), at least 1; rows of 64 or 128 elements -> 1 tile,
    // 8 resident per SM.
    CHECK(kernel_named(program, "layer0.swiglu").tiles == 1);
    CHECK(kernel_named(program, "layer0.swiglu").tiles_per_unit == 8);
  }
}

TEST_CASE("GPU kernels of a Llama-2-7B decode step", "[mapper]") {
  // llama2-7b: h 4096, I 11008, 32 layers, 32 heads = 32 KV heads of 128, vocab 32000, fp16.
  // Decode: batch 1, 1 new token, past 127 (128 keys).
  const ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false});
  const Program program = dfsim::map_to_gpu(graph, h100());

  check_kernel_list(program, 32);

  // FLOPs: 2 * 6,607,077,376 matmul parameters (6,738,415,616 minus embeddings 131,072,000
  // minus 65 norms * 4096 = 266,240) = 13,214,154,752; attention per layer 1,052,672 +
  // 20,480 + 1,048,576 = 2,121,728, * 32 = 67,895,296; elementwise per layer 2 * 16,387 +
  // 24,576 + 55,040 + 2 * 4,096 = 120,582, * 32 = 3,858,624; final norm 16,387.
  // Total 13,285,925,059.
  double flops = 0;
  for (const Kernel& kernel : program.kernels) flops += kernel.flops;
  CHECK(flops == graph.total_flops());
  CHECK(flops == 13'285'925'059.0);
  // Weights: 6,607,077,376 * 2 B = 13,214,154,752 + norms 266,240 * 2 = 532,480 + embedding
  // row 4096 * 2 = 8,192 -> 13,214,695,424 B.
  CHECK(total_weight_bytes(graph, program) == 13'214'695'424.0);

  // qkv_proj reads the normed activation once: weights 3 * 4096 * 4096 * 2 = 100,663,296 +
  // one [1, 4096] fp16 row 8,192 = 100,671,488 (three reads would be 100,687,872).
  const Kernel& qkv = kernel_named(program, "layer7.qkv_proj");
  CHECK(qkv.dram_read_bytes == 100'671'488.0);
  // Writes q, k, v: 3 * 8,192 = 24,576.
  CHECK(qkv.dram_write_bytes == 24'576.0);
  // The three fused projections: 3 * 33,554,432 = 100,663,296 FLOPs.
  CHECK(qkv.flops == 100'663'296.0);

  // Fused attention: q_rotated [1, 4096] * 2 = 8,192 read; K and V cache 1 * 128 * 4096 * 2 =
  // 1,048,576 each; attention output 8,192 written -> 8,192 + 2,097,152 + 8,192 = 2,113,536.
  const Kernel& attention = kernel_named(program, "layer7.attention");
  CHECK(attention.dram_read_bytes == 2'105'344.0);
  CHECK(attention.dram_write_bytes == 8'192.0);
  CHECK(attention.dram_bytes() == 2'113'536.0);
  // Standalone the ops also move scores and probabilities, each [1, 32, 1, 128] = 4,096
  // elements * 2 B = 8,192 B, written once and read once: 2,113,536 + 4 * 8,192 = 2,146,304.
  double standalone = 0;
  for (std::size_t id : attention.ops) standalone += graph.standalone_bytes(id);
  CHECK(standalone == 2'146'304.0);
  CHECK(graph.standalone_bytes(find_op(graph, "layer7.softmax")) == 16'384.0);

  // Decode GEMV: tiles == sm_count for every matmul kernel.
  for (const Kernel& kernel : program.kernels) {
    if (graph.op(kernel.ops.front()).kind != dfsim::OpKind::kMatMul) continue;
    INFO(kernel.name);
    CHECK(kernel.tiles == 132);
  }
  // FlashDecoding: 1 * 32 heads; ceil(132 / 32) = 5 splits wanted, ceil(128 / 256) = 1
  // allowed -> 32 tiles.
  CHECK(attention.tiles == 32);
  // Elementwise: attn_norm of one 4096 row -> ceil(4096 / 2048) = 2 tiles; rope_kv_append
  // max(rope 1 * 8192, kv_append 1 * 8192) = 8192 -> 4 tiles.
  CHECK(kernel_named(program, "layer7.attn_norm").tiles == 2);
  CHECK(kernel_named(program, "layer7.rope_kv_append").tiles == 4);
}

TEST_CASE("form_kernels with one kernel per op keeps every tensor in DRAM", "[mapper]") {
  const ModelSpec model = dfsim::load_model_spec("tiny-llama", {});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 7, false});
  const std::vector<Kernel> kernels =
      dfsim::form_kernels(graph, [](const dfsim::Op& op) { return op.role; });
  // No two consecutive ops share a role: 37 kernels, one per op.
  REQUIRE(kernels.size() == 37);
  for (std::size_t i = 0; i < kernels.size(); ++i) {
    INFO(kernels[i].name);
    REQUIRE(kernels[i].ops.size() == 1);
    CHECK(kernels[i].dram_bytes() == graph.standalone_bytes(kernels[i].ops.front()));
    CHECK(kernels[i].tiles == 1);  // tiling is left to the mapper
  }
}

TEST_CASE("GEMM tiling of a Llama-2-7B prefill", "[mapper]") {
  const ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  const GpuSpec gpu = h100();

  SECTION("300-token prompt") {
    // Batch 1, 300 new tokens: M = 300 rows > 64, a tensor-core GEMM on 128 x 128 tiles.
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 300, 0, true});
    const Program program = dfsim::map_to_gpu(graph, gpu);
    // qkv_proj: N = 3 * 4096 = 12288 -> ceil(300/128) * ceil(12288/128) = 3 * 96 = 288.
    const Kernel& qkv = kernel_named(program, "layer0.qkv_proj");
    CHECK(qkv.tiles == 288);
    CHECK(qkv.tiles_per_unit == 1);
    // Each tile streams a [128, 4096] activation stripe and a [4096, 128] weight stripe through
    // L2, 2 B each: 288 * 128 * 4096 * (2 + 2) = 603,979,776 B.
    CHECK(qkv.onchip_bytes == 603'979'776.0);
    // o_proj and down_proj: N = 4096 -> 3 * 32 = 96.
    CHECK(kernel_named(program, "layer0.o_proj").tiles == 96);
    CHECK(kernel_named(program, "layer0.down_proj").tiles == 96);
    // gate_up_proj: N = 2 * 11008 = 22016 -> 3 * ceil(22016/128) = 3 * 172 = 516.
    CHECK(kernel_named(program, "layer0.gate_up_proj").tiles == 516);
    // lm_head: logits only for the last position, M = batch = 1 -> GEMV, 132 tiles.
    CHECK(kernel_named(program, "lm_head").tiles == 132);
    // FlashAttention prefill: 1 * 32 heads * ceil(300/128) = 32 * 3 = 96 tiles, 2 per SM.
    CHECK(kernel_named(program, "layer0.attention").tiles == 96);
    CHECK(kernel_named(program, "layer0.attention").tiles_per_unit == 2);
    // swiglu: 300 * 11008 = 3,302,400 elements / 2048 = 1612.5 -> 1,613 tiles.
    CHECK(kernel_named(program, "layer0.swiglu").tiles == 1'613);
  }

  SECTION("short prompts stay GEMVs") {
    // Batch 2, 16 new tokens: M = 32 rows <= 64 -> GEMV, 132 tiles.
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{2, 16, 0, true});
    const Program program = dfsim::map_to_gpu(graph, gpu);
    CHECK(kernel_named(program, "layer0.qkv_proj").tiles == 132);
    // Attention: 2 * 32 = 64 (sequence, head) pairs * ceil(16/128) = 1 -> 64 tiles.
    CHECK(kernel_named(program, "layer0.attention").tiles == 64);
  }
}

TEST_CASE("FlashDecoding split counts", "[mapper]") {
  const ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  // The generic decode attention (vLLM's FlashAttention is not modelled apart; XQA elsewhere).
  GpuSpec gpu = h100();
  gpu.decode_attention = dfsim::DecodeAttentionKernel::kGeneric;
  auto attention_tiles = [&](std::int64_t batch, std::int64_t past) {
    const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{batch, 1, past, false});
    return kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.attention").tiles;
  };
  // splits = clamp(ceil(132 / (batch * 32)), 1, ceil(keys / 256)); tiles = batch * 32 * splits.
  // Batch 1, 4096 keys: ceil(132/32) = 5 wanted, up to ceil(4096/256) = 16 -> 5; 32 * 5 = 160.
  CHECK(attention_tiles(1, 4095) == 160);
  // Batch 1, 512 keys: 5 wanted, up to ceil(512/256) = 2 -> 2; 32 * 2 = 64.
  CHECK(attention_tiles(1, 511) == 64);
  // Batch 1, 128 keys: at most 1 split -> 32.
  CHECK(attention_tiles(1, 127) == 32);
  // Batch 2, 2048 keys: ceil(132/64) = 3 wanted, up to 8 -> 3; 64 * 3 = 192.
  CHECK(attention_tiles(2, 2047) == 192);
  // Batch 8, 1024 keys: 256 pairs already cover 132 SMs, ceil(132/256) = 1 -> 256.
  CHECK(attention_tiles(8, 1023) == 256);
}

TEST_CASE("Dequantization work of quantized matmuls on a GPU", "[mapper][dtype]") {
  GpuSpec gpu = h100();
  // Pinned here rather than read from the file: 2 slots per int4 weight, int8 and fp8 native.
  gpu.dequant_slots.clear();
  gpu.dequant_slots[dfsim::Dtype::kInt4] = 2.0;
  auto program = [&](const std::string& dtype, StepShape step) {
    const ModelSpec model = dfsim::load_model_spec("llama2-7b", {{"model.weight_dtype", dtype}});
    return dfsim::map_to_gpu(dfsim::build_decoder_graph(model, step), gpu);
  };
  const StepShape decode{1, 1, 127, false};
  const Program int4 = program("int4", decode);
  // Decode GEMV: each weight dequantized once. qkv_proj: 4096 x 12288 = 50,331,648 weights x 2
  // = 100,663,296 slots; the LM head stays in fp16 (the quantizers' convention): none.
  CHECK(kernel_named(int4, "layer0.qkv_proj").dequant_slots == 100'663'296.0);
  CHECK(kernel_named(int4, "lm_head").dequant_slots == 0.0);
  // Norms, attention and elementwise kernels have no quantized weights.
  CHECK(kernel_named(int4, "layer0.attn_norm").dequant_slots == 0.0);
  CHECK(kernel_named(int4, "layer0.attention").dequant_slots == 0.0);
  // Formats the config does not list are native: no dequantization.
  CHECK(kernel_named(program("int8", decode), "layer0.qkv_proj").dequant_slots == 0.0);
  CHECK(kernel_named(program("bf16", decode), "layer0.qkv_proj").dequant_slots == 0.0);
  // A 300-token prefill GEMM: ceil(300/128) = 3 row blocks each dequantize the weights again:
  // 3 x 100,663,296 = 301,989,888.
  const Program prefill = program("int4", StepShape{1, 300, 0, true});
  CHECK(kernel_named(prefill, "layer0.qkv_proj").dequant_slots == 301'989'888.0);
}

TEST_CASE("fp8 weights are converted under torch.compile, native under a serving stack on H100",
          "[mapper][dtype]") {
  GpuSpec gpu = h100();
  // Pinned: 16 slots per fp8 weight (h100-sxm.yaml: Triton's e4m3 -> bf16 on sm_90 and fp32 math).
  gpu.dequant_slots.clear();
  gpu.dequant_slots[dfsim::Dtype::kFp8] = 16.0;
  const ModelSpec model = dfsim::load_model_spec("llama2-7b", {{"model.weight_dtype", "fp8"}});
  const WorkloadGraph graph = dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false});
  // Serving stacks (vLLM, TensorRT-LLM) run fp8 x fp8 on the FP8 tensor cores: nothing to do,
  // and the matmul runs at the FP8 tensor rate (compute dtype fp8); the norms do not.
  gpu.stack = dfsim::GpuStack::kServing;
  CHECK(kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.qkv_proj").dequant_slots == 0.0);
  CHECK(kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.qkv_proj").compute_dtype ==
        dfsim::Dtype::kFp8);
  CHECK(kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.attn_norm").compute_dtype ==
        dfsim::Dtype::kFp16);
  // A 300-token prefill GEMM reads fp8 activation stripes: each of ceil(300 / 128) x
  // ceil(12288 / 128) = 288 tiles reads 128 x 4096 activations and 4096 x 128 weights of 1 byte.
  const WorkloadGraph prefill = dfsim::build_decoder_graph(model, StepShape{1, 300, 0, true});
  const Program prefill_program = dfsim::map_to_gpu(prefill, gpu);
  const dfsim::Kernel& gemm = kernel_named(prefill_program, "layer0.qkv_proj");
  CHECK(gemm.compute_dtype == dfsim::Dtype::kFp8);
  CHECK(gemm.onchip_bytes == 288.0 * 128 * 4096 * 2);
  // Weight-only under torch.compile (torchao float8wo): qkv_proj's 4096 x 12288 = 50,331,648
  // weights x 16 = 805,306,368 slots, once (a GEMV), and the fp16 tensor rate.
  gpu.stack = dfsim::GpuStack::kGptFast;
  CHECK(kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.qkv_proj").dequant_slots ==
        805'306'368.0);
  CHECK(kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.qkv_proj").compute_dtype ==
        dfsim::Dtype::kFp16);
  // A GPU without FP8 tensor cores converts under any stack.
  gpu.stack = dfsim::GpuStack::kServing;
  gpu.tensor_rate.erase(dfsim::Dtype::kFp8);
  CHECK(kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.qkv_proj").dequant_slots ==
        805'306'368.0);
  CHECK(kernel_named(dfsim::map_to_gpu(graph, gpu), "layer0.qkv_proj").compute_dtype ==
        dfsim::Dtype::kFp16);
}

TEST_CASE("One dequantization mechanism: passes over the weights follow the kernel's tiling",
          "[mapper][dtype]") {
  // GPU tiling: GEMV up to 64 rows, 128-row GEMM tiles; Apple (llama.cpp Metal): 64 and 32.
  const dfsim::DequantTiling gpu{.gemv_rows = 64, .tile_rows = 128};
  const dfsim::DequantTiling metal{.gemv_rows = 64, .tile_rows = 32};
  CHECK(dfsim::dequantization_passes(1, gpu) == 1);
  CHECK(dfsim::dequantization_passes(64, gpu) == 1);      // still a GEMV
  CHECK(dfsim::dequantization_passes(65, gpu) == 1);      // ceil(65 / 128)
  CHECK(dfsim::dequantization_passes(300, gpu) == 3);     // ceil(300 / 128)
  CHECK(dfsim::dequantization_passes(300, metal) == 10);  // ceil(300 / 32)
  // 1000 weights at 2.75 slots, 3 passes: 8250 slots.
  CHECK(dfsim::dequantization_slots(300, 1000, 2.75, gpu) == 8250.0);
}

TEST_CASE("gpt-fast's int4 decode GEMVs take tinygemm's grid, residency and bytes in flight",
          "[mapper][dtype]") {
  GpuSpec gpu = h100();
  gpu.stack = dfsim::GpuStack::kGptFast;
  auto program = [&](const std::string& dtype, const std::string& group, StepShape step) {
    const ModelSpec model = dfsim::load_model_spec(
        "llama2-7b", {{"model.weight_dtype", dtype}, {"model.weight_group_size", group}});
    return dfsim::map_to_gpu(dfsim::build_decoder_graph(model, step), gpu);
  };
  const StepShape decode{1, 1, 127, false};
  const Program g32 = program("int4", "32", decode);
  // qkv_proj: q, k, v of 4096 columns each, one 8-column CTA each: 3 x 4096 / 8 = 1536 CTAs,
  // 4 resident per SM (64 registers x 256 threads).
  const Kernel& qkv = kernel_named(g32, "layer0.qkv_proj");
  CHECK(qkv.tiles == 1536);
  CHECK(qkv.tiles_per_unit == 4);
  // Group 32: 0.5 + 4 / 32 = 0.625 B per weight; 4 CTAs x 8 warps x 1024 weights x 0.625 B
  // = 20,480 B.
  CHECK(qkv.inflight_bytes_per_unit == Approx(20480.0));
  // down_proj: 4096 columns / 8 = 512 CTAs (k = 11008 does not change the grid).
  CHECK(kernel_named(g32, "layer0.down_proj").tiles == 512);
  // Group 128: 0.5 + 4 / 128 = 0.53125 B; 32 warps x 1024 x 0.53125 = 17,408 B.
  CHECK(kernel_named(program("int4", "128", decode), "layer0.qkv_proj").inflight_bytes_per_unit ==
        Approx(17408.0));
  // The LM head stays fp16 and bf16/int8 weights run the default GEMV: the machine's figure.
  CHECK(kernel_named(g32, "lm_head").inflight_bytes_per_unit == 0.0);
  CHECK(kernel_named(program("int8", "0", decode), "layer0.qkv_proj").inflight_bytes_per_unit ==
        0.0);
  // gpt-fast launches w1 (gate) and w3 (up) apart for int4: two kernels of 11008 / 8 = 1376
  // CTAs each, no gate_up_proj; bf16 keeps the fused one.
  CHECK(kernel_named(g32, "layer0.gate_proj").tiles == 1376);
  CHECK(kernel_named(g32, "layer0.up_proj").tiles == 1376);
  for (const Kernel& kernel : g32.kernels) CHECK(kernel.role != "gate_up_proj");
  CHECK(kernel_named(program("bf16", "0", decode), "layer0.gate_up_proj").ops.size() == 2);
  // Prefill (300 rows) is a tiled GEMM, not tinygemm's GEMV path: ceil(300/128) x 12288/128 = 288.
  const Program prefill = program("int4", "32", StepShape{1, 300, 0, true});
  CHECK(kernel_named(prefill, "layer0.qkv_proj").tiles == 288);
  CHECK(kernel_named(prefill, "layer0.qkv_proj").inflight_bytes_per_unit == 0.0);
}

TEST_CASE("A serving stack keeps int4 GEMVs whole-SM and gate/up merged", "[mapper][dtype]") {
  GpuSpec gpu = h100();  // no stack key: serving
  REQUIRE(gpu.stack == dfsim::GpuStack::kServing);
  gpu.int4_kernel = dfsim::Int4Kernel::kGeneric;
  const ModelSpec model = dfsim::load_model_spec(
      "llama2-7b", {{"model.weight_dtype", "int4"}, {"model.weight_group_size", "32"}});
  const Program program =
      dfsim::map_to_gpu(dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false}), gpu);
  // One persistent CTA per SM (h100-sxm: 132), the machine's bytes in flight.
  const Kernel& qkv = kernel_named(program, "layer0.qkv_proj");
  CHECK(qkv.tiles == 132);
  CHECK(qkv.inflight_bytes_per_unit == 0.0);
  CHECK(kernel_named(program, "layer0.gate_up_proj").ops.size() == 2);
}

TEST_CASE("A serving stack's int4 GEMVs run as Marlin or Machete with their bytes in flight",
          "[mapper][dtype]") {
  // The shipped choice: vLLM's Marlin on A100, Machete on H100 (compute capability 9.0).
  const dfsim::HwConfig a100 = dfsim::load_hw_config("a100-80gb", {});
  REQUIRE(a100.gpu() != nullptr);
  CHECK(a100.gpu()->int4_kernel == dfsim::Int4Kernel::kMarlin);
  CHECK(h100().int4_kernel == dfsim::Int4Kernel::kMachete);
  CHECK(dfsim::load_hw_config("h200", {}).gpu()->int4_kernel == dfsim::Int4Kernel::kMachete);
  CHECK(dfsim::load_hw_config("h100-sxm", {{"hw.int4_kernel", "generic"}}).gpu()->int4_kernel ==
        dfsim::Int4Kernel::kGeneric);
  CHECK_THROWS_WITH(
      dfsim::load_hw_config("h100-sxm", {{"hw.int4_kernel", "exllama"}}),
      "--set hw.int4_kernel=exllama: int4_kernel: expected one of generic, marlin, machete, got "
      "'exllama'");

  const ModelSpec model = dfsim::load_model_spec("llama2-7b", {{"model.weight_dtype", "int4"}});
  const WorkloadGraph decode = dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false});
  const Program marlin = dfsim::map_to_gpu(decode, *a100.gpu());
  // Group 128 (the int4 default): 0.5 + 4 / 128 = 0.53125 B per weight. Marlin keeps 3 of its 4
  // stages of 128 x 128 weights in flight: 3 x 16384 x 0.53125 = 26,112 B per SM.
  const Kernel& qkv = kernel_named(marlin, "layer0.qkv_proj");
  CHECK(qkv.inflight_bytes_per_unit == Approx(26112.0));
  // One persistent CTA per SM: 4096 / 128 x 12288 / 128 = 3072 tiles >= 108 SMs -> 108.
  CHECK(qkv.tiles == 108);
  CHECK(qkv.tiles_per_unit == 1);
  CHECK_FALSE(qkv.loads_wait_for_math);  // cp.async stages: the next loads overlap the math
  // gate/up stay one kernel (merged weights, as vLLM loads them); the LM head stays bf16.
  CHECK(kernel_named(marlin, "layer0.gate_up_proj").ops.size() == 2);
  CHECK(kernel_named(marlin, "lm_head").inflight_bytes_per_unit == 0.0);
  // Dequantization as before: 4096 x 12288 weights x 1.4 slots (a100 dequant.int4), one pass.
  CHECK(qkv.dequant_slots == Approx(4096.0 * 12288 * 1.4));

  // Machete keeps 31 of its 32 stages of 128 x 64 weights in flight: 31 x 8192 x 0.53125
  // = 134,912 B per SM; 4096 / 64 x 12288 / 128 = 6144 tiles -> 132 SMs.
  const Program machete = dfsim::map_to_gpu(decode, h100());
  const Kernel& h_qkv = kernel_named(machete, "layer0.qkv_proj");
  CHECK(h_qkv.inflight_bytes_per_unit == Approx(134912.0));
  CHECK(h_qkv.tiles == 132);

  // Fewer tiles than SMs: tiny-llama (hidden 64, 4 heads of 16, 2 KV heads) has q 64 x 64,
  // k and v 64 x 32: one 128 x 128 tile each, 3 tiles, so 3 SMs stream.
  const ModelSpec tiny = dfsim::load_model_spec("tiny-llama", {{"model.weight_dtype", "int4"}});
  const Program tiny_program =
      dfsim::map_to_gpu(dfsim::build_decoder_graph(tiny, StepShape{1, 1, 7, false}), *a100.gpu());
  const Kernel& tiny_qkv = kernel_named(tiny_program, "layer0.qkv_proj");
  CHECK(tiny_qkv.tiles == 3);

  // Prefill (300 rows) is a tiled GEMM: no int4 GEMV kernel of its own; it keeps the sm90
  // mainloop's 5 stages in flight: k tile 128 B / 2 B = 64, per stage 64 x (128 x 2 B of
  // activations + 128 x 0.53125 B of int4 weights and scales) = 20,736 B, x 5 = 103,680 B.
  const Program prefill =
      dfsim::map_to_gpu(dfsim::build_decoder_graph(model, StepShape{1, 300, 0, true}), h100());
  CHECK(kernel_named(prefill, "layer0.qkv_proj").inflight_bytes_per_unit == Approx(103680.0));
}

TEST_CASE("gpt-fast's decode attention is three Inductor reductions", "[mapper]") {
  GpuSpec gpu = h100();
  gpu.stack = dfsim::GpuStack::kGptFast;
  const ModelSpec model = dfsim::load_model_spec("llama2-7b", {});
  auto program = [&](StepShape step) {
    return dfsim::map_to_gpu(dfsim::build_decoder_graph(model, step), gpu);
  };
  // Decode after 127 cached tokens: 128 keys, 32 heads, head_dim 128.
  const Program decode = program(StepShape{1, 1, 127, false});
  for (const Kernel& kernel : decode.kernels) CHECK(kernel.role != "attention");
  // q k^T: xnumel = 32 heads x 128 keys = 4096 scores, rnumel = head_dim 128 (RBLOCK 128), inner:
  // XBLOCK 8 (1024 <= 4096) and 32 (4096 <= 4096) fit, 128 (16384) does not -> 4096 / 32 = 128.
  const Kernel& scores = kernel_named(decode, "layer0.attention_scores");
  CHECK(scores.tiles == 128);
  CHECK(scores.tiles_per_unit == 8);
  CHECK(scores.matmul_flops == 0.0);  // tl.sum on the CUDA cores
  // softmax: 32 rows of 128 keys: XBLOCK 32 (<= 32 rows, 32 x 128 = 4096) -> 1 program.
  CHECK(kernel_named(decode, "layer0.softmax").tiles == 1);
  // p v: 32 x 128 outputs over 128 keys (outer): XBLOCK 32 -> 128.
  CHECK(kernel_named(decode, "layer0.attention_values").tiles == 128);

  // 1024 keys: the softmax is an inner reduction of rnumel >= 256 -> XBLOCK 1, 32 programs; p v
  // has RBLOCK 1024: 8 x 1024 = 8192 > 4096 -> XBLOCK 1, 4096 programs. q k^T is unchanged in
  // shape per program: 32 x 1024 = 32768 scores / 32 = 1024.
  const Program long_context = program(StepShape{1, 1, 1023, false});
  CHECK(kernel_named(long_context, "layer0.softmax").tiles == 32);
  CHECK(kernel_named(long_context, "layer0.attention_values").tiles == 4096);
  CHECK(kernel_named(long_context, "layer0.attention_scores").tiles == 1024);
  // 2048 keys (> 1024): a looped reduction, XBLOCK 1: 32 x 128 = 4096 p v programs.
  CHECK(kernel_named(program(StepShape{1, 1, 2047, false}), "layer0.attention_values").tiles ==
        4096);

  // Prefill runs eagerly with SDPA's flash kernel: one fused attention kernel.
  CHECK(kernel_named(program(StepShape{1, 300, 0, true}), "layer0.attention").ops.size() == 3);
  // A serving stack fuses decode attention too (FlashDecoding).
  const Program serving =
      dfsim::map_to_gpu(dfsim::build_decoder_graph(model, StepShape{1, 1, 127, false}), h100());
  CHECK(kernel_named(serving, "layer0.attention").ops.size() == 3);
}

TEST_CASE("The GPU stack is serving unless a config or --set says gpt-fast", "[mapper][config]") {
  CHECK(h100().stack == dfsim::GpuStack::kServing);
  const dfsim::HwConfig gpt_fast = dfsim::load_hw_config("a100-80gb", {{"hw.stack", "gpt-fast"}});
  REQUIRE(gpt_fast.gpu() != nullptr);
  CHECK(gpt_fast.gpu()->stack == dfsim::GpuStack::kGptFast);
  CHECK_THROWS_WITH(dfsim::load_hw_config("a100-80gb", {{"hw.stack", "vllm"}}),
                    "--set hw.stack=vllm: stack: expected one of serving, gpt-fast, got 'vllm'");
}

TEST_CASE("Only gpt-fast attends a static cache: prompt + new tokens rounded up to 8", "[mapper]") {
  const dfsim::HwConfig gpt_fast = dfsim::load_hw_config("a100-80gb", {{"hw.stack", "gpt-fast"}});
  // gpt-fast's calibration runs: 5-token prompt + 200 new tokens = 205 -> 208.
  CHECK(dfsim::attended_cache_positions(gpt_fast, 205) == 208);
  CHECK(dfsim::attended_cache_positions(gpt_fast, 208) == 208);
  CHECK(dfsim::attended_cache_positions(gpt_fast, 1) == 8);
  // A serving stack (paged KV cache) and the other families read what is written.
  CHECK(dfsim::attended_cache_positions(dfsim::load_hw_config("a100-80gb", {}), 205) == 0);
  CHECK(dfsim::attended_cache_positions(dfsim::load_hw_config("apple-m2-max", {}), 205) == 0);
  CHECK(dfsim::attended_cache_positions(dfsim::load_hw_config("sn40l", {}), 205) == 0);
}

TEST_CASE(
    "A serving stack's decode attention runs as TensorRT-LLM's XQA with its buffers in flight",
    "[mapper]") {
  // The shipped choice: XQA's Hopper kernel on H100 (h200 inherits), mha.cu on A100.
  const dfsim::HwConfig a100 = dfsim::load_hw_config("a100-80gb", {});
  REQUIRE(a100.gpu() != nullptr);
  CHECK(a100.gpu()->decode_attention == dfsim::DecodeAttentionKernel::kXqa);
  CHECK(h100().decode_attention == dfsim::DecodeAttentionKernel::kXqaSm90);
  CHECK(dfsim::load_hw_config("h200", {}).gpu()->decode_attention ==
        dfsim::DecodeAttentionKernel::kXqaSm90);
  CHECK_THROWS_WITH(
      dfsim::load_hw_config("h100-sxm", {{"hw.decode_attention", "flashinfer"}}),
      "--set hw.decode_attention=flashinfer: decode_attention: expected one of generic, xqa, "
      "xqa-sm90, got 'flashinfer'");

  const ModelSpec fp8_kv = dfsim::load_model_spec("llama3.1-8b", {{"model.kv_cache_dtype", "fp8"}});
  auto attention = [](const ModelSpec& model, StepShape step, const GpuSpec& gpu) {
    return kernel_named(dfsim::map_to_gpu(dfsim::build_decoder_graph(model, step), gpu),
                        "layer0.attention");
  };
  // 64 sequences x 8 KV heads = 512 (sequence, KV head) pairs; mha_sm90's sub-sequences:
  // floor(132 x 3 / 512) = 0, x 0.25 rounds to 0, at least 1: 512 CTAs. Per CTA 2 K buffers of
  // 64 tokens x 128 B (head_dim 128 at 1 B) and 2 V buffers of 64 x 128 B: 32,768 B; one CTA
  // per SM.
  const Kernel batch64 = attention(fp8_kv, StepShape{64, 1, 1023, false}, h100());
  CHECK(batch64.tiles == 512);
  CHECK(batch64.tiles_per_unit == 1);
  CHECK(batch64.inflight_bytes_per_unit == Approx(32768.0));
  CHECK(batch64.loads_wait_for_math);
  // One sequence of 1024 keys: floor(396 / 8) = 49, x 0.25 = 12.25 -> 12 sub-sequences (below
  // the 16 tiles of 64 keys): 8 x 12 = 96 CTAs.
  CHECK(attention(fp8_kv, StepShape{1, 1, 1023, false}, h100()).tiles == 96);
  // 100 keys: 2 tiles of 64, so 2 sub-sequences at most: 16 CTAs.
  CHECK(attention(fp8_kv, StepShape{1, 1, 99, false}, h100()).tiles == 16);

  // A100, 16-bit cache: mha.cu. 4 sequences x 8 KV heads = 32 pairs; sub-sequences
  // min(max(1, 108 / 32 = 3), ceil(1024 / 256) = 4) = 3: 96 CTAs. In flight per CTA: K 4 warps x
  // 2 buffers x 64 tokens x 128 B = 65,536 B; V 4 warps x 2 buffers x 64 tokens x 64 x 2 B =
  // 65,536 B.
  const ModelSpec fp16 = dfsim::load_model_spec("llama3.1-8b", {{"model.kv_cache_dtype", "fp16"}});
  const Kernel ampere = attention(fp16, StepShape{4, 1, 1023, false}, *a100.gpu());
  CHECK(ampere.tiles == 96);
  CHECK(ampere.tiles_per_unit == 1);
  CHECK(ampere.inflight_bytes_per_unit == Approx(131072.0));
  // H100 with a 16-bit cache also runs mha.cu: 131,072 B.
  CHECK(attention(fp16, StepShape{4, 1, 1023, false}, h100()).inflight_bytes_per_unit ==
        Approx(131072.0));

  // Prefill attention and the generic choice keep the family's figure (0: the machine's).
  CHECK(attention(fp8_kv, StepShape{1, 300, 0, true}, h100()).inflight_bytes_per_unit == 0.0);
  GpuSpec generic = h100();
  generic.decode_attention = dfsim::DecodeAttentionKernel::kGeneric;
  const Kernel flash_decoding = attention(fp8_kv, StepShape{64, 1, 1023, false}, generic);
  CHECK(flash_decoding.inflight_bytes_per_unit == 0.0);
  CHECK(flash_decoding.tiles == 64 * 32);  // (sequence, query head) pairs, one split each
  // gpt-fast never runs XQA (nor the serving GEMMs): no kernel of its decode step sets a figure.
  GpuSpec gpt_fast = h100();
  gpt_fast.stack = dfsim::GpuStack::kGptFast;
  for (const Kernel& kernel :
       dfsim::map_to_gpu(dfsim::build_decoder_graph(fp8_kv, StepShape{1, 1, 1023, false}), gpt_fast)
           .kernels) {
    CHECK(kernel.inflight_bytes_per_unit == 0.0);
  }
}

TEST_CASE("A serving stack's tiled GEMMs keep their mainloop's stages in flight", "[mapper]") {
  const dfsim::HwConfig a100 = dfsim::load_hw_config("a100-80gb", {});
  REQUIRE(a100.gpu() != nullptr);
  CHECK(a100.gpu()->gemm_kernel == dfsim::GemmKernel::kSm80Multistage);
  CHECK(h100().gemm_kernel == dfsim::GemmKernel::kSm90TmaWarpSpecialized);
  CHECK_THROWS_WITH(
      dfsim::load_hw_config("h100-sxm", {{"hw.gemm_kernel", "sm100"}}),
      "--set hw.gemm_kernel=sm100: gemm_kernel: expected one of generic, sm80-multistage, "
      "sm90-tma-ws, got 'sm100'");
  auto qkv = [](const ModelSpec& model, StepShape step, const GpuSpec& gpu) {
    return kernel_named(dfsim::map_to_gpu(dfsim::build_decoder_graph(model, step), gpu),
                        "layer0.qkv_proj");
  };
  const ModelSpec fp16 = dfsim::load_model_spec("llama3.1-8b", {{"model.weight_dtype", "fp16"}});
  // sm80: 2 of 3 stages of 128 x 256 x 64 in flight: 2 x 64 x (128 + 256) x 2 B = 98,304 B.
  CHECK(qkv(fp16, StepShape{1, 512, 0, true}, *a100.gpu()).inflight_bytes_per_unit ==
        Approx(98304.0));
  // sm90, bf16: 5 of 6 stages of 128 x 128 x 64: 5 x 64 x 256 x 2 B = 163,840 B.
  const ModelSpec bf16 = dfsim::load_model_spec("llama3.1-8b", {});
  CHECK(qkv(bf16, StepShape{1, 512, 0, true}, h100()).inflight_bytes_per_unit == Approx(163840.0));
  // sm90, fp8 weights at the FP8 tensor rate: k tile 128 fp8, 5 x 128 x 256 x 1 B = 163,840 B.
  const ModelSpec fp8 = dfsim::load_model_spec("llama3.1-8b", {{"model.weight_dtype", "fp8"}});
  const Kernel fp8_gemm = qkv(fp8, StepShape{1, 512, 0, true}, h100());
  CHECK(fp8_gemm.compute_dtype == dfsim::Dtype::kFp8);
  CHECK(fp8_gemm.inflight_bytes_per_unit == Approx(163840.0));
  // 64 rows or fewer is a GEMV: the family's figure; so is the generic choice.
  CHECK(qkv(bf16, StepShape{64, 1, 127, false}, h100()).inflight_bytes_per_unit == 0.0);
  GpuSpec generic = h100();
  generic.gemm_kernel = dfsim::GemmKernel::kGeneric;
  CHECK(qkv(bf16, StepShape{1, 512, 0, true}, generic).inflight_bytes_per_unit == 0.0);
}
