#include "sim/workload/estimate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

namespace dfsim {

namespace {

bool is_attention_projection(const Op& op) {
  return op.role == "q_proj" || op.role == "k_proj" || op.role == "v_proj" || op.role == "o_proj";
}

std::string component_of(const Op& op) {
  switch (op.kind) {
    case OpKind::kEmbedding:
      return "embedding";
    case OpKind::kRmsNorm:
      return "norms";
    case OpKind::kRouter:
      return "router";
    case OpKind::kExpertMatMul:
      return "experts";
    case OpKind::kMatMul:
      if (op.role == "lm_head") return "lm_head";
      return is_attention_projection(op) ? "attention" : "mlp";
    default:
      return "";
  }
}

// Integers print exactly; fractions (expected experts, bytes per parameter) with 6 digits.
std::string number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e18) return group_digits(value);
  return fmt::format("{:.6g}", value);
}

// Terms in first-seen order, ops with the same role and formula merged.
class Terms {
 public:
  void add(const std::string& role, const std::string& formula, double value) {
    for (Term& term : terms_) {
      if (term.role == role && term.formula == formula) {
        ++term.count;
        term.value += value;
        return;
      }
    }
    terms_.push_back({role, 1, formula, value});
  }
  std::vector<Term> take() { return std::move(terms_); }

 private:
  std::vector<Term> terms_;
};

std::string parameter_formula(const Op& op) {
  switch (op.kind) {
    case OpKind::kEmbedding:
      return fmt::format("vocab {} x hidden {}", number(op.parameters / op.n), number(op.n));
    case OpKind::kRmsNorm:
      return fmt::format("hidden {}", number(op.n));
    case OpKind::kRouter:
      return fmt::format("{} x {} experts", number(op.k), number(op.n));
    case OpKind::kExpertMatMul:
      return fmt::format("{} experts x {} x {}", op.experts, number(op.k), number(op.n));
    default:
      break;
  }
  const std::int64_t bias = op.parameters - op.k * op.n;
  if (bias > 0) return fmt::format("{} x {} + bias {}", number(op.k), number(op.n), number(bias));
  return fmt::format("{} x {}", number(op.k), number(op.n));
}

// One op's FLOPs as the builder counts them (sim/workload/workload_graph.cpp).
std::string flop_formula(const Op& op) {
  const double extra = op.flops - op.matmul_flops;
  switch (op.kind) {
    case OpKind::kMatMul:
      if (extra > 0)
        return fmt::format("2 x {} x {} x {} + {} x {} bias", number(op.m), number(op.k),
                           number(op.n), number(op.m), number(op.n));
      return fmt::format("2 x {} x {} x {}", number(op.m), number(op.k), number(op.n));
    case OpKind::kRouter:
      return fmt::format("2 x {} x {} x {} + {} x {} (softmax, top-k, renormalize)", number(op.m),
                         number(op.k), number(op.n), number(op.m), number(extra / op.m));
    case OpKind::kExpertMatMul:
      if (extra > 0)
        return fmt::format("2 x {} routed rows x {} x {} + 2 x {} x {} (weight, combine)",
                           number(op.m), number(op.k), number(op.n), number(op.m), number(op.n));
      return fmt::format("2 x {} routed rows x {} x {}", number(op.m), number(op.k), number(op.n));
    case OpKind::kAttentionScores:
      return fmt::format("{} (batch x heads) x (2 x {} + 1) x {} pairs", number(op.groups),
                         number(op.k), number(op.matmul_flops / (2.0 * op.k * op.groups)));
    case OpKind::kSoftmax:
      return fmt::format("{} (batch x heads) x 5 x {} pairs", number(op.groups),
                         number(op.flops / (5.0 * op.groups)));
    case OpKind::kAttentionValues:
      return fmt::format("{} (batch x heads) x 2 x {} x {} pairs", number(op.groups), number(op.n),
                         number(op.flops / (2.0 * op.n * op.groups)));
    case OpKind::kFeatureMap:
      return fmt::format("{} x {} (heads x features) x (2 x {} + 3)", number(op.m), number(op.n),
                         number(op.k));
    case OpKind::kLinearAttention:
      return fmt::format(
          "{} (batch x heads) x {} tokens: state and output, 2 x 2 x {} x {} per "
          "token and head + sums",
          number(op.groups), number(op.m), number(op.k), number(op.n));
    case OpKind::kRmsNorm:
      return fmt::format("{} x (4 x {} + 3)", number(op.m), number(op.n));
    case OpKind::kRope:
      return fmt::format("3 x {} x {}", number(op.m), number(op.n));
    case OpKind::kSwiGlu:
      return fmt::format("5 x {} x {}", number(op.m), number(op.n));
    case OpKind::kAdd:
      return fmt::format("{} x {}", number(op.m), number(op.n));
    case OpKind::kQuantize:
      if (op.flops == 3.0 * op.m * op.n)
        return fmt::format("3 x {} x {} (static scale)", number(op.m), number(op.n));
      return fmt::format("5 x {} x {} + 2 x {} (per-token scales)", number(op.m), number(op.n),
                         number(op.m));
    case OpKind::kDequantize:
      return fmt::format("{} x {} x {}", number(op.flops / (static_cast<double>(op.m) * op.n)),
                         number(op.m), number(op.n));
    case OpKind::kAllReduce:
      return fmt::format("{} x {} x {} (ranks - 1)", number(op.m), number(op.n),
                         number(op.flops / (static_cast<double>(op.m) * op.n)));
    default:
      return "";
  }
}

