#include "models/common/collective.h"

#include "models/common/sim_time.h"

namespace dfsim {

CollectiveCost run_collective(BandwidthChannel& link, const LinkSpec& spec, Collective collective,
                              double tensor_bytes, int ranks) {
  CollectiveCost cost = choose_collective(collective, tensor_bytes, ranks, spec);
  if (cost.steps == 0) return cost;
  // The channel charges one latency per transfer; the other steps' latencies are serial waits.
  // An algorithm that reaches one partner at a time (share < 1) leaves the other ports idle:
  // its bytes still cross the channel at the channel's rate, and the rest of its wire time is a
  // serial wait, so the link's rate log shows the bytes that really moved.
  const double serial = cost.link_bytes / spec.bandwidth * (1 / cost.bandwidth_share - 1);
  wait_seconds(link.latency() * (cost.steps - 1) + serial);
  BandwidthChannel::Transfer& transfer = link.issue(cost.link_bytes, 0);
  if (!transfer.finished) sc_core::wait(transfer.done);
  link.release(transfer);
  return cost;
}

}  // namespace dfsim
