#include "models/common/tile_waves.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "models/common/collective.h"
#include "models/common/sim_time.h"
#include "sim/common/integer_math.h"

namespace dfsim {

double inflight_bytes_per_unit(const Kernel& kernel, const WaveUnits& units) {
  return kernel.inflight_bytes_per_unit > 0 ? kernel.inflight_bytes_per_unit
                                            : units.inflight_bytes_per_unit;
}

double little_law_cap(double inflight_per_unit, std::int64_t active, std::int64_t tiles_per_active,
                      double tile_dram_bytes, double latency, double window_math) {
  const double in_flight = active * std::min(inflight_per_unit, tiles_per_active * tile_dram_bytes);
  return latency > 0 ? in_flight / (latency + window_math) : 0;
}

double window_math_seconds(std::int64_t tiles, double tile_math, double tile_dram_bytes,
                           double window_bytes) {
  const double unit_bytes = static_cast<double>(tiles) * tile_dram_bytes;
  if (unit_bytes <= 0) return 0;
  // The unit's math spread evenly over its bytes: the share of one window.
  return static_cast<double>(tiles) * tile_math * std::min(1.0, window_bytes / unit_bytes);
}

TileWaves::TileWaves(WaveUnits units, BandwidthChannel& dram, BandwidthChannel& onchip,
                     SimulationTrace& trace, TileListener* listener)
    : units_(std::move(units)), dram_(dram), onchip_(onchip), trace_(trace), listener_(listener) {}

void TileWaves::execute(const Kernel& kernel, double tile_math, KernelRecord& record) {
  if (kernel.tiles < 1 || (!units_.one_wave && kernel.tiles_per_unit < 1)) {
    throw std::logic_error("kernel " + kernel.name + " has no tiles to run (mapper bug)");
  }
  const double tiles = static_cast<double>(kernel.tiles);
  const std::int64_t units = units_.count;
  const double tile_dram = kernel.dram_bytes() / tiles;
  const double tile_onchip = kernel.onchip_bytes / tiles;
  const double inflight = inflight_bytes_per_unit(kernel, units_);

  const std::int64_t slots = units_.one_wave ? kernel.tiles : units * kernel.tiles_per_unit;
  const std::int64_t waves = ceil_div(kernel.tiles, slots);
  std::int64_t remaining = kernel.tiles;
  for (std::int64_t wave_index = 1; remaining > 0; ++wave_index) {
    const double wave_start = now_seconds();
    const std::int64_t wave = std::min(remaining, slots);
    remaining -= wave;
    // Tiles are spread over the units first; the busiest holds ceil(wave / units) of them.
    const std::int64_t active = std::min(wave, units);
    const std::int64_t per_unit = ceil_div(wave, units);
    // A kernel's own figure is for a full unit (tiles_per_unit resident tiles): a unit of a
    // partial wave holds fewer of its tiles and keeps only their share in flight.
    const double unit_inflight =
        kernel.inflight_bytes_per_unit > 0 && !units_.one_wave
            ? inflight * std::min(1.0, static_cast<double>(per_unit) / kernel.tiles_per_unit)
            : inflight;
    const double window_math =
        kernel.loads_wait_for_math
            ? window_math_seconds(per_unit, tile_math, tile_dram, unit_inflight)
            : 0;
    const double cap =
        little_law_cap(unit_inflight, active, per_unit, tile_dram, dram_.latency(), window_math);
    // One wave issues the kernel's totals, not per-tile shares multiplied back.
    const double wave_dram = units_.one_wave ? kernel.dram_bytes() : wave * tile_dram;
    const double wave_onchip = units_.one_wave ? kernel.onchip_bytes : wave * tile_onchip;

    BandwidthChannel::Transfer* dram = wave_dram > 0 ? &dram_.issue(wave_dram, cap) : nullptr;
    BandwidthChannel::Transfer* onchip = wave_onchip > 0 ? &onchip_.issue(wave_onchip, 0) : nullptr;
    const double math_time = static_cast<double>(per_unit) * tile_math;
    if (units_.overlap_math) wait_seconds(math_time);
    if (dram && !dram->finished) sc_core::wait(dram->done);
    if (onchip && !onchip->finished) sc_core::wait(onchip->done);
    if (!units_.overlap_math) wait_seconds(math_time);

    if (dram) {
      if (record.dram_first_byte < 0) record.dram_first_byte = dram->first_byte;
      record.dram_last_byte = dram->last_byte;
      dram_.release(*dram);
    }
    if (onchip) onchip_.release(*onchip);
    if (listener_)
      listener_->tiles_done(record.step, record.kernel, kernel.tiles - remaining - wave, wave);
    if (trace_.record_units) {
      const std::string waves_label =
          units_.one_wave ? ""
                          : " wave " + std::to_string(wave_index) + "/" + std::to_string(waves);
      trace_.unit_slices.push_back(
          {units_.track,
           kernel.name + waves_label + " (" + std::to_string(active) + " " + units_.unit_name + ")",
           wave_start, now_seconds()});
    }
  }
}

void run_collective_kernel(const Kernel& kernel, int ranks, BandwidthChannel& dram,
                           BandwidthChannel& link, const LinkSpec& spec, const std::string& track,
                           SimulationTrace& trace, KernelRecord& record) {
  BandwidthChannel::Transfer* transfer =
      kernel.dram_bytes() > 0 ? &dram.issue(kernel.dram_bytes(), 0) : nullptr;
  const double begin = now_seconds();
  const CollectiveCost cost =
      run_collective(link, spec, kernel.collective, kernel.collective_bytes, ranks);
  if (trace.record_units) {
    trace.unit_slices.push_back(
        {track, kernel.name + " (" + std::string(collective_algorithm_name(cost.algorithm)) + ")",
         begin, now_seconds()});
  }
  if (transfer) {
    if (!transfer->finished) sc_core::wait(transfer->done);
    record.dram_first_byte = transfer->first_byte;
    record.dram_last_byte = transfer->last_byte;
    dram.release(*transfer);
  }
}

}  // namespace dfsim
