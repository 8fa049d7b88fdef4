#pragma once
// Helpers for the model tests: byte images built by hand, temporary folders, tiny models.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/tiny_qwen3.h"
#include "model/gguf.h"
#include "model/random_model.h"
#include "values/storage.h"

namespace hh::testing {

// Element i of an array of a model dtype, as double (tiny_qwen3.h).
using test::element;

// Little-endian byte image, for files written independently of the code under test.
class Bytes {
 public:
  template <typename T>
  Bytes& put(T v) {
    const size_t at = data_.size();
    data_.resize(at + sizeof(T));
    std::memcpy(data_.data() + at, &v, sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    data_ += s;
    return *this;
  }
  Bytes& raw(const std::string& s) {
    data_ += s;
    return *this;
  }
  Bytes& pad_to(size_t alignment) {
    while (data_.size() % alignment != 0) data_.push_back('\0');
    return *this;
  }
  const std::string& str() const { return data_; }
  size_t size() const { return data_.size(); }

 private:
  std::string data_;
};

inline std::shared_ptr<Storage> storage_of(const std::string& bytes) {
  auto s = allocate_host(bytes.size());
  if (!bytes.empty()) std::memcpy(s->data(), bytes.data(), bytes.size());
  return s;
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hh_model_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The tiny preset with a small vocabulary: a whole model in a few hundred KB.
inline RandomModelOptions tiny_options(ElemType dtype, bool tied, uint64_t seed = 7) {
  RandomModelOptions o;
  o.config = model_preset("tiny");
  o.config.vocab_size = 96;
  o.config.tied_output = tied;
  o.dtype = dtype;
  o.seed = seed;
  return o;
}

inline void write_tiny_model(const std::string& path, ElemType dtype, bool tied,
                             uint64_t seed = 7) {
  GgufWriter w;
  add_random_qwen3(w, tiny_options(dtype, tied, seed));
  w.write(path);
}

}  // namespace hh::testing
