#include "model/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

// The reference implementation refuses headers above 100 MB; a real header is a few hundred KB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

ElemType parse_dtype(const std::string& dtype, const std::string& file, const std::string& tensor) {
  if (dtype == "F32") return ElemType::F32;
  if (dtype == "F16") return ElemType::F16;
  if (dtype == "BF16") return ElemType::BF16;
  fail_format("{}: tensor '{}' has dtype {}; only F32, F16 and BF16 are supported", file, tensor,
              dtype);
}

uint64_t non_negative(const nlohmann::json& v, const std::string& file, const std::string& tensor,
                      const char* field) {
  if (!v.is_number_unsigned()) {
    fail_format("{}: tensor '{}': {} must hold non-negative integers, found {}", file, tensor,
                field, v.dump());
  }
  return v.get<uint64_t>();
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  return parse(map_file_readonly(path), path);
}

SafetensorsFile SafetensorsFile::parse(std::shared_ptr<Storage> bytes, std::string name) {
  if (!bytes) fail("SafetensorsFile::parse without storage");
  SafetensorsFile f;
  f.path_ = std::move(name);
  f.storage_ = std::move(bytes);
  const std::string& nm = f.path_;
  const uint64_t size = f.storage_->size();
  if (size < 8) {
    fail_format("{}: truncated safetensors file: {} bytes, the header length alone needs 8", nm,
                size);
  }
  const uint64_t header_len = load_unaligned<uint64_t>(f.storage_->data());
  if (header_len > size - 8) {
    fail_format("{}: header length {} at byte offset 0 runs past the end of the file ({} bytes)",
                nm, header_len, size);
  }
  if (header_len > kMaxHeaderBytes) {
    fail_format("{}: header length {} at byte offset 0 exceeds the {} byte limit", nm, header_len,
                kMaxHeaderBytes);
  }
  f.data_offset_ = 8 + header_len;
  const char* begin = reinterpret_cast<const char*>(f.storage_->data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(begin, begin + header_len);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message carries the byte position inside the header.
    fail_format("{}: bad JSON header (starting at byte offset 8): {}", nm, e.what());
  }
  if (!header.is_object()) {
    fail_format("{}: the JSON header must be an object, found {}", nm, header.type_name());
  }

  const uint64_t data_size = size - f.data_offset_;
  f.tensors_.reserve(header.size());
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") continue;  // free-form strings, nothing hedgehog needs
    if (!entry.is_object()) {
      fail_format("{}: tensor '{}': entry must be an object, found {}", nm, key, entry.type_name());
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(field)) fail_format("{}: tensor '{}' has no '{}'", nm, key, field);
    }
    const auto& dtype = entry["dtype"];
    const auto& shape = entry["shape"];
    const auto& offsets = entry["data_offsets"];
    if (!dtype.is_string()) fail_format("{}: tensor '{}': dtype must be a string", nm, key);
    if (!shape.is_array()) fail_format("{}: tensor '{}': shape must be an array", nm, key);
    if (!offsets.is_array() || offsets.size() != 2) {
      fail_format("{}: tensor '{}': data_offsets must be an array of two integers", nm, key);
    }
    SafetensorsTensor t;
    t.name = key;
    t.type = parse_dtype(dtype.get<std::string>(), nm, key);
    uint64_t count = 1;
    for (const auto& d : shape) {
      const uint64_t dim = non_negative(d, nm, key, "shape");
      // 2^60 elements keep every later byte count in range.
      if (dim > (uint64_t{1} << 60) || (dim != 0 && count > (uint64_t{1} << 60) / dim)) {
        fail_format("{}: tensor '{}' has an absurd shape {}", nm, key, shape.dump());
      }
      count *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t begin_off = non_negative(offsets[0], nm, key, "data_offsets");
    const uint64_t end_off = non_negative(offsets[1], nm, key, "data_offsets");
    if (begin_off > end_off || end_off > data_size) {
      fail_format(
          "{}: tensor '{}': data_offsets [{}, {}] do not lie inside the {} data bytes "
          "(data starts at byte offset {})",
          nm, key, begin_off, end_off, data_size, f.data_offset_);
    }
    t.bytes = end_off - begin_off;
    const uint64_t expected = count * elem_size(t.type);
    if (t.bytes != expected) {
      fail_format(
          "{}: tensor '{}': data_offsets [{}, {}] span {} bytes but shape {} of {} needs "
          "{}",
          nm, key, begin_off, end_off, t.bytes, shape.dump(), dtype.get<std::string>(), expected);
    }
    t.offset = f.data_offset_ + begin_off;
    f.tensors_.push_back(std::move(t));
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it =
      std::lower_bound(tensors_.begin(), tensors_.end(), name,
                       [](const SafetensorsTensor& t, std::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace hh
