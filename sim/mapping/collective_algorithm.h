// Alpha-beta costs of the collective algorithms a tensor-parallel stack picks among, and the
// choice itself. With R ranks, a tensor of S bytes, link latency a (one step), bandwidth B per
// socket and P ports (a single peer gets B/P):
// - ring: all-reduce 2(R-1) steps moving 2(R-1)/R S; all-gather R-1 steps moving (R-1)/R S,
//   over all ports at once (NCCL runs one ring per channel). NCCL's tuner prices a ring as
//   nsteps x hwLat + bytes / busBw with nsteps = 2(R-1) for all-reduce and R-1 for all-gather
//   (src/graph/tuning.cc, ncclTopoTuneModel).
// - tree: recursive doubling (Thakur, Rabenseifner, Gropp, "Optimization of collective
//   communication operations in MPICH", IJHPCA 2005): ceil(log2 R) rounds, each exchanging with
//   one partner over one port. All-reduce sends S per round, all-gather doubles its block each
//   round, (R-1)/R S in total. NCCL's own tree is a chain inside a node and a log-depth tree only
//   across nodes; recursive doubling is the log-depth latency every rank here can reach.
// - one-shot: every rank pushes its whole partial (all-gather: its block) to each of the R-1
//   peers at once and reduces locally: one step, (R-1) S bytes (all-gather S/R) over the
//   socket's ports, and no fewer than S per port when there are more ports than peers.
//   TensorRT-LLM's and vLLM's custom all-reduce kernels use it for small messages
//   (TensorRT-LLM cpp/tensorrt_llm/kernels/customAllReduceKernels.cu, "oneShotAllReduceKernel").
// Time = steps x a + link_bytes / (bandwidth_share x B); the local reduction is ignored.
#pragma once

#include <string_view>

#include "sim/config/link_spec.h"
#include "sim/mapping/program.h"

namespace dfsim {

enum class CollectiveAlgorithm { kRing, kTree, kOneShot };

struct CollectiveCost {
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::kRing;
  int steps = 0;               // latency-bound steps (rounds), each pays the link latency once
  double link_bytes = 0;       // bytes each rank sends
  double bandwidth_share = 1;  // share of the socket's link bandwidth the sends can use
  double time(const LinkSpec& link) const;
};

std::string_view collective_algorithm_name(CollectiveAlgorithm algorithm);
std::string_view collective_name(Collective collective);  // "all-reduce", "all-gather"

// One algorithm's cost; no steps and no bytes on one rank or without a collective.
CollectiveCost collective_cost(CollectiveAlgorithm algorithm, Collective collective,
                               double tensor_bytes, int ranks, const LinkSpec& link);
// The algorithm the link's `collective` setting runs: the forced one, or on `auto` the one of
// least time (ties go to ring, then tree).
CollectiveCost choose_collective(Collective collective, double tensor_bytes, int ranks,
                                 const LinkSpec& link);

}  // namespace dfsim
