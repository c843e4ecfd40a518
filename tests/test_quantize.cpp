// Quantized weights in functional execution: each format dequantized exactly as stored (values
// derived by hand below), and functional runs on quantized models against the reference.
#include <catch2/catch.hpp>

#include <vector>

#include "models/simulate.h"
#include "sim/config/catalog.h"
#include "sim/engine/functional_run.h"
#include "sim/functional/functional_executor.h"
#include "sim/functional/quantize.h"
#include "tests/reference_forward.h"

namespace dfsim {
namespace {

using functional::quantize_rows;

TEST_CASE("quantize: q8_0 keeps round(x / d) * d with d in fp16", "[functional][quantize]") {
  std::vector<float> block(32, 0.0f);
  block[0] = 1.27f;
  block[1] = -0.5f;
  quantize_rows(block, 32, {Dtype::kQ8_0, 32});
  // d = 1.27 / 127 = 0.01, as fp16 0.01000213623046875; q = 127 and -50.
  CHECK(block[0] == 127 * 0.01000213623046875f);
  CHECK(block[1] == -50 * 0.01000213623046875f);
  CHECK(block[2] == 0.0f);
}

TEST_CASE("quantize: q4_0 keeps (q - 8) * d with d = max / -8 in fp16", "[functional][quantize]") {
  std::vector<float> block(32, 0.0f);
  block[0] = -1.6f;  // the largest magnitude: d = -1.6 / -8 = 0.2, fp16 0.199951171875
  block[1] = 0.5f;   // 0.5 / 0.2 + 8.5 = 11 -> q - 8 = 3
  block[2] = 0.4f;   // 2 + 8.5 = 10.5 -> 10 -> 2
  quantize_rows(block, 32, {Dtype::kQ4_0, 32});
  CHECK(block[0] == -1.599609375f);    // q = 0: -8 d
  CHECK(block[1] == 0.599853515625f);  // 3 d
  CHECK(block[2] == 0.39990234375f);   // 2 d
  CHECK(block[3] == 0.0f);             // q = 8
}

TEST_CASE("quantize: int4 groups keep (q - 8) * scale + zero in bf16", "[functional][quantize]") {
  std::vector<float> row{0.0f, 1.5f, 3.0f, -1.5f, 1.0f, 1.0f, 1.0f, 1.0f};
  quantize_rows(row, 8, {Dtype::kInt4, 4});
  // First group: min -1.5, max 3: scale 4.5 / 15 = 0.3 (bf16 0.30078125), zero -1.5 + 8 x 0.3
  // = 0.9 (bf16 0.8984375); q = round((x + 1.5) / 0.3) = 5, 10, 15, 0.
  CHECK(row[0] == -3 * 0.30078125f + 0.8984375f);  // -0.00390625
  CHECK(row[1] == 1.5f);
  CHECK(row[2] == 3.00390625f);
  CHECK(row[3] == -1.5078125f);
  // Second group: all 1: scale 1e-6 / 15, zero 1 + 8 scale, q = 0: (0 - 8) scale + zero.
  CHECK(row[4] == Approx(1.0f).epsilon(1e-6));
}

TEST_CASE("quantize: int8 per channel keeps round(x / scale) * scale, scale in bf16",
          "[functional][quantize]") {
  std::vector<float> row{1.27f, -0.635f, 0.3f};
  quantize_rows(row, 3, {Dtype::kInt8, 0});
  // scale = 1.27 / 127 = 0.01, bf16 0.010009765625; q = 127, -63, 30.
  CHECK(row[0] == 127 * 0.010009765625f);
  CHECK(row[1] == -63 * 0.010009765625f);
  CHECK(row[2] == 30 * 0.010009765625f);
}

void check_quantized_run(const std::string& dtype, const std::string& hw) {
  std::vector<Override> overrides{parse_override("model.weight_dtype=" + dtype)};
  ModelSpec model = load_model_spec("tiny-llama", overrides);
  functional::ModelWeights weights = functional::generate_weights(model, 2);
  const std::vector<std::int32_t> prompt{9, 8, 7};
  HwConfig machine = load_hw_config(hw, overrides);
  FunctionalSteps steps = build_functional_steps(model, machine, LoopingMode::kOn, 3, 6);
  functional::FunctionalExecutor executor(model, weights, steps.graphs, steps.shapes,
                                          steps.programs, prompt);
  simulate(machine, steps.programs, false, &executor);
  executor.finish();
  CHECK(executor.generated() == testing::reference_generate(model, weights, prompt, 6).tokens);
}

TEST_CASE("quantize: functional q4_0 weights on the GPU match the reference",
          "[functional][quantize]") {
  check_quantized_run("q4_0", "h100-sxm");
}

TEST_CASE("quantize: functional int4 weights on the dataflow chip match the reference",
          "[functional][quantize]") {
  check_quantized_run("int4", "sn40l");
}

}  // namespace
}  // namespace dfsim
