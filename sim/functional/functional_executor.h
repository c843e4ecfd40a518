// Executes a mapped Program on real tensors, piece by piece as a machine reports the pieces
// done (TileListener): each GPU tile computes its share of its kernel's ops (a block of output
// rows and columns of a matmul, a (sequence, head) and key or query split of fused attention,
// a range of token rows of the rest); each dataflow stage computes its op on a token chunk.
// What a piece reads must have been written by earlier pieces, and at the end of every step
// each op's output must have been written exactly once: a program that skips, repeats or
// reorders work fails here instead of producing plausible numbers.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "sim/functional/model_weights.h"
#include "sim/functional/ops.h"
#include "sim/mapping/program.h"
#include "sim/mapping/tile_listener.h"
#include "sim/workload/workload_graph.h"

namespace dfsim::functional {

class FunctionalExecutor : public TileListener {
 public:
  // `graphs[s]`, `shapes[s]` and `programs[s]` describe step s; step 0 processes `prompt`
  // (for every sequence of the batch), each later step the token the previous step chose.
  FunctionalExecutor(const ModelSpec& model, const ModelWeights& weights,
                     const std::vector<WorkloadGraph>& graphs, const std::vector<StepShape>& shapes,
                     const std::vector<Program>& programs, std::vector<std::int32_t> prompt);

  void tiles_done(int step, std::size_t kernel, std::int64_t first, std::int64_t count) override;
  void stage_done(int step, std::size_t kernel, std::int64_t chunk, std::size_t stage) override;

  // Checks the last step was completed; throws std::logic_error otherwise.
  void finish();

  // The greedy token of every step (sequence 0), and the last step's logits (all rows).
  const std::vector<std::int32_t>& generated() const { return generated_; }
  const std::vector<float>& last_logits() const { return last_logits_; }
  // Per step, sequence 0's kTopLogits largest logits, largest first (the first is the token
  // generated): how clear each greedy choice was.
  static constexpr std::size_t kTopLogits = 5;
  const std::vector<std::vector<TokenLogit>>& step_top_logits() const { return top_logits_; }

 private:
  struct Buffer {
    std::int64_t rows = 0, cols = 0;
    std::vector<float> data;
    std::vector<std::int64_t> written;  // elements written per row
    std::int64_t total = 0;
    float* row(std::int64_t r) { return data.data() + r * cols; }
  };
  struct Cache {  // one layer: per sequence, per position, kv_width values
    std::vector<std::vector<float>> keys, values;
    std::vector<std::vector<bool>> written;
    // kv_width, as the appends laid sequence b out (values per position)
    std::int64_t width(std::int64_t b) const {
      const auto sequence = static_cast<std::size_t>(b);
      return static_cast<std::int64_t>(keys[sequence].size()) /
             static_cast<std::int64_t>(written[sequence].size());
    }
  };
  struct LinearState {  // DiJiang, one layer: per sequence and kv head, S [m, d] and z [m]
    std::vector<std::vector<float>> s, z;  // [sequence][kv_head * m * d], [sequence][kv_head * m]
    std::vector<std::int64_t> next;        // the position each sequence takes next
  };

  void begin_step(int step);
  void check_step_complete() const;
  std::int64_t rows_of(const Op& op) const;
  Buffer& output(std::size_t op, int slot, std::int64_t rows, std::int64_t cols);
  const Buffer& input(std::size_t consumer, std::size_t producer, int slot, std::int64_t first,
                      std::int64_t last);
  void mark(Buffer& buffer, std::size_t op, std::int64_t row, std::int64_t elements);
  std::size_t source(std::size_t op, OpKind kind, const char* role = nullptr) const;
  void check_cache(std::size_t op, int layer, std::int64_t sequence, std::int64_t first,
                   std::int64_t last) const;

  void run_rows(std::size_t op, std::int64_t first, std::int64_t last);
  void run_matmul(std::size_t op, std::int64_t first_row, std::int64_t last_row,
                  std::int64_t first_col, std::int64_t last_col);
  void run_fused_attention(const Kernel& kernel, std::int64_t tile);
  void after_write(std::size_t op);
  void run_tile(const Kernel& kernel, std::int64_t tile);

  const ModelSpec& model_;
  const ModelWeights& weights_;
  const std::vector<WorkloadGraph>& graphs_;
  const std::vector<StepShape>& shapes_;
  const std::vector<Program>& programs_;
  std::vector<float> frequencies_;
  std::vector<std::vector<std::int32_t>> step_tokens_;  // token ids each step embeds

  int step_ = -1;
  const WorkloadGraph* graph_ = nullptr;
  StepShape shape_;
  std::map<std::pair<std::size_t, int>, Buffer> buffers_;
  // Fused attention with split keys: per attention op, per (sequence, head) group, the splits'
  // partial results and how many are in.
  std::map<std::size_t, std::vector<std::vector<AttentionPartial>>> partials_;
  std::map<std::size_t, std::vector<std::int64_t>> partials_done_;
  std::set<std::size_t> fused_;  // ops a fused kernel computes without writing their output
  std::vector<Cache> caches_;
  std::vector<LinearState> states_;
  DiJiangMap dijiang_;
  std::vector<std::int32_t> generated_;
  std::vector<float> last_logits_;
  std::vector<std::vector<TokenLogit>> top_logits_;
};

// Drives an executor through a program the way an ideal machine would (every tile or stage in
// program order), for tests that check programs without simulating them.
// `stages`: report dataflow stages per token chunk, else GPU tiles.
void execute_in_program_order(const std::vector<Program>& programs, TileListener& listener,
                              bool stages);

}  // namespace dfsim::functional
