// A machine's host loop takes its steps from a ProgramSource: this asks for the next one at the
// current simulated time, idling the calling SystemC thread while the source says to wait (a
// server with no request to run), and returns nullptr when the run is over.
#pragma once

#include <algorithm>

#include "models/common/sim_time.h"
#include "sim/mapping/program_source.h"

namespace dfsim {

inline const Program* next_program(ProgramSource& source) {
  for (;;) {
    const NextProgram next = source.next(now_seconds());
    if (next.program != nullptr) return next.program;
    const double idle = next.idle_until - now_seconds();
    if (!(idle > 0) || !time_in_range(idle)) return nullptr;
    // SystemC's clock counts whole steps of its resolution (1 ps): a wait shorter than one
    // would round to no time at all and ask again forever, so wait at least one step.
    wait_seconds(std::max(idle, sc_core::sc_get_time_resolution().to_seconds()));
  }
}

}  // namespace dfsim
