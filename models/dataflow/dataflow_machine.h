// A dataflow chip (SN40L-like) as SystemC modules: a host that issues kernel calls, a loader
// that streams each stage's weights and KV cache from HBM (or DDR) into on-chip memory, and the
// spatial pipeline of stages that consumes them. One socket is simulated, the busiest;
// tensor-parallel peers meet it in collectives on the link (sim/mapping/collective_algorithm.h).
//
// Timing assumptions (coded in dataflow_machine.cpp):
// - The loader streams the stages' bytes in pipeline order, back to back: the next request is
//   issued one HBM latency before the current one ends, so a lone stream runs at the streaming
//   rate. It may run ahead of the pipeline only as far as the SRAM left beside the kernel's
//   activations allows.
// - A stage starts when its bytes are on chip and its predecessor has passed on the first
//   micro-batch (plus one stage latency); it finishes no earlier than its predecessor plus one
//   micro-batch of its own. Its compute rate is its share of PCUs times the per-PCU peak. A
//   token chunk starts on a stage only once that stage's PCUs have finished the previous chunk.
// - A kernel call ends when the last stage finishes and its writes are in memory; the simulated
//   socket is the busiest one, so every socket has finished then. Between calls the orchestrator
//   sees that and issues the next call (KernelCallSpec: by the host, polling and launching each
//   socket, or by the AGCUs after a barrier over P2P) and, for a different kernel, the program
//   is loaded; only then does the loader start again, so HBM idles across the boundary. Inside a
//   looped call the loader continues straight into the next iteration's weights: the boundary
//   disappears.
#pragma once

#include <deque>
#include <systemc>
#include <vector>

#include "models/common/bandwidth_channel.h"
#include "sim/config/hw_config.h"
#include "sim/mapping/program.h"
#include "sim/mapping/program_source.h"
#include "sim/mapping/tile_listener.h"
#include "sim/report/simulation_trace.h"

namespace dfsim {

class DataflowMachine : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(DataflowMachine);
  DataflowMachine(sc_core::sc_module_name name, const DataflowSpec& chip, ProgramSource& steps,
                  SimulationTrace& trace, TileListener* listener = nullptr);

  BandwidthChannel hbm;
  BandwidthChannel ddr;
  BandwidthChannel link;

 private:
  // The bytes of one stage of one chunk of one kernel, and where the loader put them.
  struct Load {
    std::size_t kernel = 0;  // index into the current call's kernels
    double hbm_bytes = 0;
    double ddr_bytes = 0;
    bool issued = false;
    BandwidthChannel::Transfer* hbm_transfer = nullptr;
    BandwidthChannel::Transfer* ddr_transfer = nullptr;
    sc_core::sc_event issued_event;
  };

  void host();      // SC_THREAD: kernel calls and their boundaries
  void loader();    // SC_THREAD: streams the current call's loads
  void pipeline();  // SC_THREAD: runs the current call's stages

  void wait_loaded(Load& load);
  double stage_compute_time(const Kernel& kernel, const Stage& stage) const;

  const DataflowSpec& chip_;
  ProgramSource& steps_;
  SimulationTrace& trace_;
  TileListener* listener_;

  // The call in progress.
  const Program* program_ = nullptr;
  std::size_t first_ = 0;
  std::size_t count_ = 0;
  int step_ = 0;
  std::deque<Load> loads_;  // in pipeline order: kernel, chunk, stage (events do not move)
  std::vector<KernelRecord> records_;
  double buffered_ = 0;  // bytes loaded or in flight, not yet consumed by the pipeline
  sc_core::sc_event call_start_;
  sc_core::sc_event call_done_;
  sc_core::sc_event consumed_;
};

}  // namespace dfsim
