#include "engine/kv_cache.h"

namespace hh {

KVCache make_host_kv_cache(int64_t b, int64_t kvh, int64_t cs, int64_t dh, ElemType dtype) {
  if (b <= 0 || kvh <= 0 || cs <= 0 || dh <= 0) {
    fail_usage("cache sizes must be positive: b={} kvh={} cs={} dh={}", b, kvh, cs, dh);
  }
  if (!is_model_dtype(dtype)) {
    fail_usage("a KV cache holds f32, f16 or bf16, not {}", elem_name(dtype));
  }
  // Array::allocate checks the element count for overflow and throws UsageError naming the
  // size when the memory is not there.
  return KVCache{Array::allocate(dtype, {b, kvh, cs, dh}),
                 Array::allocate(dtype, {b, kvh, cs, dh})};
}

void validate_kv_cache(const KVCache& cache) {
  if (!cache.k.valid() || !cache.v.valid()) fail_usage("KV cache without keys or values");
  if (cache.k.rank() != 4 || cache.v.rank() != 4) {
    fail_usage("KV cache kcache and vcache must have rank 4 (b, kvh, cs, dh), got {} and {}",
               cache.k.type_name(), cache.v.type_name());
  }
  if (cache.k.type() != cache.v.type() || cache.k.shape() != cache.v.shape()) {
    fail_usage("KV cache kcache is {}{} but vcache is {}{}", shape_string(cache.k.shape()),
               elem_name(cache.k.type()), shape_string(cache.v.shape()), elem_name(cache.v.type()));
  }
  if (!is_model_dtype(cache.k.type())) {
    fail_usage("KV cache holds {}; it must be f32, f16 or bf16", elem_name(cache.k.type()));
  }
  for (int axis = 0; axis < 4; ++axis) {
    if (axis != 2 && cache.k.dim(axis) == 0) {
      fail_usage("KV cache {} has an empty dimension", shape_string(cache.k.shape()));
    }
  }
}

}  // namespace hh
