// GGUF reader: one pass over the mapped header with a bounds-checked cursor. Every count is
// checked against the bytes left before anything is allocated for it, so a corrupt or
// hostile file costs at most memory proportional to its own size.
#include "model/gguf.h"

#include <bit>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
// Arrays of arrays are legal but nobody nests deeply; the cap keeps recursion bounded.
constexpr int kMaxArrayDepth = 8;

const char* gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::U8:
      return "u8";
    case GgufType::I8:
      return "i8";
    case GgufType::U16:
      return "u16";
    case GgufType::I16:
      return "i16";
    case GgufType::U32:
      return "u32";
    case GgufType::I32:
      return "i32";
    case GgufType::F32:
      return "f32";
    case GgufType::Bool:
      return "bool";
    case GgufType::String:
      return "string";
    case GgufType::Array:
      return "array";
    case GgufType::U64:
      return "u64";
    case GgufType::I64:
      return "i64";
    case GgufType::F64:
      return "f64";
  }
  return "unknown";
}

bool is_valid_gguf_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

bool is_unsigned(GgufType t) {
  return t == GgufType::U8 || t == GgufType::U16 || t == GgufType::U32 || t == GgufType::U64;
}
bool is_signed(GgufType t) {
  return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

// Smallest encoding of one value of `type`: bounds a count by the bytes left.
uint64_t min_encoded_size(GgufType type) {
  switch (type) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::Bool:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
    case GgufType::String:
      return 8;  // length only
    case GgufType::Array:
      return 12;  // element type + count
  }
  return 1;
}

std::string describe(const GgufValue& v) {
  if (v.type == GgufType::Array) return fmt::format("array of {}", gguf_type_name(v.array_type));
  return gguf_type_name(v.type);
}

// What a read is for, formatted only when it fails: the header of a real model holds
// hundreds of thousands of strings, and building a message for each would dominate parsing.
struct Field {
  const char* what;
  const std::string* subject = nullptr;  // a key or tensor name, quoted after `what`
  uint64_t index = ~uint64_t{0};         // or an item number
  const char* suffix = "";

  std::string str() const {
    std::string s = what;
    if (subject != nullptr) s += " '" + *subject + "'";
    if (index != ~uint64_t{0}) s += fmt::format(" #{}", index);
    return s + suffix;
  }
};

class Cursor {
 public:
  Cursor(const std::byte* data, uint64_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  void need(uint64_t n, const Field& field) const {
    if (n > left()) {
      fail_format("{}: truncated: {} at byte offset {} needs {} bytes but only {} remain", name_,
                  field.str(), pos_, n, left());
    }
  }

  template <typename T>
  T read(const Field& field) {
    need(sizeof(T), field);
    T v = load_unaligned<T>(data_ + pos_);
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const Field& field) {
    const uint64_t at = pos_;
    Field length = field;
    length.suffix = " length";
    const uint64_t len = read<uint64_t>(length);
    if (len > left()) {
      fail_format("{}: truncated: {} at byte offset {} has length {} but only {} bytes remain",
                  name_, field.str(), at, len, left());
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  // A count of items that each take at least `min_size` bytes: rejects counts the rest of the
  // file cannot hold, before the caller reserves memory for them.
  uint64_t read_count(const Field& field, uint64_t min_size) {
    const uint64_t at = pos_;
    const uint64_t n = read<uint64_t>(field);
    if (n > left() / min_size) {
      fail_format("{}: absurd {} {} at byte offset {}: the {} bytes left hold at most {}", name_,
                  field.str(), n, at, left(), left() / min_size);
    }
    return n;
  }

 private:
  const std::byte* data_;
  uint64_t size_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

GgufValue read_value(Cursor& c, GgufType type, const std::string& key, int depth,
                     const std::string& name) {
  GgufValue v;
  v.type = type;
  const Field what{"value of metadata key", &key};
  switch (type) {
    case GgufType::U8:
      v.uint_value = c.read<uint8_t>(what);
      break;
    case GgufType::U16:
      v.uint_value = c.read<uint16_t>(what);
      break;
    case GgufType::U32:
      v.uint_value = c.read<uint32_t>(what);
      break;
    case GgufType::U64:
      v.uint_value = c.read<uint64_t>(what);
      break;
    case GgufType::I8:
      v.int_value = c.read<int8_t>(what);
      break;
    case GgufType::I16:
      v.int_value = c.read<int16_t>(what);
      break;
    case GgufType::I32:
      v.int_value = c.read<int32_t>(what);
      break;
    case GgufType::I64:
      v.int_value = c.read<int64_t>(what);
      break;
    case GgufType::F32:
      v.float_value = c.read<float>(what);
      break;
    case GgufType::F64:
      v.float_value = c.read<double>(what);
      break;
    case GgufType::Bool: {
      const uint64_t at = c.pos();
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) {
        fail_format("{}: metadata key '{}' has bool byte {} at byte offset {} (must be 0 or 1)",
                    name, key, b, at);
      }
      v.uint_value = b;
      break;
    }
    case GgufType::String:
      v.string_value = c.read_string(what);
      break;
    case GgufType::Array: {
      const uint64_t at = c.pos();
      const uint32_t elem = c.read<uint32_t>(Field{"element type of metadata key", &key});
      if (!is_valid_gguf_type(elem)) {
        fail_format("{}: metadata key '{}' has unknown array element type {} at byte offset {}",
                    name, key, elem, at);
      }
      if (elem == static_cast<uint32_t>(GgufType::Array) && depth + 1 >= kMaxArrayDepth) {
        fail_format("{}: metadata key '{}' nests arrays deeper than {} at byte offset {}", name,
                    key, kMaxArrayDepth, at);
      }
      v.array_type = static_cast<GgufType>(elem);
      const uint64_t n = c.read_count(Field{"element count of metadata key", &key},
                                      min_encoded_size(v.array_type));
      v.array.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) {
        v.array.push_back(read_value(c, v.array_type, key, depth + 1, name));
      }
      break;
    }
  }
  return v;
}

}  // namespace

const char* ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
      return "F32";
    case GgmlType::F16:
      return "F16";
    case GgmlType::Q8_0:
      return "Q8_0";
    case GgmlType::BF16:
      return "BF16";
  }
  return "unknown";
}

