// SystemC time as seconds, the unit every model computes in.
#pragma once

#include <systemc>

namespace dfsim {

inline double now_seconds() { return sc_core::sc_time_stamp().to_seconds(); }

// Suspends the calling SystemC thread for `seconds` (nothing for zero or less).
inline void wait_seconds(double seconds) {
  if (seconds > 0) sc_core::wait(sc_core::sc_time(seconds, sc_core::SC_SEC));
}

}  // namespace dfsim
