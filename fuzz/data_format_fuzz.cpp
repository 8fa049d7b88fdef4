// libFuzzer target: the binary and text value readers on arbitrary bytes. Whatever they accept
// must survive a round trip through both writers unchanged.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "util/half.h"
#include "values/binary_format.h"
#include "values/text_format.h"
#include "values/value_reader.h"

namespace {

// Bools print as true/false whatever their byte, and NaNs lose their payload in text.
bool same_text_value(const hh::Array& a, const hh::Array& b) {
  if (a.type() != b.type() || a.shape() != b.shape()) return false;
  const size_t esize = hh::elem_size(a.type());
  for (int64_t i = 0; i < a.count(); ++i) {
    const std::byte* x = a.raw() + i * esize;
    const std::byte* y = b.raw() + i * esize;
    switch (a.type()) {
      case hh::ElemType::Bool:
        if ((*reinterpret_cast<const uint8_t*>(x) != 0) !=
            (*reinterpret_cast<const uint8_t*>(y) != 0))
          return false;
        continue;
      case hh::ElemType::F16:
        if (std::isnan(hh::f16_to_f32(hh::load_unaligned<uint16_t>(x))) &&
            std::isnan(hh::f16_to_f32(hh::load_unaligned<uint16_t>(y))))
          continue;
        break;
      case hh::ElemType::BF16:
        if (std::isnan(hh::bf16_to_f32(hh::load_unaligned<uint16_t>(x))) &&
            std::isnan(hh::bf16_to_f32(hh::load_unaligned<uint16_t>(y))))
          continue;
        break;
      case hh::ElemType::F32:
        if (std::isnan(hh::load_unaligned<float>(x)) && std::isnan(hh::load_unaligned<float>(y)))
          continue;
        break;
      case hh::ElemType::F64:
        if (std::isnan(hh::load_unaligned<double>(x)) && std::isnan(hh::load_unaligned<double>(y)))
          continue;
        break;
      default:
        break;
    }
    if (std::memcmp(x, y, esize) != 0) return false;
  }
  return true;
}

void check_round_trips(const hh::Array& value) {
  const hh::Array back = hh::from_binary(hh::to_binary(value));
  if (back.type() != value.type() || back.shape() != value.shape() ||
      std::memcmp(back.raw(), value.raw(), value.bytes()) != 0) {
    std::abort();
  }
  if (value.count() > 4096) return;  // text of huge arrays costs time and finds nothing new
  const hh::Array text = hh::parse_text_value(hh::format_value(value));
  if (!same_text_value(value, text)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // A sequence of binary and text values, read...
  try {
    hh::ValueReader reader = hh::ValueReader::from_memory(bytes, "fuzz");
    while (!reader.at_end()) check_round_trips(reader.read());
  } catch (const hh::Error&) {
  }
  // ...and walked by headers only.
  try {
    hh::ValueReader reader = hh::ValueReader::from_memory(bytes, "fuzz");
    while (!reader.at_end()) reader.skip();
  } catch (const hh::Error&) {
  }
  try {
    check_round_trips(hh::from_binary(bytes, "fuzz"));
  } catch (const hh::Error&) {
  }
  try {
    for (const auto& v : hh::parse_text_values(bytes, "fuzz")) check_round_trips(v);
  } catch (const hh::Error&) {
  }
  return 0;
}