GgmlType ggml_type_of(ElemType type) {
  switch (type) {
    case ElemType::F32:
      return GgmlType::F32;
    case ElemType::F16:
      return GgmlType::F16;
    case ElemType::BF16:
      return GgmlType::BF16;
    default:
      fail_usage("{} is not a model dtype (f32, f16, bf16)", elem_name(type));
  }
}

uint64_t ggml_tensor_bytes(GgmlType type, const std::vector<int64_t>& dims) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) fail_format("negative tensor dimension {}", d);
    const auto ud = static_cast<uint64_t>(d);
    // 2^60 elements leave room for the byte count of any type without overflow.
    if (ud != 0 && n > (uint64_t{1} << 60) / ud) fail_format("tensor element count overflows");
    n *= ud;
  }
  switch (type) {
    case GgmlType::F32:
      return n * 4;
    case GgmlType::F16:
    case GgmlType::BF16:
      return n * 2;
    case GgmlType::Q8_0:
      if (dims.empty() || dims[0] % 32 != 0) {
        fail_format("Q8_0 tensor's first dimension {} is not a multiple of the 32-element block",
                    dims.empty() ? 1 : dims[0]);
      }
      return n / 32 * 34;
  }
  fail_format("unsupported ggml type {}", static_cast<uint32_t>(type));
}

int64_t GgufValue::as_int(std::string_view key) const {
  if (is_unsigned(type)) {
    if (uint_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail_format("metadata key '{}': value {} does not fit in int64", key, uint_value);
    }
    return static_cast<int64_t>(uint_value);
  }
  if (is_signed(type)) return int_value;
  fail_format("metadata key '{}' is {}, expected an integer", key, describe(*this));
}

double GgufValue::as_float(std::string_view key) const {
  if (type == GgufType::F32 || type == GgufType::F64) return float_value;
  if (is_unsigned(type)) return static_cast<double>(uint_value);
  if (is_signed(type)) return static_cast<double>(int_value);
  fail_format("metadata key '{}' is {}, expected a number", key, describe(*this));
}

bool GgufValue::as_bool(std::string_view key) const {
  if (type != GgufType::Bool) {
    fail_format("metadata key '{}' is {}, expected bool", key, describe(*this));
  }
  return uint_value != 0;
}

const std::string& GgufValue::as_string(std::string_view key) const {
  if (type != GgufType::String) {
    fail_format("metadata key '{}' is {}, expected string", key, describe(*this));
  }
  return string_value;
}

std::vector<std::string> GgufValue::as_strings(std::string_view key) const {
  if (type != GgufType::Array || array_type != GgufType::String) {
    fail_format("metadata key '{}' is {}, expected array of string", key, describe(*this));
  }
  std::vector<std::string> out;
  out.reserve(array.size());
  for (const auto& e : array) out.push_back(e.string_value);
  return out;
}

