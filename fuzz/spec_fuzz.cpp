// libFuzzer target: the benchmark spec parser must turn any bytes into a Spec or a FormatError,
// never a crash, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench/spec.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const hh::bench::Spec spec = hh::bench::parse_spec(text, "fuzz.spec");
    // Touch what was parsed, so the optimiser keeps it.
    size_t datasets = 0;
    for (const auto& c : spec.cases) datasets += c.datasets.size() + c.entries.size();
    if (datasets == SIZE_MAX) return 1;
  } catch (const hh::FormatError&) {
  }
  return 0;
}