std::vector<ParameterGroup> parameter_groups(const WorkloadGraph& graph) {
  static const char* kOrder[] = {"embedding", "attention", "mlp",    "router",
                                 "experts",   "norms",     "lm_head"};
  std::map<std::string, Terms> terms;
  std::map<std::string, ParameterGroup> groups;
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    const std::string component = component_of(op);
    if (component.empty()) continue;
    ParameterGroup& group = groups[component];
    group.parameters += op.parameters;
    group.active += op.active_parameters;
    terms[component].add(op.role, parameter_formula(op), static_cast<double>(op.parameters));
  }
  std::vector<ParameterGroup> ordered;
  for (const char* name : kOrder) {
    auto it = groups.find(name);
    if (it == groups.end()) continue;
    it->second.component = name;
    it->second.terms = terms[name].take();
    ordered.push_back(std::move(it->second));
  }
  return ordered;
}

FlopCount count_flops(const WorkloadGraph& graph, std::string label, std::int64_t tokens) {
  FlopCount count;
  count.label = std::move(label);
  count.tokens = tokens;
  Terms terms;
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    if (op.flops == 0) continue;
    count.total += op.flops;
    switch (op.kind) {
      case OpKind::kMatMul:
      case OpKind::kRouter:
      case OpKind::kExpertMatMul:
        count.matmul += op.flops;
        break;
      case OpKind::kAttentionScores:
        count.attention_scores += op.flops;
        break;
      case OpKind::kSoftmax:
        count.attention_softmax += op.flops;
        break;
      case OpKind::kAttentionValues:
        count.attention_values += op.flops;
        break;
      case OpKind::kAllReduce:
      case OpKind::kAllGather:
        count.collectives += op.flops;
        break;
      default:
        count.other += op.flops;
        break;
    }
    terms.add(op.role, flop_formula(op), op.flops);
  }
  count.terms = terms.take();
  return count;
}