std::vector<int64_t> GgufValue::as_ints(std::string_view key) const {
  if (type != GgufType::Array || !(is_signed(array_type) || is_unsigned(array_type))) {
    fail_format("metadata key '{}' is {}, expected array of integers", key, describe(*this));
  }
  std::vector<int64_t> out;
  out.reserve(array.size());
  for (const auto& e : array) out.push_back(e.as_int(key));
  return out;
}

std::vector<double> GgufValue::as_floats(std::string_view key) const {
  if (type != GgufType::Array || !(array_type == GgufType::F32 || array_type == GgufType::F64)) {
    fail_format("metadata key '{}' is {}, expected array of floats", key, describe(*this));
  }
  std::vector<double> out;
  out.reserve(array.size());
  for (const auto& e : array) out.push_back(e.float_value);
  return out;
}

GgufFile GgufFile::open(const std::string& path) { return parse(map_file_readonly(path), path); }

GgufFile GgufFile::parse(std::shared_ptr<Storage> bytes, std::string name) {
  if (!bytes) fail("GgufFile::parse without storage");
  GgufFile f;
  f.path_ = std::move(name);
  f.storage_ = std::move(bytes);
  const std::string& nm = f.path_;
  Cursor c(f.storage_->data(), f.storage_->size(), nm);

  if (c.left() < 4 || load_unaligned<uint32_t>(f.storage_->data()) != kMagic) {
    std::string seen;
    for (uint64_t i = 0; i < std::min<uint64_t>(4, c.left()); ++i) {
      const auto ch = static_cast<unsigned char>(f.storage_->data()[i]);
      seen += (ch >= 32 && ch < 127) ? std::string(1, static_cast<char>(ch))
                                     : fmt::format("\\x{:02x}", ch);
    }
    fail_format("{}: not a GGUF file (magic '{}' at byte offset 0, expected 'GGUF')", nm, seen);
  }
  c.read<uint32_t>(Field{"magic"});
  f.version_ = c.read<uint32_t>(Field{"version"});
  if (f.version_ == 1) {
    fail_format("{}: GGUF version 1 is not supported (only versions 2 and 3)", nm);
  }
  if (f.version_ != 2 && f.version_ != 3) {
    const uint32_t swapped = __builtin_bswap32(f.version_);
    if (swapped == 2 || swapped == 3) {
      fail_format("{}: big-endian GGUF (version {}) is not supported", nm, swapped);
    }
    fail_format("{}: unsupported GGUF version {} at byte offset 4 (expected 2 or 3)", nm,
                f.version_);
  }
  // Each tensor info takes at least name length + n_dims + type + offset bytes; each
  // key/value at least key length + type + one byte.
  const uint64_t tensor_count_at = c.pos();
  const uint64_t n_tensors = c.read<uint64_t>(Field{"tensor count"});
  const uint64_t n_kv = c.read_count(Field{"metadata count"}, 8 + 4 + 1);
  if (n_tensors > c.left() / (8 + 4 + 4 + 8)) {
    fail_format("{}: absurd tensor count {} at byte offset {}: the file has {} bytes", nm,
                n_tensors, tensor_count_at, f.storage_->size());
  }

  f.metadata_.reserve(static_cast<size_t>(n_kv));
  std::unordered_set<std::string> keys;
  uint64_t alignment_at = 0;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t key_at = c.pos();
    std::string key = c.read_string(Field{"metadata key", nullptr, i});
    if (!keys.insert(key).second) {
      fail_format("{}: duplicate metadata key '{}' at byte offset {}", nm, key, key_at);
    }
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>(Field{"type of metadata key", &key});
    if (!is_valid_gguf_type(type)) {
      fail_format("{}: metadata key '{}' has unknown value type {} at byte offset {}", nm, key,
                  type, type_at);
    }
    if (key == "general.alignment") alignment_at = c.pos();
    GgufValue value = read_value(c, static_cast<GgufType>(type), key, 0, nm);
    f.metadata_.emplace_back(std::move(key), std::move(value));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    if (!is_unsigned(a->type) || a->uint_value == 0 || !std::has_single_bit(a->uint_value) ||
        a->uint_value > (uint64_t{1} << 30)) {
      fail_format(
          "{}: general.alignment at byte offset {} must be an unsigned power of two up to "
          "2^30, got {}{}",
          nm, alignment_at, describe(*a),
          is_unsigned(a->type) ? fmt::format(" {}", a->uint_value) : std::string());
    }
    f.alignment_ = a->uint_value;
  }

  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  std::unordered_set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t info_at = c.pos();
    GgufTensorInfo t;
    t.name = c.read_string(Field{"name of tensor", nullptr, i});
    if (!names.insert(t.name).second) {
      fail_format("{}: duplicate tensor '{}' at byte offset {}", nm, t.name, info_at);
    }
    const uint64_t dims_at = c.pos();
    const uint32_t n_dims = c.read<uint32_t>(Field{"dimension count of tensor", &t.name});
    if (n_dims > kMaxDims) {
      fail_format("{}: tensor '{}' has {} dimensions at byte offset {} (at most {})", nm, t.name,
                  n_dims, dims_at, kMaxDims);
    }
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = c.pos();
      const uint64_t dim = c.read<uint64_t>(Field{"dimension of tensor", &t.name});
      if (dim > (uint64_t{1} << 62)) {
        fail_format("{}: tensor '{}' has absurd dimension {} at byte offset {}", nm, t.name, dim,
                    dim_at);
      }
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>(Field{"type of tensor", &t.name});
    if (type != 0 && type != 1 && type != 8 && type != 30) {
      fail_format(
          "{}: tensor '{}' has unsupported ggml type {} at byte offset {} (supported: "
          "0 F32, 1 F16, 8 Q8_0, 30 BF16)",
          nm, t.name, type, type_at);
    }
    t.type = static_cast<GgmlType>(type);
    try {
      t.bytes = ggml_tensor_bytes(t.type, t.dims);
    } catch (const FormatError& e) {
      fail_format("{}: tensor '{}' at byte offset {}: {}", nm, t.name, info_at, e.what());
    }
    const uint64_t offset_at = c.pos();
    t.offset = c.read<uint64_t>(Field{"data offset of tensor", &t.name});
    if (t.offset % f.alignment_ != 0) {
      fail_format(
          "{}: tensor '{}' data offset {} at byte offset {} is not a multiple of the "
          "alignment {}",
          nm, t.name, t.offset, offset_at, f.alignment_);
    }
    f.tensors_.push_back(std::move(t));
  }

  const uint64_t end_of_infos = c.pos();
  f.data_offset_ = (end_of_infos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  const uint64_t size = f.storage_->size();
  for (const auto& t : f.tensors_) {
    // Written so that no sum can overflow: data_offset_ <= size is checked first.
    if (f.data_offset_ > size || t.offset > size - f.data_offset_ ||
        t.bytes > size - f.data_offset_ - t.offset) {
      fail_format(
          "{}: tensor '{}' data ({} bytes at byte offset {}) runs past the end of the "
          "file ({} bytes)",
          nm, t.name, t.bytes, f.data_offset_ + t.offset, size);
    }
  }
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) fail_format("{}: metadata key '{}' is missing", path_, key);
  return *v;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const std::byte* GgufFile::tensor_data(const GgufTensorInfo& info) const {
  const uint64_t size = storage_->size();
  if (data_offset_ > size || info.offset > size - data_offset_ ||
      info.bytes > size - data_offset_ - info.offset) {
    fail_format("{}: tensor '{}' lies outside the file", path_, info.name);
  }
  return storage_->data() + data_offset_ + info.offset;
}

