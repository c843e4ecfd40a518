#include "sim/engine/quantize_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "sim/common/error.h"
#include "sim/engine/functional_run.h"
#include "sim/engine/isolated_run.h"
#include "sim/engine/run_request.h"
#include "sim/functional/model_weights.h"
#include "sim/functional/numerics.h"
#include "sim/functional/ops.h"
#include "sim/functional/quantize.h"
#include "sim/functional/safetensors.h"
#include "sim/functional/teacher_forced.h"
#include "sim/functional/w8a8_projection.h"

namespace dfsim {

namespace {

constexpr const char* kReference = "fp32";

// The model fields each scheme sets: `model.quantization` for the W8A8 schemes (which make the
// weights int8 per output channel), `model.weight_dtype` for the weight-only ones.
std::vector<Override> scheme_overrides(const std::string& scheme) {
  if (scheme == kReference) {
    return {{"model.quantization", "weight-only"},
            {"model.weight_dtype", "fp32"},
            {"model.activation_dtype", "fp32"},
            {"model.kv_cache_dtype", "fp32"}};
  }
  if (scheme == "w8a8-dynamic" || scheme == "w8a8-static" || scheme == "smoothquant") {
    return {{"model.quantization", scheme}};
  }
  const std::string dtype = scheme == "int8-wo" ? "int8" : scheme == "int4-wo" ? "int4" : "q4_0";
  return {{"model.quantization", "weight-only"}, {"model.weight_dtype", dtype}};
}

std::vector<Override> joined(std::vector<Override> a, const std::vector<Override>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Accuracy is measured with fp32 activations and KV cache around the quantized pieces, so
// that the errors reported are the scheme's alone.
const std::vector<Override> kFp32Activations = {{"model.activation_dtype", "fp32"},
                                                {"model.kv_cache_dtype", "fp32"}};

// splitmix64: the same token stream on every platform.
std::vector<std::vector<std::int32_t>> generate_prompts(std::uint64_t seed, std::int64_t count,
                                                        std::int64_t length, std::int64_t vocab) {
  std::uint64_t state = seed;
  auto next = [&] {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::vector<std::vector<std::int32_t>> prompts(static_cast<std::size_t>(count));
  for (auto& prompt : prompts) {
    for (std::int64_t t = 0; t < length; ++t)
      prompt.push_back(static_cast<std::int32_t>(next() % static_cast<std::uint64_t>(vocab)));
  }
  return prompts;
}

std::string layout_name(const WeightLayout& layout) {
  if (!is_integer_format(layout.dtype) || is_block_format(layout.dtype))
    return std::string(dtype_name(layout.dtype));
  return std::string(dtype_name(layout.dtype)) +
         (layout.group_size > 0 ? "/g" + std::to_string(layout.group_size) : "/ch");
}

void quantize_matrix(std::vector<float>& m, std::int64_t k, const WeightLayout& layout) {
  if (!m.empty()) functional::quantize_rows(m, k, layout);
}

// The weights as the scheme stores them: every projection in the model's weight layout, the
// embedding table and LM head in the head's layout (for W8A8 the projections are quantized
// by the int8 kernel itself, from the fp32 values).
functional::ModelWeights stored_weights(const functional::ModelWeights& fp32,
                                        const ModelSpec& model) {
  functional::ModelWeights w = fp32;
  const std::int64_t h = model.hidden_size;
  quantize_matrix(w.embed_tokens, h, model.lm_head_layout());
  quantize_matrix(w.lm_head, h, model.lm_head_layout());
  if (model.quantization != QuantizationScheme::kWeightOnly) return w;
  const WeightLayout layout = model.weight_layout();
  for (std::size_t layer = 0; layer < w.layers.size(); ++layer) {
    functional::LayerWeights& l = w.layers[layer];
    for (auto* m : {&l.q_proj, &l.k_proj, &l.v_proj, &l.gate_proj, &l.up_proj})
      quantize_matrix(*m, h, layout);
    quantize_matrix(l.o_proj, model.q_width(), layout);
    quantize_matrix(l.down_proj, model.intermediate_size_of(static_cast<std::int64_t>(layer)),
                    layout);
  }
  return w;
}

}  // namespace

const std::vector<std::string>& quantize_eval_schemes() {
  static const std::vector<std::string> schemes = {"w8a8-dynamic", "w8a8-static", "smoothquant",
                                                   "int8-wo",      "int4-wo",     "q4_0"};
  return schemes;
}

std::vector<std::string> parse_schemes(const std::vector<std::string>& values) {
  std::vector<std::string> schemes;
  for (const std::string& value : values) {
    std::size_t begin = 0;
    while (begin <= value.size()) {
      std::size_t end = value.find(',', begin);
      if (end == std::string::npos) end = value.size();
      const std::string name = value.substr(begin, end - begin);
      const auto& known = quantize_eval_schemes();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        throw InputError("--scheme: unknown scheme '" + name +
                         "' (w8a8-dynamic, w8a8-static, smoothquant, int8-wo, int4-wo, q4_0)");
      }
      if (std::find(schemes.begin(), schemes.end(), name) == schemes.end()) schemes.push_back(name);
      begin = end + 1;
    }
  }
  return schemes;
}

std::vector<std::vector<std::int32_t>> parse_prompts(const std::string& text) {
  std::vector<std::vector<std::int32_t>> prompts;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find(';', begin);
    if (end == std::string::npos) end = text.size();
    prompts.push_back(parse_token_list(text.substr(begin, end - begin), "--prompts"));
    begin = end + 1;
  }
  return prompts;
}

void LogitComparison::add(std::span<const float> reference, std::span<const float> test,
                          std::int64_t vocab) {
  const auto v = static_cast<std::size_t>(vocab);
  for (std::size_t row = 0; row + v <= reference.size(); row += v) {
    std::span<const float> p = reference.subspan(row, v), q = test.subspan(row, v);
    ++positions;
    if (functional::argmax(p) == functional::argmax(q)) ++agreements;
    // log-softmax in double, from each row's maximum.
    auto log_norm = [](std::span<const float> l) {
      const double max = *std::max_element(l.begin(), l.end());
      double sum = 0;
      for (float x : l) sum += std::exp(x - max);
      return max + std::log(sum);
    };
    const double zp = log_norm(p), zq = log_norm(q);
    double kl = 0;
    for (std::size_t i = 0; i < v; ++i) {
      const double lp = p[i] - zp, lq = q[i] - zq;
      kl += std::exp(lp) * (lp - lq);
      max_abs_error = std::max(max_abs_error, std::abs(static_cast<double>(p[i]) - q[i]));
    }
    kl_sum += std::max(0.0, kl);  // exactly 0 for equal rows; rounding cannot make it negative
  }
}

QuantizeEvalReport run_quantize_eval(const QuantizeEvalRequest& request) {
  check_override_prefixes(request.overrides);
  const std::vector<std::string> schemes =
      request.schemes.empty() ? quantize_eval_schemes() : request.schemes;
  std::vector<Override> plain;
  for (const Override& o : request.overrides) {
    if (o.key != "model.smoothquant_alpha") plain.push_back(o);
  }
  const ModelSpec reference =
      load_model_spec(request.model, joined(plain, scheme_overrides(kReference)));
  functional::check_functional_model(reference);
  if (request.prompt_count < 1 || request.prompt_length < 1) {
    throw InputError("--prompt-count and --prompt-length: must be at least 1");
  }
  QuantizeEvalReport report;
  report.model = reference.name;
  std::vector<std::vector<std::int32_t>> prompts = request.prompts;
  if (prompts.empty()) {
    prompts = generate_prompts(request.seed, request.prompt_count, request.prompt_length,
                               reference.vocab_size);
    report.prompts = fmt::format("{} prompts x {} tokens from seed {}", request.prompt_count,
                                 request.prompt_length, request.seed);
  } else {
    report.prompts = fmt::format("{} prompts given", prompts.size());
  }
  std::int64_t longest = 0;
  for (const auto& prompt : prompts) {
    if (prompt.empty()) throw InputError("--prompts: a prompt has no tokens");
    for (std::int32_t token : prompt) {
      if (token >= reference.vocab_size) {
        throw InputError(fmt::format("--prompts: token id {} is outside the vocabulary ({})", token,
                                     reference.vocab_size));
      }
    }
    longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(prompt.size()));
  }
  if (reference.max_position_embeddings > 0 &&
      std::max(longest, request.prompt_length) > reference.max_position_embeddings) {
    throw InputError(fmt::format("--prompts: {} positions exceed max_position_embeddings ({})",
                                 std::max(longest, request.prompt_length),
                                 reference.max_position_embeddings));
  }
  // Calibration uses prompts of its own (another stream of the seed), never the evaluated ones.
  const auto calibration = generate_prompts(request.seed ^ 0xCA11B4A7E5EEDull, request.prompt_count,
                                            request.prompt_length, reference.vocab_size);
  report.calibration = fmt::format("{} prompts x {} tokens from seed {} (a separate stream)",
                                   request.prompt_count, request.prompt_length, request.seed);

