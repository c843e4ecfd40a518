#include "models/common/collective.h"

#include "models/common/sim_time.h"

namespace dfsim {

CollectiveCost ring_cost(Collective collective, double tensor_bytes, int ranks) {
  if (ranks <= 1 || collective == Collective::kNone) return {};
  const double share = static_cast<double>(ranks - 1) / ranks;
  if (collective == Collective::kAllReduce) return {2 * share * tensor_bytes, 2 * (ranks - 1)};
  return {share * tensor_bytes, ranks - 1};
}

void run_collective(BandwidthChannel& link, Collective collective, double tensor_bytes,
                    int ranks) {
  CollectiveCost cost = ring_cost(collective, tensor_bytes, ranks);
  if (cost.steps == 0) return;
  // The channel charges one latency per transfer; the other steps' latencies are serial waits.
  wait_seconds(link.latency() * (cost.steps - 1));
  BandwidthChannel::Transfer& transfer = link.issue(cost.link_bytes, 0);
  if (!transfer.finished) sc_core::wait(transfer.done);
  link.release(transfer);
}

}  // namespace dfsim