std::vector<Optimizer> training_memory(const WorkloadGraph& graph, std::int64_t parameters) {
  const double p = static_cast<double>(parameters);
  // Mixed-precision training as in ZeRO (Rajbhandari et al. 2019, arXiv:1910.02054, sec. 3.1):
  // bf16 weights (2 B) and gradients (2 B) plus an fp32 master copy (4 B) for every optimizer;
  // they differ only in their states.
  const double base = 8.0 * p;
  const std::string common = "weights 2 + gradients 2 + fp32 master 4";
  // Adafactor (Shazeer & Stern 2018, arXiv:1804.04235): no first moment (beta1 = 0, the
  // transformers default) and the second moment of an r x c matrix factored into r + c fp32
  // values; vectors (norms, biases) keep a full fp32 second moment.
  double factored = 0;
  for (std::size_t id = 0; id < graph.op_count(); ++id) {
    const Op& op = graph.op(id);
    if (op.parameters == 0) continue;
    switch (op.kind) {
      case OpKind::kMatMul:
      case OpKind::kRouter:
        factored += 4.0 * (op.k + op.n) + 4.0 * (op.parameters - op.k * op.n);
        break;
      case OpKind::kExpertMatMul:
        factored += 4.0 * op.experts * (op.k + op.n);
        break;
      case OpKind::kEmbedding:
        factored += 4.0 * (op.parameters / op.n + op.n);
        break;
      default:
        factored += 4.0 * op.parameters;
        break;
    }
  }
  // bitsandbytes 8-bit Adam (Dettmers et al. 2021, arXiv:2110.02861): m and v in 8 bits each,
  // with one fp32 absmax per block of 2048 values per state.
  const double eight_bit = 2.0 + 2.0 * 4.0 / 2048.0;
  std::vector<Optimizer> out;
  out.push_back({"adamw", "AdamW, mixed precision", base + 8.0 * p, 8.0 * p,
                 fmt::format("{} x ({} + fp32 m 4 + fp32 v 4) = {} x 16 B", group_digits(p), common,
                             group_digits(p))});
  out.push_back({"adafactor", "Adafactor (factored, no momentum)", base + factored, factored,
                 fmt::format("{} x ({}) B + factored second moments {} B (4 x (rows + cols) per "
                             "matrix, 4 per vector element)",
                             group_digits(p), common, group_digits(factored))});
  out.push_back({"adam_8bit", "8-bit Adam (bitsandbytes)", base + eight_bit * p, eight_bit * p,
                 fmt::format("{} x ({} + m, v 1 + 1 + absmax 2 x 4/2048) = {} x {} B",
                             group_digits(p), common, group_digits(p), number(8.0 + eight_bit))});
  out.push_back({"sgd_momentum", "SGD with momentum", base + 4.0 * p, 4.0 * p,
                 fmt::format("{} x ({} + fp32 momentum 4) = {} x 12 B", group_digits(p), common,
                             group_digits(p))});
  return out;
}

}  // namespace

const std::vector<WeightFormat>& weight_formats() {
  // The layouts the simulator uses (WeightLayout, sim/common/dtype.h), at their default group
  // sizes; per-channel scales (int8) depend on each matrix's k and are left out of this table.
  const WeightLayout int4{Dtype::kInt4, default_weight_group_size(Dtype::kInt4)};
  static const std::vector<WeightFormat> formats{
      {"fp32", 4.0, "4 B"},
      {"bf16", 2.0, "2 B (fp16 the same)"},
      {"fp8", 1.0, "1 B (per-tensor scales)"},
      {"int8", 1.0, "1 B (per-channel scales, 2 B per output channel, not counted)"},
      {"int4", int4.bytes_per_weight(int4.group_size),
       fmt::format("0.5 B + 16-bit scale and zero point per group of {} = {} B", int4.group_size,
                   int4.bytes_per_weight(int4.group_size))},
      {"q8_0", dtype_bytes(Dtype::kQ8_0), "34 B per block of 32 = 1.0625 B"},
      {"q4_0", dtype_bytes(Dtype::kQ4_0), "18 B per block of 32 = 0.5625 B"},
  };
  return formats;
}

