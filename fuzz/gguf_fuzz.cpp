// libFuzzer target: GgufFile::parse on arbitrary bytes, then every tensor the parser accepts
// is converted (f32/f16/bf16/Q8_0 -> f32), so the bounds it promises are exercised too.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "model/convert.h"
#include "model/gguf.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto storage = hh::allocate_host(size, false);
  if (size > 0) std::memcpy(storage->data(), data, size);
  try {
    const hh::GgufFile f = hh::GgufFile::parse(storage, "fuzz.gguf");
    for (const auto& [key, value] : f.metadata()) {
      if (value.type == hh::GgufType::Array) continue;
      try {
        (void)value.as_float(key);
      } catch (const hh::FormatError&) {
      }
    }
    for (const auto& t : f.tensors()) {
      if (t.bytes > (1u << 20)) continue;  // keep runs fast; bounds were checked above
      hh::StoredTensor s{t.name, f.path(),    hh::Shape(t.dims.rbegin(), t.dims.rend()),
                         t.type, f.storage(), f.data_offset() + t.offset,
                         t.bytes};
      (void)f.tensor_data(t);
      (void)hh::stored_to_array(s, hh::ElemType::F32);
    }
  } catch (const hh::Error&) {
    // Rejected input: the point is that it is rejected cleanly.
  }
  return 0;
}
