// The accuracy report of post-training quantization: the fp32 model and each quantized scheme
// run teacher-forced on the same token sequences (sim/functional/teacher_forced), compared
// position by position, next to the simulated decode speed of the scheme on a machine (each
// simulation in its own process).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/config/catalog.h"

namespace dfsim {

// Every scheme quantize-eval knows, in report order.
const std::vector<std::string>& quantize_eval_schemes();

struct QuantizeEvalRequest {
  std::string model;    // name or path
  std::string hw;       // name or path, for the timing simulations
  std::string weights;  // .safetensors; empty: generated from `seed`
  std::vector<Override> overrides;
  std::vector<std::string> schemes;                // empty: all
  std::vector<std::vector<std::int32_t>> prompts;  // empty: generated from `seed`
  std::uint64_t seed = 0;
  std::int64_t prompt_count = 4;  // generated prompts, and calibration prompts
  std::int64_t prompt_length = 32;
  std::int64_t decode_tokens = 16;  // timing: decode steps after a prompt_length context
  bool simulate = true;             // false: accuracy only (tests)
};

// Logits of the same positions, fp32 reference vs a quantized run.
struct LogitComparison {
  std::int64_t positions = 0;
  std::int64_t agreements = 0;  // positions whose argmax is the same
  double kl_sum = 0;            // sum over positions of KL(softmax(ref) || softmax(test)), nats
  double max_abs_error = 0;     // over every logit
  void add(std::span<const float> reference, std::span<const float> test, std::int64_t vocab);
  double agreement() const { return positions ? static_cast<double>(agreements) / positions : 0; }
  double kl_mean() const { return positions ? kl_sum / static_cast<double>(positions) : 0; }
};

struct SchemeReport {
  std::string scheme;
  std::string weight_format;  // e.g. "int8/ch", "int4/g128", "q4_0"
  std::string activations;    // "fp32", "int8/token", "int8/tensor"
  LogitComparison accuracy;
  double tokens_per_second = 0;  // simulated decode; 0 when not simulated
};

struct QuantizeEvalReport {
  std::string model, hw;
  std::string prompts;      // where the evaluation sequences came from
  std::string calibration;  // where static scales came from
  std::int64_t decode_tokens = 0, context = 0;
  std::vector<SchemeReport> rows;  // "fp32" first
};

QuantizeEvalReport run_quantize_eval(const QuantizeEvalRequest& request);

std::string format_quantize_eval(const QuantizeEvalReport& report, bool json);

// "w8a8-dynamic,int4-wo" and repeats of the option to scheme names; throws InputError naming
// an unknown one.
std::vector<std::string> parse_schemes(const std::vector<std::string>& values);
// "1,2,3;4,5" to token lists.
std::vector<std::vector<std::int32_t>> parse_prompts(const std::string& text);

}  // namespace dfsim