  const functional::ModelWeights weights =
      request.weights.empty() ? functional::generate_weights(reference, request.seed)
                              : functional::load_safetensors_weights(request.weights, reference);
  const functional::PackedWeights packed = functional::pack_weights(reference, weights);
  std::vector<std::vector<float>> reference_logits;
  functional::CalibrationProjection calibrate(reference.num_layers);
  for (const auto& prompt : calibration)
    functional::teacher_forced_logits(reference, weights, packed, prompt, calibrate);
  functional::FloatProjection fp32(Dtype::kFp32);
  for (const auto& prompt : prompts) {
    reference_logits.push_back(
        functional::teacher_forced_logits(reference, weights, packed, prompt, fp32));
  }

  report.context = request.prompt_length;
  report.decode_tokens = request.decode_tokens;
  auto evaluate = [&](const std::string& scheme) {
    SchemeReport row;
    row.scheme = scheme;
    // SmoothQuant's alpha is an error on any other scheme; the user's --set applies to it alone.
    std::vector<Override> user;
    for (const Override& o : request.overrides) {
      if (scheme == "smoothquant" || o.key != "model.smoothquant_alpha") user.push_back(o);
    }
    std::vector<Override> overrides = joined(user, scheme_overrides(scheme));
    if (request.simulate) {
      RunRequest run;
      run.model = request.model;
      run.hw = request.hw;
      run.phase = Phase{PhaseKind::kDecode, 1, request.prompt_length, request.decode_tokens};
      run.overrides = overrides;
      const RunStats stats = run_isolated(run);
      row.tokens_per_second = stats.tokens_per_second;
      report.hw = stats.hw;
    }
    const ModelSpec model = load_model_spec(request.model, joined(overrides, kFp32Activations));
    row.weight_format = layout_name(model.weight_layout());
    row.activations = model.quantization == QuantizationScheme::kWeightOnly    ? "fp32"
                      : model.quantization == QuantizationScheme::kW8A8Dynamic ? "int8/token"
                                                                               : "int8/tensor";
    std::unique_ptr<functional::Projection> projection;
    if (model.quantization == QuantizationScheme::kWeightOnly) {
      projection = std::make_unique<functional::FloatProjection>(Dtype::kFp32);
    } else {
      if (model.weight_group_size != 0) {
        throw InputError(
            "quantize-eval: W8A8 schemes are evaluated with one int8 weight scale per output "
            "channel (model.weight_group_size 0), not groups of " +
            std::to_string(model.weight_group_size));
      }
      projection = std::make_unique<functional::W8A8Projection>(
          packed, model.quantization, &calibrate.ranges(), model.smoothquant_alpha);
    }
    const functional::ModelWeights stored = stored_weights(weights, model);
    const functional::PackedWeights stored_packed = functional::pack_weights(model, stored);
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      const std::vector<float> logits = functional::teacher_forced_logits(
          reference, stored, stored_packed, prompts[p], *projection);
      row.accuracy.add(reference_logits[p], logits, reference.vocab_size);
    }
    return row;
  };
  report.rows.push_back(evaluate(kReference));
  for (const std::string& scheme : schemes) report.rows.push_back(evaluate(scheme));
  if (!request.simulate) report.hw = "(not simulated)";
  return report;
}

