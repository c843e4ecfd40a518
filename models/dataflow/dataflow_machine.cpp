#include "models/dataflow/dataflow_machine.h"
#include "models/common/program_feed.h"
#include "models/common/sim_time.h"

#include <algorithm>
#include <cmath>

#include "models/common/collective.h"
#include "models/common/kernel_record.h"

namespace dfsim {

using sc_core::SC_SEC;
using sc_core::sc_time;
using sc_core::wait;

namespace {
void wait_until(double time) {
  double delay = time - now_seconds();
  wait_seconds(delay);
}
}  // namespace

DataflowMachine::DataflowMachine(sc_core::sc_module_name name, const DataflowSpec& chip,
                                 ProgramSource& steps, SimulationTrace& trace,
                                 TileListener* listener)
    : sc_module(name),
      hbm("hbm", chip.hbm.bandwidth * chip.hbm.achievable_fraction, chip.hbm.latency,
          trace.record_kernels),
      ddr("ddr", chip.ddr.bandwidth * chip.ddr.achievable_fraction, chip.ddr.latency,
          trace.record_units),
      link("link", chip.link.bandwidth, chip.link.latency, trace.record_units),
      chip_(chip),
      steps_(steps),
      trace_(trace),
      listener_(listener) {
  SC_THREAD(host);
  SC_THREAD(loader);
  SC_THREAD(pipeline);
}

double DataflowMachine::stage_compute_time(const Kernel& kernel, const Stage& stage) const {
  auto rate = chip_.compute_rate.find(kernel.compute_dtype);
  const double socket_rate =
      rate != chip_.compute_rate.end() ? rate->second : chip_.compute_rate.begin()->second;
  const double unit_rate = socket_rate / chip_.pcu_count * stage.units;
  // One micro-batch of one chunk.
  const double batches = static_cast<double>(kernel.micro_batches);
  return stage.work.flops / batches / unit_rate;
}

void DataflowMachine::host() {
  const KernelCallSpec& call = chip_.kernel_call;
  // The program on the chip (a copy: a step source may reuse its Program between steps).
  std::string loaded_program;
  bool loaded = false;
  bool first_call = true;
  for (int step = 0;; ++step) {
    const Program* next = next_program(steps_);
    if (next == nullptr) break;
    const Program& program = *next;
    std::size_t index = 0;
    while (index < program.kernels.size()) {
      std::size_t count = 1;
      while (index + count < program.kernels.size() &&
             program.kernels[index + count].continues_loop) {
        ++count;
      }
      // The boundary before this call: the previous call seen complete on every socket (by
      // the host, or by the sockets' barrier), this call issued, its program loaded.
      double boundary_begin = now_seconds();
      const bool by_host = call.orchestration == Orchestration::kHost || index == 0;
      double overhead = by_host ? call.host_boundary(chip_.sockets, first_call)
                                : call.device_boundary(chip_.sockets);
      const Kernel& head = program.kernels[index];
      const bool load_program = !loaded || loaded_program != head.signature;
      if (load_program) overhead += call.program_load;
      if (trace_.record_units) {
        const char* what = first_call ? "launch" : by_host ? "sync + launch" : "barrier + launch";
        trace_.unit_slices.push_back(
            {"host", std::string(what) + (load_program ? " + program load " : " ") + head.name,
             boundary_begin, boundary_begin + overhead});
      }
      loaded_program = head.signature;
      loaded = true;
      first_call = false;
      wait_seconds(overhead);

      program_ = &program;
      first_ = index;
      count_ = count;
      step_ = step;
      records_.assign(count, KernelRecord{});
      loads_.clear();
      for (std::size_t k = 0; k < count; ++k) {
        const Kernel& kernel = program.kernels[index + k];
        records_[k] = open_kernel_record(step_, index + k, kernel, k == 0 ? boundary_begin : -1);
        for (std::int64_t chunk = 0; chunk < kernel.token_chunks; ++chunk) {
          for (const Stage& stage : kernel.stages) {
            Load& load = loads_.emplace_back();
            load.kernel = k;
            const double reads = stage.work.dram_read_bytes / kernel.token_chunks;
            load.ddr_bytes = stage.work.ddr_read_bytes / kernel.token_chunks;
            load.hbm_bytes = std::max(0.0, reads - load.ddr_bytes);
          }
        }
      }
      buffered_ = 0;
      call_start_.notify(sc_core::SC_ZERO_TIME);
      wait(call_done_);
      if (trace_.record_kernels) {
        for (KernelRecord& record : records_) trace_.kernels.push_back(record);
      }
      index += count;
    }
  }
  trace_.end_time = now_seconds();
}

void DataflowMachine::loader() {
  for (;;) {
    wait(call_start_);
    const double hbm_rate = hbm.bandwidth();
    const double ddr_rate = ddr.bandwidth();
    for (Load& load : loads_) {
      const Kernel& kernel = program_->kernels[first_ + load.kernel];
      const double bytes = load.hbm_bytes + load.ddr_bytes;
      // Run ahead of the pipeline only as far as the SRAM beside the activations allows.
      const double window = std::max(chip_.sram.capacity - kernel.onchip_working_set, 0.0);
      while (buffered_ > 0 && buffered_ + bytes > window) wait(consumed_);
      buffered_ += bytes;
      if (load.hbm_bytes > 0) load.hbm_transfer = &hbm.issue(load.hbm_bytes, 0);
      if (load.ddr_bytes > 0) load.ddr_transfer = &ddr.issue(load.ddr_bytes, 0);
      load.issued = true;
      load.issued_event.notify(sc_core::SC_ZERO_TIME);
      // Pace: the next request goes out one latency before this one's last byte.
      double pace = std::max(load.hbm_bytes > 0 ? load.hbm_bytes / hbm_rate : 0.0,
                             load.ddr_bytes > 0 ? load.ddr_bytes / ddr_rate : 0.0);
      wait_seconds(pace);
    }
  }
}

void DataflowMachine::wait_loaded(Load& load) {
  if (!load.issued) wait(load.issued_event);
  KernelRecord& record = records_[load.kernel];
  for (BandwidthChannel::Transfer* transfer : {load.hbm_transfer, load.ddr_transfer}) {
    if (!transfer) continue;
    if (!transfer->finished) wait(transfer->done);
    if (record.dram_first_byte < 0 || transfer->first_byte < record.dram_first_byte)
      record.dram_first_byte = transfer->first_byte;
    record.dram_last_byte = std::max(record.dram_last_byte, transfer->last_byte);
  }
}

void DataflowMachine::pipeline() {
  for (;;) {
    wait(call_start_);
    std::vector<BandwidthChannel::Transfer*> writes;
    // Schedule state: when the previous stage passed on its first micro-batch, and finished.
    double previous_first_out = now_seconds();
    double previous_end = now_seconds();
    std::size_t next_load = 0;
    for (std::size_t k = 0; k < count_; ++k) {
      const Kernel& kernel = program_->kernels[first_ + k];
      KernelRecord& record = records_[k];
      record.start = -1;
      // When each stage's PCUs are done with the previous chunk: a stage takes its chunks in turn.
      std::vector<double> stage_free(kernel.stages.size(), 0.0);
      for (std::int64_t chunk = 0; chunk < kernel.token_chunks; ++chunk) {
        for (std::size_t s = 0; s < kernel.stages.size(); ++s) {
          const Stage& stage = kernel.stages[s];
          Load& load = loads_[next_load++];
          wait_loaded(load);
          if (trace_.record_units) {
            for (BandwidthChannel::Transfer* transfer : {load.hbm_transfer, load.ddr_transfer}) {
              if (!transfer) continue;
              trace_.unit_slices.push_back(
                  {"loader",
                   kernel.name + "." + stage.name + (transfer == load.ddr_transfer ? " (DDR)" : ""),
                   transfer->first_byte, transfer->last_byte});
            }
          }
          const double loaded_bytes = load.hbm_bytes + load.ddr_bytes;
          // Its first micro-batch waits for the predecessor's, one stage latency away, and for
          // its own PCUs to finish the previous chunk.
          wait_until(std::max(previous_first_out + chip_.stage_latency, stage_free[s]));
          const double start = now_seconds();
          if (record.start < 0) record.start = start;
          const double micro_batches =
              static_cast<double>(kernel.micro_batches) / static_cast<double>(kernel.token_chunks);
          double per_batch = stage_compute_time(kernel, stage);
          if (stage.work.collective != Collective::kNone) {
            const CollectiveCost cost =
                run_collective(link, chip_.link, stage.work.collective,
                               stage.work.collective_bytes / kernel.token_chunks, chip_.sockets);
            if (trace_.record_units) {
              trace_.unit_slices.push_back(
                  {"link",
                   kernel.name + "." + stage.name + " " +
                       std::string(collective_name(stage.work.collective)) + " (" +
                       std::string(collective_algorithm_name(cost.algorithm)) + ")",
                   start, now_seconds()});
            }
            per_batch = std::max(per_batch, (now_seconds() - start) / micro_batches);
          }
          const double write_bytes = stage.work.dram_write_bytes / kernel.token_chunks;
          if (write_bytes > 0) writes.push_back(&hbm.issue(write_bytes, 0));
          previous_first_out = start + per_batch;
          stage_free[s] = start + micro_batches * per_batch;
          if (listener_) listener_->stage_done(step_, first_ + k, chunk, s);
          if (trace_.record_units) {
            std::string what = kernel.name;
            if (kernel.token_chunks > 1) {
              what +=
                  " chunk " + std::to_string(chunk + 1) + "/" + std::to_string(kernel.token_chunks);
            }
            trace_.unit_slices.push_back({"PCUs: " + stage.name, what, start, stage_free[s]});
          }
          previous_end = std::max(previous_end + chip_.stage_latency + per_batch, stage_free[s]);
          buffered_ -= loaded_bytes;
          consumed_.notify(sc_core::SC_ZERO_TIME);
        }
      }
      // The kernel (one loop iteration) is done when its last stage is.
      wait_until(previous_end);
      record.end = now_seconds();
      previous_first_out = std::max(previous_first_out, now_seconds() - chip_.stage_latency);
    }
    // The call ends when its results are in memory and the pipeline has drained.
    for (BandwidthChannel::Transfer* write : writes) {
      if (!write->finished) wait(write->done);
      hbm.release(*write);
    }
    wait_seconds(chip_.stage_latency);
    for (Load& load : loads_) {
      if (load.hbm_transfer) hbm.release(*load.hbm_transfer);
      if (load.ddr_transfer) ddr.release(*load.ddr_transfer);
    }
    call_done_.notify(sc_core::SC_ZERO_TIME);
  }
}

}  // namespace dfsim
