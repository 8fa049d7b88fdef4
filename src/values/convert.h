#pragma once
// Element-type conversion between the floating-point types (f16, bf16, f32, f64), rounding to
// nearest even. Used where a value stored in one model dtype is restored into a server of
// another; same-type conversion returns the input view (no copy).
#include "values/array.h"

namespace hh {

// Throws UsageError unless both types are floating point.
Array convert_float_array(const Array& value, ElemType to);

}  // namespace hh
