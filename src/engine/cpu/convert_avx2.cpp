#include <cstring>

#include "engine/cpu/simd_avx2.h"

namespace hh::cpu::avx2 {

void rows_to_f32(const MatView& w, int64_t r0, int64_t r1, float* out) {
  visit_model_dtype(w.type, [&](auto tag) {
    using W = decltype(tag);
    const W* src = static_cast<const W*>(w.data) + r0 * w.cols;
    const int64_t n = (r1 - r0) * w.cols;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load8(src + i));
    for (; i < n; ++i) out[i] = to_f32(src[i]);
  });
}

void f32_to(const float* x, int64_t n, ElemType type, void* out) {
  if (type == ElemType::F32) {
    std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* dst = static_cast<uint16_t*>(out);
  int64_t i = 0;
  if (type == ElemType::F16) {
    for (; i + 8 <= n; i += 8) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                       _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) dst[i] = f32_to_f16(x[i]);
    return;
  }
  if (type != ElemType::BF16) fail_usage("cannot store f32 values as {}", elem_name(type));
  // bf16 rounds to nearest even by adding 0x7fff plus the lowest kept bit; NaNs (where the
  // addition could carry into the exponent) take the scalar path.
  const __m256i round_bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
      for (int64_t j = i; j < i + 8; ++j) dst[j] = f32_to_bf16(x[j]);
      continue;
    }
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), one);
    const __m256i r =
        _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(round_bias, lsb)), 16);
    // Pack 8 x u32 (each < 65536) to 8 x u16; packus works per 128-bit lane, so fix the order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xd8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_castsi256_si128(packed));
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16(x[i]);
}

}  // namespace hh::cpu::avx2
