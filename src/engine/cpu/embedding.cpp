// Token embedding: rows of token_embd (v, d), widened to f32.
#include "engine/cpu/cpu_ops.h"

namespace hh::cpu {

void CpuOps::embed(const Array& table, std::span<const int64_t> tokens, float* out) {
  ProfileScope scope(profiler_, cost::kEmbedding);
  const MatView e = mat_view(table);
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int64_t id = tokens[t];
    if (id < 0 || id >= e.rows) {
      fail_usage("token id {} at index {} is outside the vocabulary [0, {})", id, t, e.rows);
    }
    k_->rows_to_f32(e, id, id + 1, out + static_cast<int64_t>(t) * e.cols);
  }
}

}  // namespace hh::cpu
