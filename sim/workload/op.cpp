#include "sim/workload/op.h"

namespace dfsim {

std::string_view op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kEmbedding:
      return "embedding";
    case OpKind::kRmsNorm:
      return "rmsnorm";
    case OpKind::kMatMul:
      return "matmul";
    case OpKind::kRope:
      return "rope";
    case OpKind::kKvAppend:
      return "kv_append";
    case OpKind::kAttentionScores:
      return "attention_scores";
    case OpKind::kSoftmax:
      return "softmax";
    case OpKind::kAttentionValues:
      return "attention_values";
    case OpKind::kSwiGlu:
      return "swiglu";
    case OpKind::kAdd:
      return "add";
    case OpKind::kAllReduce:
      return "all_reduce";
    case OpKind::kAllGather:
      return "all_gather";
    case OpKind::kRouter:
      return "router";
    case OpKind::kExpertMatMul:
      return "expert_matmul";
    case OpKind::kFeatureMap:
      return "feature_map";
    case OpKind::kLinearAttention:
      return "linear_attention";
  }
  return "?";
}

std::int64_t Tensor::elements() const {
  std::int64_t count = 1;
  for (std::int64_t dimension : shape) count *= dimension;
  return count;
}

}  // namespace dfsim
