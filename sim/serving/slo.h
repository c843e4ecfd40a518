// Service-level objectives for goodput: `--slo ttft=200ms,tpot=50ms`. A request meets the SLO when
// every stated bound holds (DistServe's goodput: requests/s that meet their TTFT and TPOT targets).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dfsim {

struct Slo {
  std::optional<double> ttft_s;  // time to first token: first token - arrival
  std::optional<double> tpot_s;  // time per output token after the first (see serving_stats.h)
  std::optional<double> e2e_s;   // end-to-end latency: finish - arrival

  bool empty() const { return !ttft_s && !tpot_s && !e2e_s; }
};

// "key=duration[,key=duration...]" with keys ttft, tpot, e2e and durations with a unit ("200ms",
// "0.2 s", "50 us"; units.h). An unknown or repeated key, a missing '=', or a duration that is not
// positive is an InputError at `option`:1:column naming the key.
Slo parse_slo(std::string_view text, const std::string& option = "--slo");

// "ttft=200 ms,tpot=50 ms": the SLO as it could be passed back.
std::string format_slo(const Slo& slo);

}  // namespace dfsim
