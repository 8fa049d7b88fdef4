#pragma once
// An n-dimensional array (rank 0 = a scalar): element type, shape, and a view into shared
// Storage. Copying an Array copies the view, never the bytes. Every Array's data pointer is
// aligned to its element size, so typed access through data<T>() is always valid.
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/error.h"
#include "values/elem_type.h"
#include "values/storage.h"

namespace hh {

using Shape = std::vector<int64_t>;

// "[][]f32" for rank 2, "i64" for rank 0.
std::string array_type_name(ElemType type, int rank);
// Element count of a shape; throws UsageError on negative or overflowing sizes.
int64_t shape_count(const Shape& shape);
std::string shape_string(const Shape& shape);  // "[3][4]"

class Array {
 public:
  Array() = default;
  // A view of `storage` at byte `offset`; throws if the view does not fit or is misaligned.
  Array(ElemType type, Shape shape, std::shared_ptr<Storage> storage, size_t offset = 0);

  // New host array, zero-filled unless `zero` is false.
  static Array allocate(ElemType type, Shape shape, bool zero = true);
  template <typename T>
  static Array scalar(ElemType type, T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    Array a = allocate(type, {});
    if (sizeof(T) != elem_size(type)) fail("scalar size mismatch for {}", elem_name(type));
    std::memcpy(a.raw(), &value, sizeof(T));
    return a;
  }
  static Array from_i64(std::span<const int64_t> values);

  bool valid() const { return storage_ != nullptr; }
  ElemType type() const { return type_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_.at(static_cast<size_t>(axis)); }
  int64_t count() const { return count_; }
  size_t bytes() const { return static_cast<size_t>(count_) * elem_size(type_); }
  std::string type_name() const { return array_type_name(type_, rank()); }

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t offset() const { return offset_; }
  MemorySpace space() const { return storage_ ? storage_->space() : MemorySpace::Host; }
  // Host-visible bytes (Host or Mapped storage).
  std::byte* raw() const { return storage_->data() + offset_; }
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(raw());
  }

  // Scalar value of a rank-0 array of the matching size; throws otherwise.
  template <typename T>
  T scalar_value() const {
    if (rank() != 0 || elem_size(type_) != sizeof(T)) {
      fail_usage("expected a scalar of {} bytes, got {}", sizeof(T), type_name());
    }
    T v;
    std::memcpy(&v, raw(), sizeof(T));
    return v;
  }

  // View of element `index` along the first axis (rank decreases by one).
  Array slice(int64_t index) const;
  // Same bytes, another shape of the same element count.
  Array reshaped(Shape shape) const;
  // A deep copy in fresh host memory.
  Array clone() const;

 private:
  ElemType type_ = ElemType::F32;
  Shape shape_;
  int64_t count_ = 0;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
};

}  // namespace hh
