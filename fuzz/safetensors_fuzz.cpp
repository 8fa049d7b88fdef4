// libFuzzer target: SafetensorsFile::parse (length prefix + JSON header) on arbitrary bytes,
// then every accepted tensor is converted to f32 to exercise the offsets it promises.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "model/convert.h"
#include "model/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto storage = hh::allocate_host(size, false);
  if (size > 0) std::memcpy(storage->data(), data, size);
  try {
    const hh::SafetensorsFile f = hh::SafetensorsFile::parse(storage, "fuzz.safetensors");
    for (const auto& t : f.tensors()) {
      if (t.bytes > (1u << 20)) continue;
      hh::StoredTensor s{t.name,      f.path(), t.shape, hh::ggml_type_of(t.type),
                         f.storage(), t.offset, t.bytes};
      (void)hh::stored_to_array(s, hh::ElemType::F32);
    }
  } catch (const hh::Error&) {
  }
  return 0;
}
