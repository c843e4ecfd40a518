// The DAG of one forward step: ops are vertices, activation tensors are edges (Boost.Graph).
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <vector>

#include "sim/workload/model_spec.h"
#include "sim/workload/op.h"
#include "sim/workload/phase.h"

namespace dfsim {

class WorkloadGraph {
 public:
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op, Tensor>;
  using OpId = Graph::vertex_descriptor;

  OpId add_op(Op op);
  void add_tensor(OpId producer, OpId consumer, Tensor tensor);

  std::size_t op_count() const { return boost::num_vertices(graph_); }
  const Op& op(OpId id) const { return graph_[id]; }
  // Ops in a topological order (producers before consumers); the builder adds them in one.
  std::vector<OpId> topological_order() const;

  // Bytes of the activation tensors flowing into / out of an op (edges). An output read by
  // several consumers is written once.
  double input_bytes(OpId id) const;
  double output_bytes(OpId id) const;
  // All bytes an op moves when it runs alone: weights, KV cache, external I/O and activations.
  double standalone_bytes(OpId id) const;

  const Graph& graph() const { return graph_; }

  // Totals over every op.
  double total_flops() const;
  std::int64_t total_parameters() const;

 private:
  Graph graph_;
};

// Causal (query, key) pairs of one sequence and head when `new_tokens` follow `past` cached
// ones and each attends to at most `window` positions ending at its own (0: no window).
double attended_pairs(std::int64_t past, std::int64_t new_tokens, std::int64_t window);

// Expected number of distinct experts that `tokens` tokens touch when each picks `per_token`
// of `experts` uniformly at random: experts * (1 - (1 - per_token/experts)^tokens).
double expected_distinct_experts(std::int64_t experts, std::int64_t per_token, std::int64_t tokens);

// What one rank holds and runs of a mixture-of-experts layer (see the builder's comment).
struct ExpertShard {
  bool expert_parallel = false;  // whole experts per rank (else every expert's columns split)
  std::int64_t experts = 0;      // experts whose weights the rank holds
  std::int64_t columns = 0;      // intermediate columns of each held expert
  std::int64_t rows = 0;         // routed (token, expert) rows the rank runs
  double experts_read = 0;       // distinct held experts a step reads
};
ExpertShard expert_shard(const ModelSpec& model, std::int64_t intermediate, std::int64_t tokens,
                         int ranks);

// Attention heads of the busiest of R tensor-parallel ranks. The H query heads are dealt out
// in contiguous runs, H/R to each rank and one more to the first H mod R (an uneven split when R
// does not divide H); a rank holds every kv head its query heads read (H/G consecutive query
// heads share one of the G kv heads), so a kv head whose group straddles ranks is replicated on
// each, as it is when there are fewer kv heads than ranks. The busiest rank holds the most
// attention weight columns (q and o: 2 per query head, k and v: 2 per kv head; ties go to more
// kv heads, which also read more KV cache); it sets the time of every layer.
struct HeadShard {
  std::int64_t heads = 0;     // query heads of the busiest rank
  std::int64_t kv_heads = 0;  // kv heads of the busiest rank
  double mean_heads = 0;      // H / R
  double mean_kv_heads = 0;   // kv heads held, replicas counted, over R
  bool even() const { return heads == mean_heads && kv_heads == mean_kv_heads; }
};
HeadShard head_shard(std::int64_t heads, std::int64_t kv_heads, int ranks);

// One forward step of a llama-style decoder for the given step shape, as executed by one of
// `tensor_parallel` ranks (Megatron-style sharding: q/k/v, gate and up split by columns, o and
// down by rows followed by an all-reduce, the LM head split over the vocabulary followed by an
// all-gather). With tensor_parallel == 1 the graph is the whole model and has no collectives.
// Heads that do not divide over the ranks are split unevenly (head_shard); the graph is the
// busiest rank's.
WorkloadGraph build_decoder_graph(const ModelSpec& model, const StepShape& step,
                                  int tensor_parallel = 1);

}  // namespace dfsim
