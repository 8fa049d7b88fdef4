#pragma once
// Safetensors files (Hugging Face): an 8-byte little-endian header length, a JSON header
// mapping tensor names to dtype, shape and data offsets, then the raw data. Read on mmap; the
// data is never copied here. Errors name the file, the tensor and the byte offset.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "values/array.h"

namespace hh {

struct SafetensorsTensor {
  std::string name;
  ElemType type = ElemType::F32;  // F32, F16 or BF16 (other dtypes are rejected)
  Shape shape;                    // row-major, slowest axis first
  uint64_t offset = 0;            // from the start of the file
  uint64_t bytes = 0;
};

class SafetensorsFile {
 public:
  // Maps and parses `path`.
  static SafetensorsFile open(const std::string& path);
  // Parses an image already in memory (fuzzing, tests); `name` is used in messages.
  static SafetensorsFile parse(std::shared_ptr<Storage> bytes, std::string name);

  const std::string& path() const { return path_; }
  // Sorted by name.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;  // null when absent
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  uint64_t data_offset() const { return data_offset_; }  // 8 + header length

 private:
  std::string path_;
  uint64_t data_offset_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::shared_ptr<Storage> storage_;
};

}  // namespace hh
