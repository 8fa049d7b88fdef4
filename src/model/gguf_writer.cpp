// GGUF v3 writer. The header is built in memory (it is small), tensor data is streamed from
// the callers' buffers or fill callbacks; everything goes to `path.tmp`, is fsync'ed and then
// renamed, so readers never see a half-written model.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_set>

#include "model/gguf.h"
#include "util/error.h"

namespace hh {
namespace {

constexpr uint64_t kDefaultAlignment = 32;  // GGUF's default when general.alignment is absent

class HeaderBuffer {
 public:
  template <typename T>
  void put(T v) {
    append(&v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    append(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(std::byte{0});
  }
  const std::vector<std::byte>& bytes() const { return bytes_; }

 private:
  void append(const void* p, size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n > 0) std::memcpy(bytes_.data() + at, p, n);
  }
  std::vector<std::byte> bytes_;
};

// Range checks keep a value from being silently truncated on the way to its wire width.
template <typename T>
T checked_uint(const GgufValue& v, const std::string& key) {
  if (v.uint_value > std::numeric_limits<T>::max()) {
    fail_usage("GGUF writer: metadata key '{}': value {} does not fit its type", key, v.uint_value);
  }
  return static_cast<T>(v.uint_value);
}
template <typename T>
T checked_int(const GgufValue& v, const std::string& key) {
  if (v.int_value < std::numeric_limits<T>::min() || v.int_value > std::numeric_limits<T>::max()) {
    fail_usage("GGUF writer: metadata key '{}': value {} does not fit its type", key, v.int_value);
  }
  return static_cast<T>(v.int_value);
}

void put_value(HeaderBuffer& out, const GgufValue& v, const std::string& key) {
  switch (v.type) {
    case GgufType::U8:
      out.put(checked_uint<uint8_t>(v, key));
      break;
    case GgufType::U16:
      out.put(checked_uint<uint16_t>(v, key));
      break;
    case GgufType::U32:
      out.put(checked_uint<uint32_t>(v, key));
      break;
    case GgufType::U64:
      out.put(v.uint_value);
      break;
    case GgufType::I8:
      out.put(checked_int<int8_t>(v, key));
      break;
    case GgufType::I16:
      out.put(checked_int<int16_t>(v, key));
      break;
    case GgufType::I32:
      out.put(checked_int<int32_t>(v, key));
      break;
    case GgufType::I64:
      out.put(v.int_value);
      break;
    case GgufType::F32:
      out.put(static_cast<float>(v.float_value));
      break;
    case GgufType::F64:
      out.put(v.float_value);
      break;
    case GgufType::Bool:
      out.put<uint8_t>(v.uint_value != 0 ? 1 : 0);
      break;
    case GgufType::String:
      out.put_string(v.string_value);
      break;
    case GgufType::Array:
      out.put(static_cast<uint32_t>(v.array_type));
      out.put<uint64_t>(v.array.size());
      for (const auto& e : v.array) {
        if (e.type != v.array_type) {
          fail_usage(
              "GGUF writer: metadata key '{}': array element of type {} in an array of "
              "type {}",
              key, static_cast<uint32_t>(e.type), static_cast<uint32_t>(v.array_type));
        }
        put_value(out, e, key);
      }
      break;
    default:
      fail_usage("GGUF writer: metadata key '{}' has unknown type {}", key,
                 static_cast<uint32_t>(v.type));
  }
}

class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_errno("cannot create '" + path_ + "'");
  }
  ~OutputFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(path_.c_str());  // only reached when commit() did not run: drop the partial file
    }
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, uint64_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      // Linux transfers at most about 2 GiB per call.
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, uint64_t{1} << 30));
      const ssize_t w = ::write(fd_, p, chunk);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail_errno("cannot write '" + path_ + "'");
      }
      p += w;
      n -= static_cast<uint64_t>(w);
      written_ += static_cast<uint64_t>(w);
    }
  }
  void pad_to(uint64_t alignment) {
    static const char kZeros[256] = {};
    for (uint64_t pad = (alignment - written_ % alignment) % alignment; pad > 0;) {
      const uint64_t n = std::min<uint64_t>(pad, sizeof(kZeros));
      write(kZeros, n);
      pad -= n;
    }
  }
  uint64_t written() const { return written_; }

  void commit(const std::string& final_path) {
    if (::fsync(fd_) != 0) fail_errno("cannot sync '" + path_ + "'");
    if (::close(fd_) != 0) {
      fd_ = -1;
      ::unlink(path_.c_str());
      fail_errno("cannot close '" + path_ + "'");
    }
    fd_ = -1;
    if (::rename(path_.c_str(), final_path.c_str()) != 0) {
      const int saved = errno;
      ::unlink(path_.c_str());
      errno = saved;
      fail_errno("cannot rename '" + path_ + "' to '" + final_path + "'");
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

}  // namespace

void GgufWriter::add(std::string key, GgufValue value) {
  for (const auto& [k, v] : metadata_) {
    if (k == key) fail_usage("GGUF writer: duplicate metadata key '{}'", key);
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> dims, GgmlType type,
                            const void* data, uint64_t bytes) {
  PendingTensor t{GgufTensorInfo{std::move(name), std::move(dims), type, 0, 0}, data, nullptr};
  if (t.info.dims.size() > 4) {
    fail_usage("GGUF writer: tensor '{}' has {} dimensions (at most 4)", t.info.name,
               t.info.dims.size());
  }
  try {
    t.info.bytes = ggml_tensor_bytes(type, t.info.dims);
  } catch (const FormatError& e) {
    fail_usage("GGUF writer: tensor '{}': {}", t.info.name, e.what());
  }
  if (data != nullptr && bytes != t.info.bytes) {
    fail_usage("GGUF writer: tensor '{}' has {} bytes of data, its shape and type need {}",
               t.info.name, bytes, t.info.bytes);
  }
  if (data == nullptr && t.info.bytes != 0) {
    fail_usage("GGUF writer: tensor '{}' has no data", t.info.name);
  }
  for (const auto& other : tensors_) {
    if (other.info.name == t.info.name) {
      fail_usage("GGUF writer: duplicate tensor '{}'", t.info.name);
    }
  }
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> dims, GgmlType type,
                            TensorFill fill) {
  if (!fill) fail_usage("GGUF writer: tensor '{}' has no fill function", name);
  // Register with a placeholder pointer so the shared checks run, then swap in the callback.
  static const std::byte kNothing{};
  uint64_t bytes = 0;
  try {
    bytes = ggml_tensor_bytes(type, dims);
  } catch (const FormatError& e) {
    fail_usage("GGUF writer: tensor '{}': {}", name, e.what());
  }
  add_tensor(std::move(name), std::move(dims), type, &kNothing, bytes);
  tensors_.back().data = nullptr;
  tensors_.back().fill = std::move(fill);
}

void GgufWriter::write(const std::string& path) const {
  uint64_t alignment = kDefaultAlignment;
  for (const auto& [key, value] : metadata_) {
    if (key != "general.alignment") continue;
    if (value.type != GgufType::U32 || value.uint_value == 0 ||
        (value.uint_value & (value.uint_value - 1)) != 0 || value.uint_value > (1u << 30)) {
      fail_usage("GGUF writer: general.alignment must be a u32 power of two up to 2^30");
    }
    alignment = value.uint_value;
  }
  HeaderBuffer h;
  h.put<uint32_t>(0x46554747);  // "GGUF"
  h.put<uint32_t>(3);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    h.put_string(key);
    h.put(static_cast<uint32_t>(value.type));
    put_value(h, value, key);
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors_) {
    h.put_string(t.info.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.info.dims.size()));
    for (int64_t d : t.info.dims) h.put<uint64_t>(static_cast<uint64_t>(d));
    h.put(static_cast<uint32_t>(t.info.type));
    h.put<uint64_t>(offset);
    offsets.push_back(offset);
    offset = (offset + t.info.bytes + alignment - 1) / alignment * alignment;
  }
  h.pad_to(alignment);

  OutputFile out(path + ".tmp");
  out.write(h.bytes().data(), h.bytes().size());
  const uint64_t data_start = out.written();
  std::unique_ptr<std::byte[]> buffer;  // (largest filled tensor bytes), reused across tensors
  uint64_t buffer_size = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    out.pad_to(alignment);
    if (out.written() - data_start != offsets[i]) fail("GGUF writer: tensor offsets out of step");
    if (t.fill) {
      if (buffer_size < t.info.bytes) {
        buffer.reset();  // free the old buffer first: the two may be large
        buffer.reset(new std::byte[t.info.bytes]);
        buffer_size = t.info.bytes;
      }
      t.fill(buffer.get());
      out.write(buffer.get(), t.info.bytes);
    } else {
      out.write(t.data, t.info.bytes);
    }
  }
  out.commit(path);
}

}  // namespace hh