std::string format_quantize_eval(const QuantizeEvalReport& report, bool json) {
  if (json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const SchemeReport& row : report.rows) {
      rows.push_back({{"scheme", row.scheme},
                      {"weights", row.weight_format},
                      {"activations", row.activations},
                      {"positions", row.accuracy.positions},
                      {"top1_agreement", row.accuracy.agreement()},
                      {"kl_divergence_mean", row.accuracy.kl_mean()},
                      {"max_abs_logit_error", row.accuracy.max_abs_error},
                      {"tokens_per_second", row.tokens_per_second}});
    }
    nlohmann::json out = {{"model", report.model},
                          {"hw", report.hw},
                          {"prompts", report.prompts},
                          {"calibration", report.calibration},
                          {"teacher_forced", true},
                          {"decode_context", report.context},
                          {"decode_tokens", report.decode_tokens},
                          {"schemes", rows}};
    return out.dump(2) + "\n";
  }
  const std::int64_t positions = report.rows.empty() ? 0 : report.rows.front().accuracy.positions;
  std::string out = fmt::format(
      "dfsim quantize-eval: {} on {}\n"
      "  accuracy vs fp32, teacher-forced on {} ({} positions):\n"
      "    each position predicts the next token of the same sequence; activations stay fp32\n"
      "    except where the scheme quantizes them; KL(fp32 || scheme) in nats, mean over\n"
      "    positions; static scales calibrated on {}\n"
      "  tokens/s: simulated decode on {}, batch 1, {} tokens after a {}-token context, the\n"
      "    model's own activation and KV dtypes\n",
      report.model, report.hw, report.prompts, positions, report.calibration, report.hw,
      report.decode_tokens, report.context);
  out += fmt::format("  {:<14}{:<11}{:<13}{:>12}{:>14}{:>16}{:>12}\n", "scheme", "weights",
                     "activations", "top-1 agree", "KL (nats)", "max |dlogit|", "tokens/s");
  for (const SchemeReport& row : report.rows) {
    out += fmt::format("  {:<14}{:<11}{:<13}{:>10.2f} %{:>14.3e}{:>16.4g}{:>12.1f}\n", row.scheme,
                       row.weight_format, row.activations, 100.0 * row.accuracy.agreement(),
                       row.accuracy.kl_mean(), row.accuracy.max_abs_error, row.tokens_per_second);
  }
  return out;
}

}  // namespace dfsim
