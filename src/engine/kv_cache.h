#pragma once
// The KV cache: keys and values of every layer, kv-head and position, in the model dtype,
// updated in place by prefill and decode.
#include "values/array.h"

namespace hh {

struct KVCache {
  Array k;  // (b, kvh, cs, dh) E
  Array v;  // (b, kvh, cs, dh) E

  int64_t n_layers() const { return k.dim(0); }
  int64_t n_kv_heads() const { return k.dim(1); }
  int64_t context() const { return k.dim(2); }
  int64_t head_dim() const { return k.dim(3); }
  ElemType dtype() const { return k.type(); }
};

// Zero cache in host memory; throws UsageError for non-positive sizes or when it does not fit.
KVCache make_host_kv_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh, ElemType dtype);
// Checks that k and v have the same rank-4 shape and dtype; throws UsageError otherwise.
void validate_kv_cache(const KVCache& cache);

}  // namespace hh
