// A multi-core server CPU (Intel Xeon-like) as a plain value: cores with AMX tiles and AVX-512,
// per-core L2, a shared L3, DDR5 channels, sockets joined by UPI, and the cost of a parallel
// region. Rates are per core per cycle, as the ISA documents them; the model multiplies by the
// clock and by the threads a run uses (`cores`), never by a whole-chip datasheet figure.
#pragma once

#include "sim/common/dtype.h"
#include "sim/config/config_reader.h"
#include "sim/config/link_spec.h"

namespace dfsim {

// DDR channels of one socket. Peak bandwidth = channels x MT/s x 8 B (a 64-bit channel).
struct DdrChannelsSpec {
  int channels = 0;
  double transfers_per_second = 0;  // 4800 MT/s -> 4.8e9
  double capacity = 0;              // bytes per socket
  double achievable_fraction = 1;   // share of peak a streaming read sustains (STREAM)
  double latency = 0;               // seconds from a core's miss to its first byte

  double bandwidth() const { return channels * transfers_per_second * 8.0; }
};

struct CpuCacheSpec {
  double capacity = 0;   // bytes (L2: per core; L3: per socket)
  double bandwidth = 0;  // bytes/s (L2: per core; L3: per socket)
};

struct CpuSpec {
  double clock = 0;        // Hz under sustained all-core vector load
  int physical_cores = 0;  // per socket
  int cores = 0;           // threads a run uses per socket (one per core), <= physical_cores
  int sockets = 1;         // sockets sharing the model by tensor parallelism over UPI

  // Matrix engine (AMX): ops per core per cycle; a tile holds amx_rows rows of the activations,
  // so a matmul with fewer rows uses that fraction of it.
  double amx_bf16 = 0;
  double amx_int8 = 0;
  int amx_rows = 16;
  // AVX-512 ops per core per cycle: fp32 FMA, bf16 dot products (VDPBF16PS), int8 VNNI
  // (VPDPBUSD), and the 512-bit vector instructions issued per cycle (ports).
  double avx512_fp32 = 0;
  double avx512_bf16 = 0;
  double avx512_int8 = 0;
  double vector_instructions = 0;
  // Vector instructions to unpack 64 quantized weights into int8 lanes for VNNI/AMX (shift,
  // mask, sign offset); 0 for int8 weights, which feed the dot products directly.
  double unpack_int4 = 0;

  double inflight_bytes_per_core = 0;  // outstanding misses x 64 B (Little's law per core)
  CpuCacheSpec l2;                     // per core
  CpuCacheSpec l3;                     // per socket
  DdrChannelsSpec ddr;
  LinkSpec upi;          // between the sockets: bandwidth per direction over all links
  double fork_join = 0;  // seconds to start the threads of a parallel region and join them
  // Seconds for a barrier among threads already running: the boundary between kernels inside
  // one persistent parallel region (kernel looping on a CPU).
  double barrier = 0;

  // Peak ops/s of one socket's used cores on the best engine for `dtype` (AMX, else AVX-512).
  double peak_ops(Dtype dtype) const;
  // Ops per core per cycle of a matmul of `rows` activation rows in `dtype`: the faster of AMX
  // (at rows / amx_rows occupancy) and AVX-512.
  double matmul_ops_per_cycle(Dtype dtype, long long rows) const;
};

// Reads the fields of a `family: cpu` config; `root` is the document root.
CpuSpec parse_cpu(ConfigReader& root);

}  // namespace dfsim
