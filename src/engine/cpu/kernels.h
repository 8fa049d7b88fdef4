#pragma once
// The CPU backend's inner kernels: single-threaded functions over a range of rows or elements,
// so the ops (cpu_ops.h) choose the threading. Each family has a portable scalar version (in
// <family>.cpp) and an AVX2/FMA/F16C version (in <family>_avx2.cpp); one KernelTable of either
// kind is picked once, when the backend is created.
#include <cstddef>
#include <cstdint>

#include "util/error.h"
#include "util/half.h"
#include "values/elem_type.h"

namespace hh::cpu {

// A row-major matrix (rows, cols) in a model dtype (f32, f16 or bf16), used as stored.
struct MatView {
  ElemType type = ElemType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct KernelTable {
  const char* name;  // "avx2" or "portable"
  // y[t * ldy + (r - r0)] = dot(row r of w, x[t * ldx ...]) for t < T, r in [r0, r1).
  // x: (T, w.cols) f32 with row stride ldx; y: (T, ldy) f32.
  void (*matvec)(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx,
                 float* y, int64_t ldy);
  // out (r1 - r0, w.cols) f32 = rows [r0, r1) of w.
  void (*rows_to_f32)(const MatView& w, int64_t r0, int64_t r1, float* out);
  // out (n) in `type` = x (n), rounded to nearest even.
  void (*f32_to)(const float* x, int64_t n, ElemType type, void* out);
  // out (w.cols) += sum over r in [r0, r1) of a[r - r0] * row r of w.
  void (*axpy_rows)(const MatView& w, int64_t r0, int64_t r1, const float* a, float* out);
  // x (n) = softmax(x), in f32.
  void (*softmax)(float* x, int64_t n);
  // out (n) = x * weight / sqrt(mean(x^2) + eps); out may alias x.
  void (*rms_norm)(const float* x, const float* weight, float eps, int64_t n, float* out);
  // One head x (dh), NeoX layout: the pair (x[i], x[i + dh/2]) is rotated by the angle whose
  // cosine and sine are cos[i], sin[i], for i < dh/2.
  void (*rope)(float* x, int64_t dh, const float* cos, const float* sin);
  // out (n) = silu(gate) * up; out may alias gate or up.
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out);
  // x (n) += y (n).
  void (*add)(float* x, const float* y, int64_t n);
};

const KernelTable& portable_kernels();
// The AVX2/FMA/F16C table, or null where the CPU lacks one of them (or the build has no AVX2).
const KernelTable* avx2_kernels();
// The fastest table this CPU runs.
const KernelTable& best_kernels();

// Element tags of the model dtypes, so one kernel body serves f32, f16 and bf16.
struct F16 {
  uint16_t bits;
};
struct BF16 {
  uint16_t bits;
};
inline float to_f32(float x) { return x; }
inline float to_f32(F16 x) { return f16_to_f32(x.bits); }
inline float to_f32(BF16 x) { return bf16_to_f32(x.bits); }

// Calls f(tag) with a value of the C++ element type (float, F16, BF16) of a model dtype.
template <typename F>
decltype(auto) visit_model_dtype(ElemType type, F&& f) {
  switch (type) {
    case ElemType::F32:
      return f(float{});
    case ElemType::F16:
      return f(F16{});
    case ElemType::BF16:
      return f(BF16{});
    default:
      fail_usage("the CPU kernels take f32, f16 or bf16 tensors, not {}", elem_name(type));
  }
}

// Declarations of every table entry, defined in the family files.
#define HH_CPU_KERNEL_DECLS                                                                     \
  void matvec(const MatView& w, int64_t r0, int64_t r1, const float* x, int64_t T, int64_t ldx, \
              float* y, int64_t ldy);                                                           \
  void rows_to_f32(const MatView& w, int64_t r0, int64_t r1, float* out);                       \
  void f32_to(const float* x, int64_t n, ElemType type, void* out);                             \
  void axpy_rows(const MatView& w, int64_t r0, int64_t r1, const float* a, float* out);         \
  void softmax(float* x, int64_t n);                                                            \
  void rms_norm(const float* x, const float* weight, float eps, int64_t n, float* out);         \
  void rope(float* x, int64_t dh, const float* cos, const float* sin);                          \
  void swiglu(const float* gate, const float* up, int64_t n, float* out);                       \
  void add(float* x, const float* y, int64_t n);

namespace portable {
HH_CPU_KERNEL_DECLS
}  // namespace portable
namespace avx2 {
HH_CPU_KERNEL_DECLS
}  // namespace avx2
#undef HH_CPU_KERNEL_DECLS

}  // namespace hh::cpu
