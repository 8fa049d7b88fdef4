#include "bench/validate.h"

#include <cmath>
#include <cstring>

#include "util/half.h"
#include "values/text_format.h"

namespace hh::bench {
namespace {

double float_at(const Array& a, int64_t i) {
  const std::byte* p = a.raw() + static_cast<size_t>(i) * elem_size(a.type());
  switch (a.type()) {
    case ElemType::F16:
      return f16_to_f32(load_unaligned<uint16_t>(p));
    case ElemType::BF16:
      return bf16_to_f32(load_unaligned<uint16_t>(p));
    case ElemType::F32:
      return load_unaligned<float>(p);
    case ElemType::F64:
      return load_unaligned<double>(p);
    default:
      fail("float_at on {}", elem_name(a.type()));
  }
}

bool floats_match(double expected, double actual, const Tolerance& tol) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  if (std::isinf(expected) || std::isinf(actual)) return expected == actual;
  return std::fabs(expected - actual) <= std::max(tol.absolute, tol.relative * std::fabs(expected));
}

// "[2][5]" for flat index 13 of shape [3][4]; "" for a scalar.
std::string index_string(const Shape& shape, int64_t flat) {
  std::string out;
  std::vector<int64_t> idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = shape[k] == 0 ? 0 : flat % shape[k];
    flat = shape[k] == 0 ? 0 : flat / shape[k];
  }
  for (int64_t i : idx) out += fmt::format("[{}]", i);
  return out;
}

}  // namespace

Tolerance default_tolerance(ElemType type) {
  switch (type) {
    case ElemType::F64:
      return {1e-9, 1e-12};
    case ElemType::F32:
      return {1e-4, 1e-6};
    case ElemType::F16:
    case ElemType::BF16:
      return {1e-2, 1e-3};
    default:
      return {0, 0};
  }
}

std::optional<std::string> compare_values(const Array& expected, const Array& actual,
                                          std::string_view what) {
  if (expected.type() != actual.type() || expected.rank() != actual.rank()) {
    return fmt::format("{}: expected a value of type {}, got {}", what, expected.type_name(),
                       actual.type_name());
  }
  if (expected.shape() != actual.shape()) {
    return fmt::format("{}: expected shape {}{}, got {}{}", what, shape_string(expected.shape()),
                       elem_name(expected.type()), shape_string(actual.shape()),
                       elem_name(actual.type()));
  }
  const ElemType type = expected.type();
  const size_t esize = elem_size(type);
  const Tolerance tol = default_tolerance(type);
  int64_t first = -1, differing = 0;
  for (int64_t i = 0; i < expected.count(); ++i) {
    bool same;
    if (is_float(type)) {
      same = floats_match(float_at(expected, i), float_at(actual, i), tol);
    } else {
      same = std::memcmp(expected.raw() + i * esize, actual.raw() + i * esize, esize) == 0;
    }
    if (!same) {
      if (first < 0) first = i;
      ++differing;
    }
  }
  if (first < 0) return std::nullopt;
  const auto at = [&](const Array& a) {
    return format_scalar(type, a.raw() + static_cast<size_t>(first) * esize);
  };
  std::string message =
      fmt::format("{}: first mismatch at index {}: expected {}, got {}", what,
                  index_string(expected.shape(), first), at(expected), at(actual));
  if (expected.rank() == 0) {
    message = fmt::format("{}: expected {}, got {}", what, at(expected), at(actual));
  }
  if (is_float(type)) {
    message +=
        fmt::format(" (tolerance: relative {:g}, absolute {:g})", tol.relative, tol.absolute);
  }
  if (expected.rank() > 0) {
    message += fmt::format("; {} of {} elements differ", differing, expected.count());
  }
  return message;
}

}  // namespace hh::bench