GgufValue gguf_string(std::string s) {
  GgufValue v;
  v.type = GgufType::String;
  v.string_value = std::move(s);
  return v;
}

GgufValue gguf_u32(uint32_t x) {
  GgufValue v;
  v.type = GgufType::U32;
  v.uint_value = x;
  return v;
}

GgufValue gguf_i32(int32_t x) {
  GgufValue v;
  v.type = GgufType::I32;
  v.int_value = x;
  return v;
}

GgufValue gguf_f32(float x) {
  GgufValue v;
  v.type = GgufType::F32;
  v.float_value = x;
  return v;
}

GgufValue gguf_bool(bool x) {
  GgufValue v;
  v.type = GgufType::Bool;
  v.uint_value = x ? 1 : 0;
  return v;
}

GgufValue gguf_array(GgufType elem_type, std::vector<GgufValue> values) {
  GgufValue v;
  v.type = GgufType::Array;
  v.array_type = elem_type;
  v.array = std::move(values);
  return v;
}

GgufValue gguf_string_array(std::vector<std::string> values) {
  std::vector<GgufValue> elems;
  elems.reserve(values.size());
  for (auto& s : values) elems.push_back(gguf_string(std::move(s)));
  return gguf_array(GgufType::String, std::move(elems));
}

GgufValue gguf_i32_array(std::vector<int32_t> values) {
  std::vector<GgufValue> elems;
  elems.reserve(values.size());
  for (int32_t x : values) elems.push_back(gguf_i32(x));
  return gguf_array(GgufType::I32, std::move(elems));
}

}  // namespace hh
