#pragma once
// Turning a tensor as stored in a model file into an Array of the model dtype: a view of the
// mapping when the bytes already are that dtype and aligned, else one converted host copy.
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

// The tensor as an Array of `dtype` with the tensor's shape (see the file comment).
Array stored_to_array(const StoredTensor& tensor, ElemType dtype);

}  // namespace hh