std::string group_digits(double value) {
  const bool negative = value < 0;
  std::string digits = fmt::format("{:.0f}", std::fabs(value));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

double activation_peak(const WorkloadGraph& workload, std::string* at_op,
                       std::vector<LiveTensor>* live) {
  struct Span {
    std::string name;
    std::size_t first = 0, last = 0;
    double bytes = 0;
  };
  const auto& graph = workload.graph();
  std::vector<Span> spans;
  std::map<std::string, std::size_t> index;
  for (auto [it, end] = boost::edges(graph); it != end; ++it) {
    const Tensor& tensor = graph[*it];
    const std::size_t producer = boost::source(*it, graph);
    const std::size_t consumer = boost::target(*it, graph);
    const OpKind kind = workload.op(consumer).kind;
    if (tensor.bytes() == 0 || kind == OpKind::kSoftmax || kind == OpKind::kAttentionValues)
      continue;
    auto [found, inserted] = index.emplace(tensor.name, spans.size());
    if (inserted) spans.push_back({tensor.name, producer, consumer, tensor.bytes()});
    Span& span = spans[found->second];
    span.first = std::min(span.first, producer);
    span.last = std::max(span.last, consumer);
  }
  for (std::size_t id = 0; id < workload.op_count(); ++id) {
    const Op& op = workload.op(id);
    if (op.external_write_bytes > 0)
      spans.push_back({op.name + ".out", id, id, op.external_write_bytes});
  }
  double peak = 0;
  std::size_t peak_at = 0;
  for (std::size_t id = 0; id < workload.op_count(); ++id) {
    double bytes = 0;
    for (const Span& span : spans) {
      if (span.first <= id && id <= span.last) bytes += span.bytes;
    }
    if (bytes > peak) {
      peak = bytes;
      peak_at = id;
    }
  }
  if (at_op && workload.op_count() > 0) *at_op = workload.op(peak_at).name;
  if (live) {
    live->clear();
    for (const Span& span : spans) {
      if (span.first <= peak_at && peak_at <= span.last) live->push_back({span.name, span.bytes});
    }
  }
  return peak;
}

Estimate estimate_model(const ModelSpec& model, const EstimateRequest& request) {
  Estimate result;
  result.model = model.name;
  result.weight_dtype = std::string(dtype_name(model.weight_dtype));
  result.request = request;
  result.sliding_window = model.sliding_window;
  for (const LayerOverride& item : model.layer_overrides) {
    result.window_per_layer |= item.sliding_window >= 0;
  }

  // Parameters do not depend on the step's shape; any step of the whole model counts them.
  const WorkloadGraph whole = build_decoder_graph(model, StepShape{1, 1, 0, false}, 1);
  result.components = parameter_groups(whole);
  for (const ParameterGroup& group : result.components) {
    result.total_parameters += group.parameters;
    result.active_parameters += group.active;
  }

  const int ranks = request.devices;
  const StepShape decode_step{request.batch, 1, request.context, false};
  const StepShape prefill_step{request.batch, request.prompt, 0, true};
  const WorkloadGraph decode = build_decoder_graph(model, decode_step, ranks);
  const WorkloadGraph prefill = build_decoder_graph(model, prefill_step, ranks);
  result.device_components = parameter_groups(decode);
  for (const ParameterGroup& group : result.device_components) {
    result.parameters_per_device += group.parameters;
  }
  result.decode =
      count_flops(decode, fmt::format("decode at context {}", request.context), request.batch);
  result.prefill = count_flops(prefill, fmt::format("prefill of {} tokens", request.prompt),
                               request.batch * request.prompt);

  const WorkloadGraph& asked = request.phase == PhaseKind::kDecode ? decode : prefill;
  const std::int64_t tokens =
      request.phase == PhaseKind::kDecode ? request.batch : request.batch * request.prompt;
  Terms weights;
  Terms kv;
  for (std::size_t id = 0; id < asked.op_count(); ++id) {
    const Op& op = asked.op(id);
    if (op.stored_weight_bytes > 0) {
      result.weight_bytes += op.stored_weight_bytes;
      weights.add(op.role,
                  fmt::format("{} x {} B", group_digits(op.parameters),
                              number(op.stored_weight_bytes / op.parameters)),
                  op.stored_weight_bytes);
    }
    if (op.kind == OpKind::kKvAppend) {
      const double per_token = op.cache_write_bytes / tokens;
      result.kv_cache_bytes_per_token += per_token;
      kv.add(op.role,
             fmt::format("2 (K, V) x {} x {} B", number(op.n / 2),
                         number(op.cache_write_bytes / (static_cast<double>(op.m) * op.n))),
             per_token);
    }
    if (op.kind == OpKind::kAttentionScores || op.kind == OpKind::kAttentionValues) {
      result.kv_cache_bytes += op.cache_read_bytes;
    }
    if (op.kind == OpKind::kAttentionScores)
      result.kv_positions = std::max(result.kv_positions, op.n);
  }
  result.weight_terms = weights.take();
  result.kv_terms = kv.take();
  result.activation_peak_bytes =
      activation_peak(asked, &result.activation_peak_op, &result.activation_peak_tensors);
  result.training = training_memory(decode, result.parameters_per_device);
  return result;
}

}  // namespace dfsim
