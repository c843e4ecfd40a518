#include "sim/mapping/dataflow_mapper.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/common/error.h"
#include "sim/common/integer_math.h"
#include "sim/common/units.h"
#include "sim/mapping/kernel_formation.h"

namespace dfsim {

namespace {

std::string dataflow_fusion_key(const Op& op) {
  if (op.layer >= 0) return "decoder_layer";
  if (op.kind == OpKind::kEmbedding) return "embedding";
  return "lm_head";  // final norm, LM head and the logits gather
}

// Bytes of the activations a layer keeps on chip at once: every tensor passed between two of
// its stages, except the attention scores and probabilities, which stream through the softmax
// stage tile by tile (FlashAttention-style) and are never whole on chip.
double activation_working_set(const WorkloadGraph& workload, const Kernel& kernel) {
  const auto& graph = workload.graph();
  std::map<std::size_t, bool> members;
  for (std::size_t id : kernel.ops) members[id] = true;
  double bytes = 0;
  for (std::size_t id : kernel.ops) {
    for (auto [it, end] = boost::out_edges(id, graph); it != end; ++it) {
      std::size_t target = boost::target(*it, graph);
      if (!members.count(target)) continue;
      OpKind consumer = workload.op(target).kind;
      if (consumer == OpKind::kSoftmax || consumer == OpKind::kAttentionValues) continue;
      bytes += graph[*it].bytes();
    }
  }
  return bytes;
}

// Gives every stage one PCU, then shares the rest in proportion to FLOPs by largest remainder,
// so all PCUs are used and no stage loses a fraction to rounding.
void place_stages(Kernel& kernel, int pcus) {
  const int stages = static_cast<int>(kernel.stages.size());
  const int spare = std::max(0, pcus - stages);
  const double flops = std::max(kernel.flops, 1.0);
  std::vector<std::pair<double, int>> remainders;
  int given = 0;
  for (int i = 0; i < stages; ++i) {
    const double share = spare * kernel.stages[i].work.flops / flops;
    const int whole = static_cast<int>(std::floor(share));
    kernel.stages[i].units = 1 + whole;
    given += whole;
    remainders.emplace_back(share - whole, i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int i = 0; i < spare - given && i < stages; ++i)
    kernel.stages[remainders[i].second].units += 1;
}

// A serving step's sequences at different contexts are separate attention ops of one role, one
// set per group (sim/workload/workload_graph.cpp). On the chip they are one stage that takes the
// sequences in turn, as a variable-length attention kernel does on a GPU: a pipeline stage per
// context would split the attention's PCUs by FLOPs into stages that each take as long as the
// others and that a single micro-batch runs one after another, so a step would slow with the
// number of distinct contexts in it rather than with its work. Stages of one role are merged
// into the first (their work summed); a kernel without repeated roles is left as it is, stage i
// still being op i.
void merge_stages_of_one_role(Kernel& kernel) {
  std::map<std::string, std::size_t> first;
  std::vector<Stage> merged;
  for (Stage& stage : kernel.stages) {
    auto [it, inserted] = first.emplace(stage.name, merged.size());
    if (inserted) {
      merged.push_back(std::move(stage));
    } else {
      merged[it->second].work += stage.work;
    }
  }
  kernel.stages = std::move(merged);
}

double weight_bytes(const WorkloadGraph& workload, const Kernel& kernel) {
  double bytes = 0;
  for (std::size_t id : kernel.ops) bytes += workload.op(id).weight_bytes;
  return bytes;
}

// Bytes that must stay resident in off-chip memory: all parameters and this step's KV cache.
struct Footprint {
  double kv_cache = 0;
  double embedding_and_head = 0;
  std::map<int, double> layer_weights;
};

Footprint footprint(const WorkloadGraph& workload) {
  Footprint result;
  for (std::size_t id = 0; id < workload.op_count(); ++id) {
    const Op& op = workload.op(id);
    if (op.kind == OpKind::kAttentionScores) result.kv_cache += 2 * op.cache_read_bytes;
    if (op.kind == OpKind::kLinearAttention) result.kv_cache += op.cache_write_bytes;
    // Resident bytes, not bytes read: the whole embedding table, every expert of a layer.
    if (op.layer < 0) {
      result.embedding_and_head += op.stored_weight_bytes;
    } else {
      result.layer_weights[op.layer] += op.stored_weight_bytes;
    }
  }
  return result;
}

}  // namespace

Program map_to_dataflow(const WorkloadGraph& graph, const DataflowSpec& chip) {
  Program program;
  program.kernels = form_kernels(graph, dataflow_fusion_key);

  // Off-chip placement: the KV cache, embedding and head live in HBM; layers take the rest of
  // HBM in order and spill to DDR.
  Footprint need = footprint(graph);
  double hbm_left = chip.hbm.capacity - need.kv_cache - need.embedding_and_head;
  double total_layers = 0;
  for (const auto& [layer, bytes] : need.layer_weights) total_layers += bytes;
  if (hbm_left < 0 || total_layers - std::max(0.0, hbm_left) > chip.ddr.capacity) {
    double total = need.kv_cache + need.embedding_and_head + total_layers;
    throw InputError(fmt::format(
        "the model needs {} per socket (weights and KV cache), the hardware has {} HBM + {} DDR; "
        "use more sockets or a smaller dtype",
        format_quantity(total, Dimension::kBytes),
        format_quantity(chip.hbm.capacity, Dimension::kBytes),
        format_quantity(chip.ddr.capacity, Dimension::kBytes)));
  }
  std::map<int, double> ddr_fraction;
  for (const auto& [layer, bytes] : need.layer_weights) {
    double in_hbm = std::clamp(hbm_left, 0.0, bytes);
    hbm_left -= in_hbm;
    ddr_fraction[layer] = bytes > 0 ? (bytes - in_hbm) / bytes : 0.0;
  }

  for (Kernel& kernel : program.kernels) {
    const double spill = kernel.layer >= 0 ? ddr_fraction[kernel.layer] : 0.0;
    for (std::size_t i = 0; i < kernel.stages.size(); ++i) {
      const Op& op = graph.op(kernel.ops[i]);
      kernel.stages[i].work.ddr_read_bytes = spill * op.weight_bytes;
    }
    kernel.ddr_read_bytes = spill * weight_bytes(graph, kernel);

    // Tokens are processed in micro-batches of rows; with more than one, every stage keeps its
    // weights on chip for the next micro-batch. If that and the activations exceed the SRAM
    // left beside the weight stream's buffer, the token range is cut into chunks.
    const Op& first = graph.op(kernel.ops.front());
    kernel.micro_batches = std::max<std::int64_t>(1, ceil_div(first.m, kDataflowMicroBatchRows));
    std::set<std::string> roles;
    for (const Stage& stage : kernel.stages) roles.insert(stage.name);  // stages once merged
    const double stream_buffer =
        chip.hbm.bandwidth * (chip.hbm.latency + chip.stage_latency * roles.size());
    const double budget = std::max(chip.sram.capacity - stream_buffer, chip.sram.capacity / 2);
    const double working_set = activation_working_set(graph, kernel) +
                               (kernel.micro_batches > 1 ? weight_bytes(graph, kernel) : 0.0);
    kernel.token_chunks = std::max<std::int64_t>(1, std::ceil(working_set / budget));
    kernel.token_chunks = std::min(kernel.token_chunks, kernel.micro_batches);
    kernel.onchip_working_set = std::min(working_set / kernel.token_chunks, budget);
    if (kernel.token_chunks > 1) {
      // Each extra chunk streams the weights again.
      const double extra = kernel.token_chunks - 1;
      for (std::size_t i = 0; i < kernel.stages.size(); ++i) {
        const Op& op = graph.op(kernel.ops[i]);
        kernel.stages[i].work.dram_read_bytes += extra * op.weight_bytes;
        kernel.stages[i].work.ddr_read_bytes *= kernel.token_chunks;
      }
      kernel.dram_read_bytes += extra * weight_bytes(graph, kernel);
      kernel.ddr_read_bytes *= kernel.token_chunks;
    }
    merge_stages_of_one_role(kernel);
    place_stages(kernel, chip.pcu_count);
  }
  return program;
}

}  // namespace dfsim
