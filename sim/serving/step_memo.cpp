#include "sim/serving/step_memo.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>

namespace dfsim {

ContextBucket context_bucket(double context) {
  if (!(context >= 0) || !std::isfinite(context)) {
    throw std::invalid_argument("context_bucket: a context must be finite and >= 0");
  }
  if (context < kExactContexts) {
    const double exact = std::floor(context);
    // A fractional mean below the exact range keeps its value (the bucket is its floor).
    return {static_cast<std::int64_t>(exact), context};
  }
  const double growth = 1 + kContextBucketWidth;
  const auto b =
      static_cast<std::int64_t>(std::floor(std::log(context / kExactContexts) / std::log(growth)));
  const double low = kExactContexts * std::pow(growth, static_cast<double>(b));
  return {static_cast<std::int64_t>(kExactContexts) + b, low * (1 + kContextBucketWidth / 2)};
}

CanonicalStep canonical_step(const StepBatch& batch) {
  // Decodes: 1 new token that samples. Everything else (prefill chunks) one by one.
  std::int64_t decodes = 0;
  double context_sum = 0;
  std::vector<std::tuple<std::int64_t, std::int64_t, bool, double>> chunks;
  for (const StepSequence& sequence : batch.sequences) {
    if (sequence.tokens == 1 && sequence.samples) {
      ++decodes;
      context_sum += static_cast<double>(sequence.context);
    } else {
      const ContextBucket bucket = context_bucket(static_cast<double>(sequence.context));
      chunks.emplace_back(sequence.tokens, bucket.index, sequence.samples, bucket.middle);
    }
  }
  std::sort(chunks.begin(), chunks.end());
  CanonicalStep step;
  step.key.push_back(decodes);
  if (decodes > 0) {
    const ContextBucket bucket = context_bucket(context_sum / static_cast<double>(decodes));
    step.key.push_back(bucket.index);
    // The bucket's middle for every decode, as whole contexts that add up to it: `rest` of them
    // one longer than the others.
    const auto total = static_cast<std::int64_t>(std::llround(bucket.middle * decodes));
    const std::int64_t base = total / decodes;
    const std::int64_t rest = total % decodes;
    step.batch.sequences.reserve(static_cast<std::size_t>(decodes) + chunks.size());
    for (std::int64_t i = 0; i < decodes; ++i) {
      step.batch.sequences.push_back({.request = -1,
                                      .tokens = 1,
                                      .context = base + (i < rest ? 1 : 0),
                                      .samples = true,
                                      .prefill = false});
    }
  }
  step.key.push_back(static_cast<std::int64_t>(chunks.size()));
  for (const auto& [tokens, index, samples, middle] : chunks) {
    step.key.push_back(tokens);
    step.key.push_back(index);
    step.key.push_back(samples ? 1 : 0);
    step.batch.sequences.push_back({.request = -1,
                                    .tokens = static_cast<int>(tokens),
                                    .context = std::llround(middle),
                                    .samples = samples,
                                    .prefill = true});
  }
  return step;
}

std::optional<double> StepMemo::find(const std::vector<std::int64_t>& key) {
  auto it = seconds_.find(key);
  if (it == seconds_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return it->second;
}

void StepMemo::store(const std::vector<std::int64_t>& key, double seconds) {
  seconds_[key] = seconds;
}

}  // namespace dfsim
