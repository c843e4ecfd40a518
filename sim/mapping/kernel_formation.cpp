#include "sim/mapping/kernel_formation.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "sim/common/error.h"
#include "sim/common/units.h"

namespace dfsim {

namespace {

Collective collective_of(OpKind kind) {
  if (kind == OpKind::kAllReduce) return Collective::kAllReduce;
  if (kind == OpKind::kAllGather) return Collective::kAllGather;
  return Collective::kNone;
}

// Sums the work of `kernel.ops`, one stage per op, and the bytes crossing the kernel boundary:
// a tensor read by several ops of the kernel is read once; a tensor written and consumed only
// inside stays on chip. Crossing bytes are charged to the op that reads or writes them.
void account(const WorkloadGraph& workload, Kernel& kernel) {
  const auto& graph = workload.graph();
  std::set<std::size_t> members(kernel.ops.begin(), kernel.ops.end());
  std::set<std::string> read_tensors;
  std::set<std::string> written_tensors;
  for (std::size_t id : kernel.ops) {
    const Op& op = workload.op(id);
    Stage stage;
    stage.name = op.role;
    Work& work = stage.work;
    work.flops = op.flops;
    work.matmul_flops = op.matmul_flops;
    work.dram_read_bytes = op.weight_bytes + op.cache_read_bytes + op.external_read_bytes;
    work.dram_write_bytes = op.cache_write_bytes + op.external_write_bytes;
    work.collective_bytes = op.collective_bytes;
    work.collective = collective_of(op.kind);
    for (auto [it, end] = boost::in_edges(id, graph); it != end; ++it) {
      const Tensor& tensor = graph[*it];
      if (!members.count(boost::source(*it, graph)) && read_tensors.insert(tensor.name).second)
        work.dram_read_bytes += tensor.bytes();
    }
    for (auto [it, end] = boost::out_edges(id, graph); it != end; ++it) {
      const Tensor& tensor = graph[*it];
      if (!members.count(boost::target(*it, graph)) && written_tensors.insert(tensor.name).second)
        work.dram_write_bytes += tensor.bytes();
    }
    static_cast<Work&>(kernel) += work;
    kernel.compute_dtype = op.compute_dtype;
    kernel.signature += fmt::format("{}:{}x{}x{}x{}:{}:{};", op.role, op.m, op.n, op.k, op.groups,
                                    op.weight_bytes, op.cache_read_bytes);
    kernel.stages.push_back(std::move(stage));
  }
}

}  // namespace

ResidentBytes resident_bytes(const WorkloadGraph& graph) {
  ResidentBytes bytes;
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    bytes.weights += op.stored_weight_bytes;
    if (op.kind == OpKind::kAttentionScores) bytes.kv_cache += 2 * op.cache_read_bytes;
    if (op.kind == OpKind::kLinearAttention) bytes.kv_cache += op.cache_write_bytes;  // DiJiang state
  }
  return bytes;
}

void check_resident_fits(const WorkloadGraph& graph, const ResidentMemory& memory) {
  const auto [weights, kv_cache] = resident_bytes(graph);
  if (weights + kv_cache <= memory.capacity) return;
  throw InputError(fmt::format(
      "the model needs {} of weights and {} of KV cache{}, {} {}{}{}; use {}, a smaller weight "
      "dtype (--set model.weight_dtype={}) or a shorter context",
      format_quantity(weights, Dimension::kBytes), format_quantity(kv_cache, Dimension::kBytes),
      memory.per_device, memory.holder, format_quantity(memory.capacity, Dimension::kBytes),
      memory.memory, memory.per_device, memory.more, memory.smaller_dtype));
}

std::string serving_fusion_key(const Op& op) {
  static const std::map<std::string, std::string, std::less<>> kFused{
      {"q_proj", "qkv_proj"},          {"k_proj", "qkv_proj"},
      {"v_proj", "qkv_proj"},          {"rope", "rope_kv_append"},
      {"kv_append", "rope_kv_append"}, {"attention_scores", "attention"},
      {"softmax", "attention"},        {"attention_values", "attention"},
      {"attn_residual", "residual_norm"}, {"mlp_norm", "residual_norm"},
      {"gate_proj", "gate_up_proj"},   {"up_proj", "gate_up_proj"},
      // W8A8: dequantization is the int8 matmul's epilogue.
      {"q_proj_dequantize", "qkv_proj"}, {"k_proj_dequantize", "qkv_proj"},
      {"v_proj_dequantize", "qkv_proj"}, {"o_proj_dequantize", "o_proj"},
      {"gate_proj_dequantize", "gate_up_proj"}, {"up_proj_dequantize", "gate_up_proj"},
      {"down_proj_dequantize", "down_proj"},
      // DiJiang: the feature maps feed the running state in one kernel, as the attention
      // kernel fuses scores, softmax and values.
      {"dijiang_features", "dijiang_attention"}, {"linear_attention", "dijiang_attention"},
  };
  // Collectives (NCCL on GPUs) are kernels of their own: their role names them.
  auto it = kFused.find(op.role);
  return it == kFused.end() ? op.role : it->second;
}

std::vector<Kernel> form_kernels(const WorkloadGraph& workload, const FusionKey& key) {
  std::vector<Kernel> kernels;
  // Vertices are stored in the order the builder added them, which is topological.
  for (std::size_t id = 0; id < workload.op_count(); ++id) {
    const Op& op = workload.op(id);
    std::string role = key(op);
    if (kernels.empty() || kernels.back().role != role || kernels.back().layer != op.layer) {
      Kernel kernel;
      kernel.role = role;
      kernel.layer = op.layer;
      kernel.name = op.layer >= 0 ? "layer" + std::to_string(op.layer) + "." + role : role;
      kernels.push_back(std::move(kernel));
    }
    kernels.back().ops.push_back(id);
  }
  for (Kernel& kernel : kernels) account(workload, kernel);
  return kernels;
}

}  // namespace dfsim
