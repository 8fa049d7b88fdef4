#include "model/convert.h"

#include <algorithm>
#include <cstring>

#if defined(HH_HAVE_AVX2_KERNELS)
#include <cpuid.h>
#endif

#include "util/error.h"
#include "util/half.h"

namespace hh {

#if defined(HH_HAVE_AVX2_KERNELS)
namespace model_simd {  // convert_avx2.cpp
void f16_to_f32_f16c(const std::byte* in, float* out, int64_t n);
void f32_to_f16_f16c(const float* in, std::byte* out, int64_t n);
}  // namespace model_simd
#endif

namespace {

constexpr int64_t kQ8Block = 32;       // elements per Q8_0 block
constexpr int64_t kQ8BlockBytes = 34;  // f16 scale + 32 int8

// F16C, AVX and the OS saving YMM state (XCR0 bits 1 and 2), from CPUID.
bool cpu_has_f16c() {
#if defined(HH_HAVE_AVX2_KERNELS)
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!(osxsave && avx && f16c)) return false;
    unsigned lo = 0, hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6u) == 6u;
  }();
  return has;
#else
  return false;
#endif
}

// out[0, n) = elements [first, first + n) of `src` stored as `type`, in f32.
void decode(GgmlType type, const std::byte* src, int64_t first, int64_t n, float* out) {
  switch (type) {
    case GgmlType::F32:
      std::memcpy(out, src + 4 * first, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16:
#if defined(HH_HAVE_AVX2_KERNELS)
      if (cpu_has_f16c()) return model_simd::f16_to_f32_f16c(src + 2 * first, out, n);
#endif
      for (int64_t i = 0; i < n; ++i)
        out[i] = f16_to_f32(load_unaligned<uint16_t>(src + 2 * (first + i)));
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i)
        out[i] = bf16_to_f32(load_unaligned<uint16_t>(src + 2 * (first + i)));
      return;
    case GgmlType::Q8_0:
      // `first` and `n` are whole blocks: one scale load per 32 elements.
      for (int64_t b = 0; b < n; b += kQ8Block) {
        const std::byte* block = src + (first + b) / kQ8Block * kQ8BlockBytes;
        const float scale = f16_to_f32(load_unaligned<uint16_t>(block));
        for (int64_t j = 0; j < kQ8Block; ++j) {
          out[b + j] = scale * static_cast<float>(static_cast<int8_t>(block[2 + j]));
        }
      }
      return;
  }
}

}  // namespace

void encode_f32(const float* in, int64_t n, ElemType type, std::byte* out) {
  switch (type) {
    case ElemType::F32:
      std::memcpy(out, in, static_cast<size_t>(n) * 4);
      return;
    case ElemType::F16:
#if defined(HH_HAVE_AVX2_KERNELS)
      if (cpu_has_f16c()) return model_simd::f32_to_f16_f16c(in, out, n);
#endif
      for (int64_t i = 0; i < n; ++i) store_unaligned<uint16_t>(out + 2 * i, f32_to_f16(in[i]));
      return;
    case ElemType::BF16:
      for (int64_t i = 0; i < n; ++i) store_unaligned<uint16_t>(out + 2 * i, f32_to_bf16(in[i]));
      return;
    default:
      fail_usage("cannot store model tensors as {}", elem_name(type));
  }
}

namespace {

size_t stored_bytes(GgmlType type, int64_t count) {
  switch (type) {
    case GgmlType::F32:
      return static_cast<size_t>(count) * 4;
    case GgmlType::F16:
    case GgmlType::BF16:
      return static_cast<size_t>(count) * 2;
    case GgmlType::Q8_0:
      return static_cast<size_t>(count / kQ8Block * kQ8BlockBytes);
  }
  return 0;
}

ElemType elem_type_of(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
      return ElemType::F32;
    case GgmlType::F16:
      return ElemType::F16;
    case GgmlType::BF16:
      return ElemType::BF16;
    case GgmlType::Q8_0:
      break;
  }
  return ElemType::U8;  // no ElemType stores Q8_0 as is
}

}  // namespace

void convert_elements(GgmlType src_type, const std::byte* src, ElemType dst_type, std::byte* dst,
                      int64_t count) {
  if (src_type == GgmlType::Q8_0 && count % kQ8Block != 0) {
    fail("Q8_0 conversion of {} elements: not a whole number of blocks", count);
  }
  if (elem_type_of(src_type) == dst_type) {  // same representation: a plain copy
    std::memcpy(dst, src, stored_bytes(src_type, count));
    return;
  }
  if (!is_model_dtype(dst_type)) {
    fail_usage("cannot convert model tensors to {}", elem_name(dst_type));
  }
  // The staging blocks are whole Q8_0 blocks, so decode never splits one.
  static_assert(kEncodeChunk % kQ8Block == 0 && kEncodeBlock % kQ8Block == 0);
  encode_blocks(dst_type, dst, count, [&](int64_t first, int64_t n, float* out) {
    decode(src_type, src, first, n, out);
  });
}

Array stored_to_array(const StoredTensor& t, ElemType dtype) {
  const int64_t count = shape_count(t.shape);
  if (t.type == GgmlType::Q8_0 && (t.shape.empty() || t.shape.back() % kQ8Block != 0)) {
    fail_format("{}: Q8_0 tensor '{}' has rows of {} elements, not a multiple of 32", t.file,
                t.name, t.shape.empty() ? 1 : t.shape.back());
  }
  if (stored_bytes(t.type, count) != t.bytes || t.offset > t.storage->size() ||
      t.bytes > t.storage->size() - t.offset) {
    fail_format(
        "{}: tensor '{}' ({} bytes at offset {}) does not match its shape {} or lies "
        "outside the file",
        t.file, t.name, t.bytes, t.offset, shape_string(t.shape));
  }
  const std::byte* src = t.storage->data() + t.offset;
  if (elem_type_of(t.type) == dtype && reinterpret_cast<uintptr_t>(src) % elem_size(dtype) == 0) {
    return Array(dtype, t.shape, t.storage, static_cast<size_t>(t.offset));
  }
  Array out = Array::allocate(dtype, t.shape, false);
  convert_elements(t.type, src, dtype, out.raw(), count);
  return out;
}

Array convert_array(const Array& value, ElemType dtype) {
  if (!is_model_dtype(value.type()) || !is_model_dtype(dtype)) {
    fail_usage("cannot convert {} to {}: only f32, f16 and bf16 convert", value.type_name(),
               elem_name(dtype));
  }
  if (value.type() == dtype) return value;
  if (value.space() == MemorySpace::Device) {
    fail_usage("cannot convert a {} array held in device memory", value.type_name());
  }
  Array out = Array::allocate(dtype, value.shape(), /*zero=*/false);
  convert_elements(ggml_type_of(value.type()), value.raw(), dtype, out.raw(), value.count());
  return out;
}

}  // namespace hh
