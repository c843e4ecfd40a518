// Ring collectives over the socket-to-socket links: with R ranks, an all-reduce moves
// 2(R-1)/R of the tensor through each rank's link in 2(R-1) steps, an all-gather (R-1)/R in R-1
// steps; every step pays the link latency once.
#pragma once

#include <systemc>

#include "models/common/bandwidth_channel.h"
#include "sim/mapping/program.h"

namespace dfsim {

struct CollectiveCost {
  double link_bytes = 0;  // bytes each rank sends
  int steps = 0;          // latency-bound ring steps
};

CollectiveCost ring_cost(Collective collective, double tensor_bytes, int ranks);

// Runs a collective on `link` from the calling SystemC thread; returns when it completed.
void run_collective(BandwidthChannel& link, Collective collective, double tensor_bytes,
                    int ranks);

}  // namespace dfsim
