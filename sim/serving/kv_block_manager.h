// A paged KV cache (vLLM's PagedAttention, TensorRT-LLM's paged KV cache): memory is a pool of
// blocks of `block_tokens` tokens each, and a sequence holds ceil(tokens / block_tokens) blocks
// for the tokens whose keys and values are cached. Blocks are counted, not placed: which physical
// block a sequence gets does not change the cost of a step, only how many are free does.
// Sequences are named by request index.
#pragma once

#include <vector>

namespace dfsim {

class KvBlockManager {
 public:
  // block_tokens >= 1, capacity_blocks >= 1 (std::invalid_argument otherwise: the caller
  // validates user input first).
  KvBlockManager(int block_tokens, int capacity_blocks);

  int block_tokens() const { return block_tokens_; }
  int capacity_blocks() const { return capacity_blocks_; }
  int used_blocks() const { return used_blocks_; }
  int free_blocks() const { return capacity_blocks_ - used_blocks_; }
  // Blocks that `tokens` cached tokens occupy.
  int blocks_for(long long tokens) const;
  // Blocks sequence `id` holds now (0 for one that holds none).
  int held(int id) const;
  // More blocks sequence `id` needs to hold `tokens` tokens (0 if it already does).
  int blocks_needed(int id, long long tokens) const;

  // Grows sequence `id` so that it holds `tokens` tokens: allocates its first blocks or appends
  // to them. Returns false, changing nothing, when too few blocks are free. Never shrinks.
  bool grow_to(int id, long long tokens);
  // Frees every block of sequence `id` (finished or preempted).
  void free(int id);

 private:
  int block_tokens_;
  int capacity_blocks_;
  int used_blocks_ = 0;
  std::vector<int> held_;  // by sequence id
};

}  // namespace dfsim
