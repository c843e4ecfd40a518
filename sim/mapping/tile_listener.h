// What a machine tells a listener as it executes a Program: which pieces of which kernel have
// just been completed, in simulated-time order. The functional executor listens and computes
// those pieces on real tensors; the call takes no simulated time, so timing is unchanged.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dfsim {

class TileListener {
 public:
  virtual ~TileListener() = default;
  // Tile-based machines (GPU SMs): tiles [first, first + count) of kernel `kernel` of program
  // `step` are done.
  virtual void tiles_done(int step, std::size_t kernel, std::int64_t first, std::int64_t count) = 0;
  // Pipelined machines (dataflow): stage `stage` of kernel `kernel` has processed token chunk
  // `chunk` (of the kernel's token_chunks).
  virtual void stage_done(int step, std::size_t kernel, std::int64_t chunk, std::size_t stage) = 0;
};

}  // namespace dfsim
