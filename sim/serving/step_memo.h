// Step-time memoization for long serving runs: most iterations of a server under load repeat the
// same cost up to a small error (the same decodes a token further on, the same prompt lengths
// admitted), so each iteration is reduced to a canonical batch whose cost is close to its own, and
// the machine runs each canonical batch once; later iterations with the same key take its time.
//
// What the cost of a step depends on (sim/workload/workload_graph.cpp builds it):
// - the matmuls, KV append and norms: the total tokens and the sampled rows (LM head); kept exact;
// - a decode's attention (1 new token): its keys, context + 1, both in FLOPs and in KV bytes read,
//   i.e. linear in the context; summed over the decodes of one fused attention kernel, it depends
//   on the sum of their contexts, i.e. on their count (exact) and their mean context, which the
//   key buckets (context_bucket()): the canonical batch gives every decode the bucket's middle
//   (split between two neighbouring integers so that their sum is the middle times the count);
// - a prefill chunk's attention: its tokens n (exact) and its context p, pairs n x p + n(n+1)/2;
//   each chunk keeps its tokens and whether it samples and has its context bucketed the same way.
// The error one iteration takes is then at most the attention's share of its time times half a
// bucket's relative width (kContextBucketWidth / 2 = 1/64, 1.6 %), and much less on average, since
// a mean context sweeps through a bucket and the middle is as often above it as below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "sim/serving/step_batch.h"

namespace dfsim {

// Contexts below this are their own bucket (exact); above it buckets grow geometrically.
inline constexpr double kExactContexts = 64;
// Relative width of one bucket above kExactContexts: [64 (1 + w)^b, 64 (1 + w)^(b + 1)).
inline constexpr double kContextBucketWidth = 1.0 / 32;

struct ContextBucket {
  std::int64_t index = 0;  // the context itself below kExactContexts, 64 + b above
  double middle = 0;       // the representative context: the context, or the bucket's middle
};

ContextBucket context_bucket(double context);

// One iteration reduced to its key and its representative batch (request ids -1).
struct CanonicalStep {
  std::vector<std::int64_t> key;
  StepBatch batch;
};

CanonicalStep canonical_step(const StepBatch& batch);

// Seconds per key, with how often they were found.
class StepMemo {
 public:
  std::optional<double> find(const std::vector<std::int64_t>& key);
  void store(const std::vector<std::int64_t>& key, double seconds);
  std::size_t hits() const { return hits_; }
  std::size_t misses() const { return misses_; }

 private:
  std::map<std::vector<std::int64_t>, double> seconds_;
  std::size_t hits_ = 0;
  std::size_t misses_ = 0;
};

}  // namespace dfsim
