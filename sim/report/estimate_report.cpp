#include "sim/report/estimate_report.h"

#include <fmt/format.h>

#include "sim/common/units.h"
#include "sim/report/report_check.h"

namespace dfsim {

namespace {

std::string bytes(double value) {
  return format_quantity(value, Dimension::kBytes);
}

std::string term_line(const Term& term) {
  const std::string product =
      term.count == 1 ? term.formula : fmt::format("{} x ({})", term.count, term.formula);
  return fmt::format("      {:<18}{} = {}\n", term.role, product, group_digits(term.value));
}

// The attention pairs behind both phases' score/softmax/value terms.
std::string pairs_note(const Estimate& e) {
  const EstimateRequest& r = e.request;
  std::string out =
      "    attention pairs per (sequence, head): a new token at position p attends to p + 1 "
      "positions";
  if (e.sliding_window > 0 || e.window_per_layer) {
    out += e.window_per_layer ? ", at most the sliding window of its layer (see the terms)"
                              : fmt::format(", at most the sliding window {}", e.sliding_window);
  }
  const std::int64_t w = e.window_per_layer ? 0 : e.sliding_window;
  out += fmt::format(":\n      decode with {} cached: {}; prefill of {}: {}\n", r.context,
                     w > 0 ? fmt::format("min({} + 1, {}) = {}", r.context, w,
                                         group_digits(attended_pairs(r.context, 1, w)))
                           : fmt::format("{} + 1 = {}", r.context, group_digits(r.context + 1.0)),
                     r.prompt,
                     w > 0 ? fmt::format("sum over p < {} of min(p + 1, {}) = {}", r.prompt, w,
                                         group_digits(attended_pairs(0, r.prompt, w)))
                           : fmt::format("{} x {} / 2 = {}", r.prompt, r.prompt + 1,
                                         group_digits(attended_pairs(0, r.prompt, 0))));
  return out;
}

}  // namespace

std::string format_estimate(const Estimate& e, bool explain) {
  estimate_to_json(e);  // checks every value before any is printed
  const EstimateRequest& r = e.request;
  const bool several = r.devices > 1;
  std::string out = fmt::format(
      "dfsim estimate: {} ({} weights), {}, batch {}, {} {}, {} device{}\n", e.model,
      e.weight_dtype, phase_name(r.phase), r.batch,
      r.phase == PhaseKind::kDecode ? "context" : "prompt",
      r.phase == PhaseKind::kDecode ? r.context : r.prompt, r.devices, several ? "s" : "");

  // Parameters.
  out += fmt::format("\n{:<26}{:>18}{:>18}{}\n", "parameters", "total", "active per token",
                     several ? fmt::format("{:>18}", "per device") : "");
  for (std::size_t i = 0; i < e.components.size(); ++i) {
    const ParameterGroup& group = e.components[i];
    std::string device;
    if (several) {
      for (const ParameterGroup& other : e.device_components) {
        if (other.component == group.component)
          device = fmt::format("{:>18}", group_digits(other.parameters));
      }
    }
    out += fmt::format("  {:<24}{:>18}{:>18}{}\n", group.component, group_digits(group.parameters),
                       group_digits(group.active), device);
    if (explain) {
      for (const Term& term : group.terms) out += term_line(term);
    }
  }
  out += fmt::format("  {:<24}{:>18}{:>18}{}\n", "total", group_digits(e.total_parameters),
                     group_digits(e.active_parameters),
                     several ? fmt::format("{:>18}", group_digits(e.parameters_per_device)) : "");
  if (explain && e.active_parameters != e.total_parameters) {
    out +=
        "    active: every expert-held weight x num_experts_per_tok / num_local_experts; all "
        "other parameters are used by every token\n";
  }

  // FLOPs.
  out += fmt::format("\n{:<34}{:>26}{:>26}\n",
                     several ? "FLOPs per token per device" : "FLOPs per token", e.decode.label,
                     e.prefill.label);
  auto row = [&](std::string_view name, double FlopCount::*field) {
    const double decode = e.decode.*field / e.decode.tokens;
    const double prefill = e.prefill.*field / e.prefill.tokens;
    out += fmt::format("  {:<34}{:>26}{:>26}\n", name, group_digits(decode), group_digits(prefill));
  };
  row("matmuls (2 x weights x tokens)", &FlopCount::matmul);
  row("attention scores (q.k, scale)", &FlopCount::attention_scores);
  row("attention softmax", &FlopCount::attention_softmax);
  row("attention values (p.v)", &FlopCount::attention_values);
  row("other (norms, RoPE, SwiGLU, adds)", &FlopCount::other);
  if (several) row("collectives (all-reduce adds)", &FlopCount::collectives);
  row("total", &FlopCount::total);
  if (explain) {
    for (const FlopCount* count : {&e.decode, &e.prefill}) {
      out += fmt::format("    {} ({} tokens in the step; per token = step / {}):\n", count->label,
                         count->tokens, count->tokens);
      for (const Term& term : count->terms) out += term_line(term);
      out += fmt::format("      {:<18}{}\n", "step total", group_digits(count->total));
    }
    out += pairs_note(e);
  }

  // Memory.
  out += fmt::format("\nmemory{}\n", several ? " per device" : "");
  auto memory = [&](const std::string& name, double value, const std::string& note) {
    out += fmt::format("  {:<34}{:>12}{}\n", name, bytes(value), note.empty() ? "" : "   " + note);
  };
  memory(fmt::format("weights as configured ({})", e.weight_dtype), e.weight_bytes,
         fmt::format("{} parameters", group_digits(e.parameters_per_device)));
  if (explain) {
    for (const Term& term : e.weight_terms) out += term_line(term);
  }
  for (const WeightFormat& format : weight_formats()) {
    memory(
        "weights in " + format.name, format.bytes_per_parameter * e.parameters_per_device,
        explain ? fmt::format("{} x {}", group_digits(e.parameters_per_device), format.note) : "");
  }
  memory("KV cache per token", e.kv_cache_bytes_per_token,
         fmt::format("{} B", group_digits(e.kv_cache_bytes_per_token)));
  if (explain) {
    for (const Term& term : e.kv_terms) out += term_line(term);
  }
  memory(fmt::format("KV cache of the {} step", phase_name(r.phase)), e.kv_cache_bytes,
         fmt::format("{} sequence(s) x {} positions attended", r.batch, e.kv_positions));
  memory("activation peak", e.activation_peak_bytes, "at " + e.activation_peak_op);
  if (explain) {
    out +=
        "    live tensors there (attention scores stream through a fused kernel, not counted):\n";
    for (const LiveTensor& tensor : e.activation_peak_tensors) {
      out += fmt::format("      {:<28}{:>12}\n", tensor.name, bytes(tensor.bytes));
    }
  }

  // Training.
  out += fmt::format("\ntraining memory{} (weights, gradients, optimizer states; no activations)\n",
                     several ? " per device" : "");
  for (const Optimizer& optimizer : e.training) {
    out +=
        fmt::format("  {:<34}{:>12}   {:.4g} B/parameter\n", optimizer.name, bytes(optimizer.bytes),
                    optimizer.bytes / std::max<double>(1.0, e.parameters_per_device));
    if (explain) out += fmt::format("      {}\n", optimizer.formula);
  }
  return out;
}

nlohmann::json estimate_to_json(const Estimate& e) {
  const EstimateRequest& r = e.request;
  nlohmann::json by_component = nlohmann::json::object();
  nlohmann::json active_by_component = nlohmann::json::object();
  for (const ParameterGroup& group : e.components) {
    by_component[group.component] = group.parameters;
    active_by_component[group.component] = group.active;
  }
  auto flops = [](const FlopCount& count) {
    return nlohmann::json{{"label", count.label},
                          {"tokens", count.tokens},
                          {"per_token", count.per_token()},
                          {"total", count.total},
                          {"matmul", count.matmul},
                          {"attention_scores", count.attention_scores},
                          {"attention_softmax", count.attention_softmax},
                          {"attention_values", count.attention_values},
                          {"other", count.other},
                          {"collectives", count.collectives}};
  };
  nlohmann::json formats = nlohmann::json::object();
  for (const WeightFormat& format : weight_formats()) {
    formats[format.name] = format.bytes_per_parameter * e.parameters_per_device;
  }
  formats["fp16"] = formats["bf16"];
  nlohmann::json training = nlohmann::json::object();
  for (const Optimizer& optimizer : e.training) training[optimizer.key] = optimizer.bytes;
  nlohmann::json report{
      {"model", e.model},
      {"weight_dtype", e.weight_dtype},
      {"phase", std::string(phase_name(r.phase))},
      {"batch", r.batch},
      {"context", r.context},
      {"prompt", r.prompt},
      {"devices", r.devices},
      {"total_parameters", e.total_parameters},
      {"active_parameters", e.active_parameters},
      {"parameters_per_device", e.parameters_per_device},
      {"parameters_by_component", by_component},
      {"active_parameters_by_component", active_by_component},
      {"flops_per_token", e.asked().per_token()},
      {"flops_per_step", e.asked().total},
      {"flops", {{"decode", flops(e.decode)}, {"prefill", flops(e.prefill)}}},
      {"weight_bytes", e.weight_bytes},
      {"weight_bytes_by_format", formats},
      {"kv_cache_bytes_per_token", e.kv_cache_bytes_per_token},
      {"kv_cache_bytes", e.kv_cache_bytes},
      {"kv_cache_positions", e.kv_positions},
      {"activation_peak_bytes", e.activation_peak_bytes},
      {"training_bytes", training},
  };
  check_report_values(report, "estimate");
  return report;
}

}  // namespace dfsim
