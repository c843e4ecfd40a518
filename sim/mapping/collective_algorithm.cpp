#include "sim/mapping/collective_algorithm.h"

#include <algorithm>
#include <cmath>

namespace dfsim {

double CollectiveCost::time(const LinkSpec& link) const {
  if (steps == 0) return 0;
  return steps * link.latency + link_bytes / (bandwidth_share * link.bandwidth);
}

std::string_view collective_algorithm_name(CollectiveAlgorithm algorithm) {
  switch (algorithm) {
    case CollectiveAlgorithm::kRing:
      return "ring";
    case CollectiveAlgorithm::kTree:
      return "tree";
    case CollectiveAlgorithm::kOneShot:
      return "oneshot";
  }
  return "?";
}

std::string_view collective_name(Collective collective) {
  switch (collective) {
    case Collective::kAllReduce:
      return "all-reduce";
    case Collective::kAllGather:
      return "all-gather";
    case Collective::kNone:
      return "none";
  }
  return "?";
}

CollectiveCost collective_cost(CollectiveAlgorithm algorithm, Collective collective,
                               double tensor_bytes, int ranks, const LinkSpec& link) {
  CollectiveCost cost;
  cost.algorithm = algorithm;
  if (ranks <= 1 || collective == Collective::kNone) return cost;
  const bool reduce = collective == Collective::kAllReduce;
  const double peers = ranks - 1;
  const double ports = std::max(1, link.ports);
  switch (algorithm) {
    case CollectiveAlgorithm::kRing:
      cost.steps = reduce ? 2 * (ranks - 1) : ranks - 1;
      cost.link_bytes = (reduce ? 2 : 1) * peers / ranks * tensor_bytes;
      break;
    case CollectiveAlgorithm::kTree: {
      const int rounds = static_cast<int>(std::ceil(std::log2(static_cast<double>(ranks))));
      cost.steps = rounds;
      cost.link_bytes = reduce ? rounds * tensor_bytes : peers / ranks * tensor_bytes;
      cost.bandwidth_share = 1 / ports;  // one partner per round
      break;
    }
    case CollectiveAlgorithm::kOneShot:
      cost.steps = 1;
      cost.link_bytes = peers * (reduce ? tensor_bytes : tensor_bytes / ranks);
      // With fewer peers than ports, the sends use only `peers` ports.
      cost.bandwidth_share = std::min(1.0, peers / ports);
      break;
  }
  return cost;
}

CollectiveCost choose_collective(Collective collective, double tensor_bytes, int ranks,
                                 const LinkSpec& link) {
  switch (link.collective) {
    case CollectiveChoice::kRing:
      return collective_cost(CollectiveAlgorithm::kRing, collective, tensor_bytes, ranks, link);
    case CollectiveChoice::kTree:
      return collective_cost(CollectiveAlgorithm::kTree, collective, tensor_bytes, ranks, link);
    case CollectiveChoice::kOneShot:
      return collective_cost(CollectiveAlgorithm::kOneShot, collective, tensor_bytes, ranks, link);
    case CollectiveChoice::kAuto:
      break;
  }
  CollectiveCost best =
      collective_cost(CollectiveAlgorithm::kRing, collective, tensor_bytes, ranks, link);
  for (CollectiveAlgorithm other : {CollectiveAlgorithm::kTree, CollectiveAlgorithm::kOneShot}) {
    CollectiveCost cost = collective_cost(other, collective, tensor_bytes, ranks, link);
    if (cost.time(link) < best.time(link)) best = cost;
  }
  return best;
}

}  // namespace dfsim
