#include "models/common/bandwidth_channel.h"
#include "models/common/sim_time.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "models/common/fair_share.h"

namespace dfsim {

using sc_core::SC_SEC;
using sc_core::sc_time;

namespace {
// SystemC time has 1 ps resolution: a transfer with less than a picosecond of work left is done.
constexpr double kResolution = 1e-12;
}  // namespace

BandwidthChannel::BandwidthChannel(sc_core::sc_module_name name, double bandwidth, double latency,
                                   bool log_rate)
    : sc_module(name), bandwidth_(bandwidth), latency_(latency), log_rate_(log_rate) {
  SC_METHOD(update);
  sensitive << wake_;
  dont_initialize();
}

BandwidthChannel::Transfer& BandwidthChannel::issue(double bytes, double cap) {
  double now = now_seconds();
  advance(now);
  Transfer& transfer = transfers_list_.emplace_back();
  transfer.remaining = bytes;
  transfer.cap = cap > 0 ? cap : std::numeric_limits<double>::infinity();
  // The requests of the first window are all out when the first byte returns.
  transfer.window = cap > 0 ? std::min(bytes, cap * latency_) : 0.0;
  transfer.in_window = transfer.window > 0;
  ++transfers_;
  pending_.emplace_back(now + latency_, &transfer);
  wake_.cancel();
  wake_.notify(sc_core::SC_ZERO_TIME);
  return transfer;
}

void BandwidthChannel::release(Transfer& transfer) {
  transfers_list_.remove_if([&](const Transfer& t) { return &t == &transfer; });
}

void BandwidthChannel::advance(double now) {
  double elapsed = now - last_update_;
  if (elapsed > 0) {
    for (Transfer* transfer : active_) {
      transfer->remaining -= transfer->rate * elapsed;
      transfer->window = std::max(0.0, transfer->window - transfer->rate * elapsed);
    }
  }
  last_update_ = now;
}

void BandwidthChannel::reallocate(double now) {
  std::vector<double> caps;
  caps.reserve(active_.size());
  for (Transfer* transfer : active_) {
    caps.push_back(transfer->in_window ? std::numeric_limits<double>::infinity() : transfer->cap);
  }
  std::vector<double> rates = fair_share(bandwidth_, caps);
  double total = 0;
  for (std::size_t i = 0; i < active_.size(); ++i) {
    active_[i]->rate = rates[i];
    total += rates[i];
  }
  if (log_rate_ && (rate_log_.empty() || rate_log_.back().rate != total)) {
    if (!rate_log_.empty() && rate_log_.back().time == now) {
      rate_log_.back().rate = total;
    } else {
      rate_log_.push_back({now, total});
    }
  }
}

void BandwidthChannel::update() {
  double now = now_seconds();
  advance(now);
  // Finish transfers whose bytes are all delivered (within the time resolution); a transfer
  // that has just delivered its first window falls back to its steady cap.
  bool changed = false;
  for (auto it = active_.begin(); it != active_.end();) {
    Transfer* transfer = *it;
    if (transfer->in_window && transfer->window <= transfer->rate * kResolution) {
      transfer->window = 0;
      transfer->in_window = false;
      changed = true;
    }
    if (transfer->remaining <= transfer->rate * kResolution || transfer->remaining <= 1e-9) {
      transfer->remaining = 0;
      transfer->finished = true;
      transfer->last_byte = now;
      transfer->done.notify(sc_core::SC_ZERO_TIME);
      it = active_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  // Start transfers whose first byte arrives now. Empty transfers finish at once.
  while (!pending_.empty() && pending_.front().first <= now + kResolution / 2) {
    Transfer* transfer = pending_.front().second;
    pending_.pop_front();
    transfer->first_byte = now;
    if (transfer->remaining <= 0) {
      transfer->finished = true;
      transfer->last_byte = now;
      transfer->done.notify(sc_core::SC_ZERO_TIME);
    } else {
      active_.push_back(transfer);
    }
    changed = true;
  }
  if (changed) reallocate(now);

  double next = std::numeric_limits<double>::infinity();
  for (Transfer* transfer : active_) {
    if (transfer->rate <= 0) continue;
    next = std::min(next, transfer->remaining / transfer->rate);
    if (transfer->in_window) next = std::min(next, transfer->window / transfer->rate);
  }
  if (!pending_.empty()) next = std::min(next, pending_.front().first - now);
  if (std::isfinite(next)) {
    wake_.cancel();
    if (time_in_range(next)) wake_.notify(sc_time(std::max(next, kResolution), SC_SEC));
  }
}

}  // namespace dfsim
