// F16C batch conversions for model loading and writing (this file is compiled with -mf16c and
// only called after convert.cpp's CPU check). Finite values convert exactly as util/half.h's
// scalar code does (round to nearest even), so files and weights do not depend on the CPU.
#include <immintrin.h>

#include <cstdint>

#include "util/half.h"

namespace hh::model_simd {

void f16_to_f32_f16c(const std::byte* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) out[i] = f16_to_f32(load_unaligned<uint16_t>(in + 2 * i));
}

void f32_to_f16_f16c(const float* in, std::byte* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  for (; i < n; ++i) store_unaligned<uint16_t>(out + 2 * i, f32_to_f16(in[i]));
}

}  // namespace hh::model_simd
