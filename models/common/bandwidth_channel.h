// A memory (HBM, DDR, LPDDR, L2, SRAM) as a fluid bandwidth channel: concurrent transfers share
// its streaming bandwidth max-min fairly; each transfer's first byte arrives `latency` after the
// request. A requester that keeps W bytes in flight gets its first window of W bytes as fast as
// the channel delivers them; after that each new request waits a round trip, so its rate is
// capped at W / latency (Little's law) and a small kernel cannot fill the pipe. Exact between
// events: rates change only when a transfer starts, leaves its first window, or ends, and the
// channel wakes up only then.
#pragma once

#include <systemc>
#include <deque>
#include <list>
#include <string>

#include "sim/report/simulation_trace.h"

namespace dfsim {

class BandwidthChannel : public sc_core::sc_module {
 public:
  struct Transfer {
    double remaining = 0;    // bytes
    double window = 0;       // bytes of the first window still to deliver (uncapped)
    bool in_window = false;  // still delivering the first window
    double cap = 0;          // bytes/s this requester sustains after its first window
    double rate = 0;         // bytes/s now
    double first_byte = -1;  // seconds
    double last_byte = -1;
    bool finished = false;
    sc_core::sc_event done;
  };

  SC_HAS_PROCESS(BandwidthChannel);
  // `bandwidth` is the streaming bandwidth (peak x achievable fraction) in bytes/s.
  BandwidthChannel(sc_core::sc_module_name name, double bandwidth, double latency, bool log_rate);

  // Starts a transfer now; the caller keeps the handle and waits on `done` (unless finished).
  // `cap` is the steady rate (bytes in flight / latency); `cap` <= 0 means uncapped.
  Transfer& issue(double bytes, double cap);
  // Frees a finished transfer's bookkeeping.
  void release(Transfer& transfer);

  double bandwidth() const { return bandwidth_; }
  double latency() const { return latency_; }
  const std::vector<RatePoint>& rate_log() const { return rate_log_; }
  std::uint64_t transfers() const { return transfers_; }

 private:
  void update();  // SC_METHOD: advances transfers to now, starts, finishes, reschedules
  void advance(double now);
  void reallocate(double now);

  double bandwidth_;
  double latency_;
  bool log_rate_;
  double last_update_ = 0;
  std::list<Transfer> transfers_list_;          // stable addresses for handles
  std::deque<std::pair<double, Transfer*>> pending_;  // (first byte time, transfer), FIFO in time
  std::vector<Transfer*> active_;
  std::vector<RatePoint> rate_log_;
  std::uint64_t transfers_ = 0;
  sc_core::sc_event wake_;
};

}  // namespace dfsim
