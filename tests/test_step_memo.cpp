// Step-time memoization (sim/serving/step_memo.h): context buckets and canonical batches by hand.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "sim/serving/step_memo.h"

TEST_CASE("context buckets: exact below 64, then 1/32 wide, represented by their middle",
          "[serving][memo]") {
  // Below 64 a context is its own bucket.
  CHECK(dfsim::context_bucket(63).index == 63);
  CHECK(dfsim::context_bucket(63).middle == 63);
  // [64, 66): bucket 0 above the exact range, index 64, middle 64 x (1 + 1/64) = 65.
  CHECK(dfsim::context_bucket(64).index == 64);
  CHECK(dfsim::context_bucket(64).middle == Approx(65).epsilon(1e-12));
  CHECK(dfsim::context_bucket(65.5).index == 64);
  // 1000: b = floor(ln(1000 / 64) / ln(1 + 1/32)) = floor(2.74887 / 0.0307716) = floor(89.33)
  // = 89, index 64 + 89 = 153; the bucket starts at 64 x 1.03125^89 = 989.86 and its middle is
  // that x (1 + 1/64) = 1005.32.
  const dfsim::ContextBucket thousand = dfsim::context_bucket(1000);
  CHECK(thousand.index == 153);
  CHECK(thousand.middle == Approx(1005.3237).epsilon(1e-6));
  // The middle is within half a bucket (1/64 of its start) of any context in it.
  for (double context : {989.9, 1000.0, 1020.0}) {
    const dfsim::ContextBucket bucket = dfsim::context_bucket(context);
    CHECK(bucket.index == 153);
    CHECK(std::abs(bucket.middle - context) / context <= 1.0 / 64 + 1e-12);
  }
  CHECK(dfsim::context_bucket(1021).index == 154);  // 989.86 x 1.03125 = 1020.79
  CHECK_THROWS(dfsim::context_bucket(-1));
}

TEST_CASE(
    "a canonical step keeps the tokens and sampled rows, and the decodes' mean context in "
    "its bucket",
    "[serving][memo]") {
  dfsim::StepBatch batch;
  // Three decodes at contexts 990, 1000 and 1010 (mean 1000), a prefill chunk of 256 tokens at
  // context 0 that does not sample, and a last chunk of 100 tokens at context 512 that does.
  batch.sequences = {
      {.request = 0, .tokens = 1, .context = 990, .samples = true},
      {.request = 1, .tokens = 1, .context = 1000, .samples = true},
      {.request = 2, .tokens = 256, .context = 0, .samples = false, .prefill = true},
      {.request = 3, .tokens = 1, .context = 1010, .samples = true},
      {.request = 4, .tokens = 100, .context = 512, .samples = true, .prefill = true}};
  const dfsim::CanonicalStep step = dfsim::canonical_step(batch);
  // Key: 3 decodes, mean context 1000 in bucket 153; 2 chunks sorted by tokens: (100, bucket of
  // 512, samples) and (256, 0, no sample). 512: b = floor(ln 8 / ln 1.03125) = floor(67.58) = 67,
  // index 131.
  CHECK(step.key == std::vector<std::int64_t>{3, 153, 2, 100, 131, 1, 256, 0, 0});
  // The decodes at the bucket's middle, 1005.32: 3 x 1005.32 = 3015.97, rounded 3016 = 1006 +
  // 1005 + 1005.
  REQUIRE(step.batch.sequences.size() == 5);
  long long decode_contexts = 0;
  for (int i = 0; i < 3; ++i) {
    CHECK(step.batch.sequences[i].tokens == 1);
    CHECK(step.batch.sequences[i].samples);
    decode_contexts += step.batch.sequences[i].context;
  }
  CHECK(decode_contexts == 3016);
  CHECK(step.batch.sequences[0].context == 1006);
  // The chunks keep their tokens and sampling; the 512 context becomes its bucket's middle:
  // 64 x 1.03125^67 x (1 + 1/64) = 510.86, rounded 511.
  CHECK(step.batch.sequences[3].tokens == 100);
  CHECK(step.batch.sequences[3].context == 511);
  CHECK(step.batch.sequences[3].samples);
  CHECK(step.batch.sequences[4].tokens == 256);
  CHECK(step.batch.sequences[4].context == 0);
  CHECK_FALSE(step.batch.sequences[4].samples);
  CHECK(step.batch.total_tokens() == batch.total_tokens());

  // The same decodes a token further on (991, 1001, 1011: mean 1001, same bucket) and the same
  // chunks have the same key; a fourth decode does not.
  dfsim::StepBatch later = batch;
  for (dfsim::StepSequence& sequence : later.sequences) sequence.context += sequence.tokens == 1;
  CHECK(dfsim::canonical_step(later).key == step.key);
  later.sequences.push_back({.request = 5, .tokens = 1, .context = 1000, .samples = true});
  CHECK(dfsim::canonical_step(later).key != step.key);

  dfsim::StepMemo memo;
  CHECK_FALSE(memo.find(step.key));
  memo.store(step.key, 0.25);
  CHECK(memo.find(step.key) == 0.25);
  CHECK(memo.hits() == 1);
  CHECK(memo.misses() == 1);
}
