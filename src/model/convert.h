#pragma once
// Turning a tensor as stored in a model file into an Array of the model dtype: a view of the
// mapping when the bytes already are that dtype and aligned, else one converted host copy. The
// one place elements convert between f32, f16, bf16 (and from Q8_0).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "model/gguf.h"
#include "values/array.h"

namespace hh {

// A tensor inside a mapped model file.
struct StoredTensor {
  std::string name;                  // the file's tensor name, for messages
  std::string file;                  // path of the file holding it, for messages
  Shape shape;                       // row-major, slowest axis first
  GgmlType type = GgmlType::F32;     // F32, F16, BF16, or Q8_0 (blocks along the last axis)
  std::shared_ptr<Storage> storage;  // the mapping
  uint64_t offset = 0;               // byte offset of the data inside `storage`
  uint64_t bytes = 0;
};

// Converts `count` elements stored as `src_type` at `src` (any alignment) to `dst_type` (F32,
// F16 or BF16) at `dst` (aligned to its element size). Q8_0 needs count % 32 == 0. Large
// conversions run on all OpenMP threads.
void convert_elements(GgmlType src_type, const std::byte* src, ElemType dst_type, std::byte* dst,
                      int64_t count);

// out (n elements of `type`: F32, F16 or BF16, any alignment) = in (n), rounded to nearest even.
void encode_f32(const float* in, int64_t n, ElemType type, std::byte* out);

// Elements per parallel work item, and per pass through the f32 staging buffer of
// encode_blocks.
inline constexpr int64_t kEncodeChunk = int64_t{1} << 16;
inline constexpr int64_t kEncodeBlock = 1024;

// Writes `count` elements of `type` (F32, F16 or BF16) at `out`, made in f32 one block at a time:
// fill(first, n, staging) writes elements [first, first + n) to `staging` (n <= kEncodeBlock),
// then encode_f32 stores them. Large counts run on all OpenMP threads; `first` is always a
// multiple of kEncodeBlock.
template <typename Fill>
void encode_blocks(ElemType type, std::byte* out, int64_t count, Fill&& fill) {
  const size_t out_size = elem_size(type);
  const int64_t chunks = (count + kEncodeChunk - 1) / kEncodeChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    float staging[kEncodeBlock];  // (kEncodeBlock) f32: one block on its way to `type`
    const int64_t end = std::min(count, (c + 1) * kEncodeChunk);
    for (int64_t i = c * kEncodeChunk; i < end; i += kEncodeBlock) {
      const int64_t n = std::min(kEncodeBlock, end - i);
      fill(i, n, staging);
      encode_f32(staging, n, type, out + static_cast<size_t>(i) * out_size);
    }
  }
}

// The tensor as an Array of `dtype` with the tensor's shape (see the file comment).
Array stored_to_array(const StoredTensor& tensor, ElemType dtype);

// `value` (host memory) converted to `dtype`, both model dtypes (f32, f16, bf16), rounding to
// nearest even: used where a value stored in one model dtype is restored into a server of
// another. Same-type conversion returns the input view (no copy). Throws UsageError for other
// types or a device array.
Array convert_array(const Array& value, ElemType dtype);

}  // namespace hh
