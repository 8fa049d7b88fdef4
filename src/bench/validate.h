#pragma once
// Comparing an entry point's outputs with a dataset's expected values: integers and booleans
// exactly, floating-point numbers with a tolerance that fits their precision (NaN matches NaN,
// an infinity only the same infinity). A mismatch is described by its first differing element.
#include <optional>
#include <string>
#include <string_view>

#include "values/array.h"

namespace hh::bench {

struct Tolerance {
  double relative = 0;
  double absolute = 0;
};
// f64 1e-9/1e-12, f32 1e-4/1e-6, f16 and bf16 1e-2/1e-3 (relative/absolute): what accumulating
// in a different order or on another backend can change.
Tolerance default_tolerance(ElemType type);

// Nothing when `actual` matches `expected`; otherwise a message naming `what` (e.g. "output 0"),
// the first mismatching index, both values and how many elements differ.
std::optional<std::string> compare_values(const Array& expected, const Array& actual,
                                          std::string_view what);

}  // namespace hh::bench
