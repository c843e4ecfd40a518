// SystemC time as seconds, the unit every model computes in.
#pragma once

#include <cmath>
#include <systemc>

namespace dfsim {

inline double now_seconds() {
  return sc_core::sc_time_stamp().to_seconds();
}

// SystemC counts time in 64-bit steps of its resolution (1 ps: about 213 days). A time past that
// wraps around and the run never ends (a hardware config with a latency of 1e300 s, or a
// bandwidth of 1e-300 B/s, hung dfsim): such a run is stopped instead, and simulate() reports it
// as bad input. 1e7 s (116 days) leaves a wide margin below the wrap.
inline constexpr double kMaxSimulatedSeconds = 1e7;

// Set once a wait or a notification would have passed kMaxSimulatedSeconds.
inline bool& simulated_time_overflowed() {
  static bool overflowed = false;
  return overflowed;
}

// True when `seconds` from now is still inside the range; else stops the simulation.
inline bool time_in_range(double seconds) {
  if (std::isfinite(seconds) && now_seconds() + seconds <= kMaxSimulatedSeconds) return true;
  if (!simulated_time_overflowed()) {
    simulated_time_overflowed() = true;
    // simulate() explains the stop in one line; SystemC's own note would be a second one.
    sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO,
                                            sc_core::SC_DO_NOTHING);
    sc_core::sc_stop();
  }
  return false;
}

// Suspends the calling SystemC thread for `seconds` (nothing for zero or less). Past the range,
// the thread waits for good: sc_stop() has ended the run.
inline void wait_seconds(double seconds) {
  if (!(seconds > 0)) return;
  if (!time_in_range(seconds)) {
    sc_core::wait(sc_core::sc_event());
    return;
  }
  sc_core::wait(sc_core::sc_time(seconds, sc_core::SC_SEC));
}

}  // namespace dfsim
