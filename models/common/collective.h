// Collectives over the socket-to-socket links, timed by the algorithm the link's setting picks
// (sim/mapping/collective_algorithm.h: ring, recursive-doubling tree or one-shot, each with its
// alpha-beta cost).
#pragma once

#include <systemc>

#include "models/common/bandwidth_channel.h"
#include "sim/config/link_spec.h"
#include "sim/mapping/collective_algorithm.h"
#include "sim/mapping/program.h"

namespace dfsim {

// Runs a collective on `link` from the calling SystemC thread; returns when it completed, with
// the algorithm that ran. Uncontended, it takes exactly CollectiveCost::time.
CollectiveCost run_collective(BandwidthChannel& link, const LinkSpec& spec, Collective collective,
                              double tensor_bytes, int ranks);

}  // namespace dfsim
