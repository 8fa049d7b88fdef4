#include "engine/cpu/kernels.h"

#if defined(HH_HAVE_AVX2_KERNELS)
#include <cpuid.h>
#endif

namespace hh::cpu {

namespace {

#if defined(HH_HAVE_AVX2_KERNELS)
// AVX2, FMA and F16C from CPUID, plus the OS saving the YMM registers (XCR0 bits 1 and 2):
// __builtin_cpu_supports cannot name F16C on every compiler we build with.
bool cpu_has_avx2_fma_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28),
             f16c = c & (1u << 29);
  if (!(fma && osxsave && avx && f16c)) return false;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6u) != 0x6u) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return b & (1u << 5);
}

const KernelTable kAvx2 = {"avx2",          avx2::matvec,  avx2::rows_to_f32, avx2::f32_to,
                           avx2::axpy_rows, avx2::softmax, avx2::rms_norm,    avx2::rope,
                           avx2::swiglu,    avx2::add};
#endif

const KernelTable kPortable = {"portable",         portable::matvec,    portable::rows_to_f32,
                               portable::f32_to,   portable::axpy_rows, portable::softmax,
                               portable::rms_norm, portable::rope,      portable::swiglu,
                               portable::add};

}  // namespace

const KernelTable& portable_kernels() { return kPortable; }

const KernelTable* avx2_kernels() {
#if defined(HH_HAVE_AVX2_KERNELS)
  static const bool supported = cpu_has_avx2_fma_f16c();
  return supported ? &kAvx2 : nullptr;
#else
  return nullptr;
#endif
}

const KernelTable& best_kernels() {
  const KernelTable* simd = avx2_kernels();
  return simd ? *simd : kPortable;
}

}  // namespace hh::cpu
