#include "sim/serving/kv_block_manager.h"

#include <stdexcept>

namespace dfsim {

KvBlockManager::KvBlockManager(int block_tokens, int capacity_blocks)
    : block_tokens_(block_tokens), capacity_blocks_(capacity_blocks) {
  if (block_tokens < 1 || capacity_blocks < 1) {
    throw std::invalid_argument("KvBlockManager: block_tokens and capacity_blocks must be >= 1");
  }
}

int KvBlockManager::blocks_for(long long tokens) const {
  if (tokens <= 0) return 0;
  return static_cast<int>((tokens + block_tokens_ - 1) / block_tokens_);
}

int KvBlockManager::held(int id) const {
  const auto index = static_cast<std::size_t>(id);
  return index < held_.size() ? held_[index] : 0;
}

int KvBlockManager::blocks_needed(int id, long long tokens) const {
  const int needed = blocks_for(tokens) - held(id);
  return needed > 0 ? needed : 0;
}

bool KvBlockManager::grow_to(int id, long long tokens) {
  if (id < 0) throw std::invalid_argument("KvBlockManager: negative sequence id");
  const int needed = blocks_needed(id, tokens);
  if (needed > free_blocks()) return false;
  if (needed == 0) return true;
  const auto index = static_cast<std::size_t>(id);
  if (index >= held_.size()) held_.resize(index + 1, 0);
  held_[index] += needed;
  used_blocks_ += needed;
  return true;
}

void KvBlockManager::free(int id) {
  const auto index = static_cast<std::size_t>(id);
  if (index >= held_.size()) return;
  used_blocks_ -= held_[index];
  held_[index] = 0;
}

}  // namespace dfsim
