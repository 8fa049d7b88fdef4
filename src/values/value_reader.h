#pragma once
// A data file is a sequence of values, each in the binary or the text format (as in Futhark, the
// two may be mixed): whitespace and `--` comments are skipped, and a value starting with 'b' is
// binary. ValueReader walks such a file value by value; skip() steps over a binary value by its
// header alone, so listing a multi-GB capture reads a few bytes per value.
#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "values/array.h"
#include "values/byte_io.h"

namespace hh {

struct ValueInfo {
  size_t index = 0;     // position in the file, from 0
  uint64_t offset = 0;  // byte offset of the value's first character
  bool binary = false;
  ElemType type = ElemType::U8;
  Shape shape;
  uint64_t bytes = 0;  // element bytes (count x element size)
};

class ValueReader {
 public:
  explicit ValueReader(std::shared_ptr<const ByteSource> source);
  static ValueReader open(const std::string& path);
  // Over bytes in memory, which must outlive the reader.
  static ValueReader from_memory(std::string_view bytes, std::string name);

  const std::string& name() const { return source_->name(); }
  // Skips whitespace and comments; true when no value remains.
  bool at_end();
  // The next value (FormatError naming the file, value index and offset when there is none or
  // it is malformed).
  Array read();
  // Describes the next value and moves past it without reading binary data.
  ValueInfo skip();
  uint64_t offset() const { return pos_; }
  size_t index() const { return index_; }

 private:
  int peek(uint64_t pos);  // the byte at `pos`, or -1 past the end
  bool next_is_binary();
  void expect_value();

  std::shared_ptr<const ByteSource> source_;
  uint64_t pos_ = 0;
  size_t index_ = 0;
  // A small window over the source for scanning whitespace between values without a syscall
  // per byte.
  std::array<char, 4096> window_{};
  uint64_t window_start_ = 0;
  uint64_t window_len_ = 0;
};

}  // namespace hh
