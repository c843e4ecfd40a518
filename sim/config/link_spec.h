// Socket-to-socket (or GPU-to-GPU) links that carry collectives without going through DRAM,
// shared by every family with more than one socket (NVLink, SN40L P2P, UPI).
#pragma once

#include "sim/config/config_reader.h"

namespace dfsim {

// The collective algorithm a link's collectives use (sim/mapping/collective_algorithm.h):
// `auto` picks the cheapest by its alpha-beta cost, as NCCL's tuner does.
enum class CollectiveChoice { kAuto, kRing, kTree, kOneShot };

struct LinkSpec {
  double bandwidth = 0;  // bytes/s per socket per direction, all ports together
  double latency = 0;    // seconds per step of a collective (alpha)
  // Links the bandwidth is spread over, each to a different peer: a message to one peer gets
  // bandwidth / ports. 1 when every peer is reachable at the full bandwidth (a switch).
  int ports = 1;
  CollectiveChoice collective = CollectiveChoice::kAuto;
  // The most sockets the system this link belongs to joins (an HGX baseboard: 8 GPUs); 0 when the
  // config does not say. `sockets` and `--tp` may not exceed it.
  int max_sockets = 0;
};

// Reads a link section: bandwidth, latency, and optionally ports (default 1), collective
// (default auto) and max_sockets (default: not stated).
LinkSpec parse_link(ConfigReader reader);

}  // namespace dfsim
