#include "values/array.h"

#include <limits>

namespace hh {

std::string array_type_name(ElemType type, int rank) {
  std::string name;
  for (int i = 0; i < rank; ++i) name += "[]";
  name += elem_name(type);
  return name;
}

int64_t shape_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail_usage("negative dimension {} in shape {}", d, shape_string(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      fail_usage("shape {} has too many elements", shape_string(shape));
    }
    n *= d;
  }
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s;
  for (int64_t d : shape) s += fmt::format("[{}]", d);
  return s;
}

Array::Array(ElemType type, Shape shape, std::shared_ptr<Storage> storage, size_t offset)
    : type_(type), shape_(std::move(shape)), storage_(std::move(storage)), offset_(offset) {
  count_ = shape_count(shape_);
  const size_t esize = elem_size(type_);
  if (static_cast<uint64_t>(count_) > std::numeric_limits<size_t>::max() / esize) {
    fail_usage("array {}{} is too large", shape_string(shape_), elem_name(type_));
  }
  if (!storage_) fail("array view without storage");
  if (offset_ > storage_->size() || bytes() > storage_->size() - offset_) {
    fail_usage("array {}{} ({} bytes at offset {}) does not fit its storage of {} bytes",
               shape_string(shape_), elem_name(type_), bytes(), offset_, storage_->size());
  }
  if (storage_->space() != MemorySpace::Device &&
      reinterpret_cast<uintptr_t>(storage_->data() + offset_) % esize != 0) {
    fail_usage("array {}{} at offset {} is not aligned to its element size", shape_string(shape_),
               elem_name(type_), offset_);
  }
}

Array Array::allocate(ElemType type, Shape shape, bool zero) {
  const int64_t n = shape_count(shape);
  const size_t esize = elem_size(type);
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / esize) {
    fail_usage("array {}{} is too large", shape_string(shape), elem_name(type));
  }
  auto storage = allocate_host(static_cast<size_t>(n) * esize, zero);
  return Array(type, std::move(shape), std::move(storage), 0);
}

Array Array::from_i64(std::span<const int64_t> values) {
  Array a = allocate(ElemType::I64, {static_cast<int64_t>(values.size())}, false);
  if (!values.empty()) std::memcpy(a.raw(), values.data(), values.size_bytes());
  return a;
}

Array Array::slice(int64_t index) const {
  if (rank() == 0) fail_usage("cannot index a scalar");
  if (index < 0 || index >= shape_[0]) {
    fail_usage("index {} out of bounds for dimension of size {}", index, shape_[0]);
  }
  Shape inner(shape_.begin() + 1, shape_.end());
  const size_t stride = static_cast<size_t>(shape_count(inner)) * elem_size(type_);
  return Array(type_, std::move(inner), storage_, offset_ + static_cast<size_t>(index) * stride);
}

Array Array::reshaped(Shape shape) const {
  if (shape_count(shape) != count_) {
    fail_usage("cannot reshape {} to {}", shape_string(shape_), shape_string(shape));
  }
  return Array(type_, std::move(shape), storage_, offset_);
}

Array Array::clone() const {
  Array copy = allocate(type_, shape_, false);
  if (bytes() > 0) std::memcpy(copy.raw(), raw(), bytes());
  return copy;
}

}  // namespace hh
