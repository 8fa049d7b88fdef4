#pragma once
// GGUF v2/v3 files: a reader on mmap (metadata of every value type, tensor infos, aligned data)
// and a writer. Tensor data is never copied by the reader; errors name the file, the key or
// tensor, and the byte offset.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "values/elem_type.h"
#include "values/storage.h"

namespace hh {

// clang-format off
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
// clang-format on

// ggml tensor types that hedgehog reads (the rest are rejected with their number named).
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };

// "F32", "F16", "Q8_0", "BF16".
const char* ggml_type_name(GgmlType type);
// The ggml type that stores a model dtype (f32, f16, bf16) as is; UsageError for other types.
GgmlType ggml_type_of(ElemType type);
// Bytes of a tensor of `type` with GGUF dims (fastest first); FormatError when the element count
// overflows or (Q8_0) dims[0] is not a multiple of the 32-element block.
uint64_t ggml_tensor_bytes(GgmlType type, const std::vector<int64_t>& dims);

struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType array_type = GgufType::U8;  // element type when type == Array
  uint64_t uint_value = 0;             // U8..U64, Bool
  int64_t int_value = 0;               // I8..I64
  double float_value = 0;              // F32, F64
  std::string string_value;            // String
  std::vector<GgufValue> array;        // Array

  // Typed access; each throws FormatError naming `key` when the value has another type.
  int64_t as_int(std::string_view key) const;   // any integer type (range-checked)
  double as_float(std::string_view key) const;  // F32/F64 or any integer
  bool as_bool(std::string_view key) const;
  const std::string& as_string(std::string_view key) const;
  std::vector<std::string> as_strings(std::string_view key) const;  // Array of String
  std::vector<int64_t> as_ints(std::string_view key) const;         // Array of integers
  std::vector<double> as_floats(std::string_view key) const;        // Array of F32/F64
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order: dims[0] varies fastest (ggml's ne)
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t bytes = 0;
};

class GgufFile {
 public:
  // Maps and parses `path`; checks every length, count and offset against the file size.
  static GgufFile open(const std::string& path);
  // Parses a GGUF image already in memory (fuzzing, tests); `name` is used in messages.
  static GgufFile parse(std::shared_ptr<Storage> bytes, std::string name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;  // null when absent
  const GgufValue& get(std::string_view key) const;   // FormatError when absent
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // Pointer to the tensor's bytes inside the mapping (checked to lie inside the file).
  const std::byte* tensor_data(const GgufTensorInfo& info) const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  uint64_t data_offset() const { return data_offset_; }

 private:
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::shared_ptr<Storage> storage_;
};

// Writes a GGUF v3 file: metadata in insertion order, then tensors (data aligned to 32 bytes, or
// to general.alignment when the metadata sets it).
// Written to `path + ".tmp"` and renamed, so a failed write leaves no partial file.
class GgufWriter {
 public:
  void add(std::string key, GgufValue value);
  // `data` must stay alive until write(); dims in GGUF order (fastest first).
  void add_tensor(std::string name, std::vector<int64_t> dims, GgmlType type, const void* data,
                  uint64_t bytes);
  // As above, but the bytes are produced at write() time: `fill` gets a buffer of exactly the
  // tensor's bytes. Lets a generator stream a model larger than memory through the writer.
  using TensorFill = std::function<void(std::byte* out)>;
  void add_tensor(std::string name, std::vector<int64_t> dims, GgmlType type, TensorFill fill);
  void write(const std::string& path) const;

 private:
  struct PendingTensor {
    GgufTensorInfo info;
    const void* data;  // null when `fill` produces the bytes
    TensorFill fill;
  };
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
};

// Convenience constructors for writer metadata.
GgufValue gguf_string(std::string s);
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_i32(int32_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_bool(bool v);
GgufValue gguf_string_array(std::vector<std::string> values);
GgufValue gguf_i32_array(std::vector<int32_t> values);
// An Array of `elem_type`; every element's type must be elem_type (checked by the writer).
GgufValue gguf_array(GgufType elem_type, std::vector<GgufValue> values);

}  // namespace hh
