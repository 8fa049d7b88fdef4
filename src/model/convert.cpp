#include "model/convert.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

constexpr int64_t kQ8Block = 32;              // elements per Q8_0 block
constexpr int64_t kQ8BlockBytes = 34;         // f16 scale + 32 int8
constexpr int64_t kChunk = int64_t{1} << 16;  // elements per parallel work item (a Q8_0 multiple)

// One dispatch on the stored type per chunk keeps the inner loops branch-free.
template <typename Out, typename Round>
void convert_range(GgmlType type, const std::byte* src, Out* dst, int64_t begin, int64_t end,
                   Round round) {
  switch (type) {
    case GgmlType::F32:
      for (int64_t i = begin; i < end; ++i) dst[i] = round(load_unaligned<float>(src + 4 * i));
      return;
    case GgmlType::F16:
      for (int64_t i = begin; i < end; ++i) {
        dst[i] = round(f16_to_f32(load_unaligned<uint16_t>(src + 2 * i)));
      }
      return;
    case GgmlType::BF16:
      for (int64_t i = begin; i < end; ++i) {
        dst[i] = round(bf16_to_f32(load_unaligned<uint16_t>(src + 2 * i)));
      }
      return;
    case GgmlType::Q8_0:
      // Chunks start on block boundaries, so whole blocks: one scale load per 32 elements.
      for (int64_t b = begin; b < end; b += kQ8Block) {
        const std::byte* block = src + (b / kQ8Block) * kQ8BlockBytes;
        const float scale = f16_to_f32(load_unaligned<uint16_t>(block));
        for (int64_t j = 0; j < kQ8Block; ++j) {
          dst[b + j] = round(scale * static_cast<float>(static_cast<int8_t>(block[2 + j])));
        }
      }
      return;
  }
}

template <typename Out, typename Round>
void convert_all(GgmlType type, const std::byte* src, Out* dst, int64_t count, Round round) {
  const int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    convert_range(type, src, dst, c * kChunk, std::min(count, (c + 1) * kChunk), round);
  }
}

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
  switch (dst_type) {
    case ElemType::F32:
      convert_all(src_type, src, reinterpret_cast<float*>(dst), count, [](float x) { return x; });
      return;
    case ElemType::F16:
      convert_all(src_type, src, reinterpret_cast<uint16_t*>(dst), count,
                  [](float x) { return f32_to_f16(x); });
      return;
    case ElemType::BF16:
      convert_all(src_type, src, reinterpret_cast<uint16_t*>(dst), count,
                  [](float x) { return f32_to_bf16(x); });
      return;
    default:
      fail_usage("cannot convert model tensors to {}", elem_name(dst_type));
  }
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

}  // namespace hh
