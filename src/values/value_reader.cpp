#include "values/value_reader.h"

#include <algorithm>

#include "values/binary_format.h"
#include "values/text_format.h"

namespace hh {

ValueReader::ValueReader(std::shared_ptr<const ByteSource> source) : source_(std::move(source)) {}

ValueReader ValueReader::open(const std::string& path) {
  return ValueReader(std::shared_ptr<const ByteSource>(open_file_source(path)));
}

ValueReader ValueReader::from_memory(std::string_view bytes, std::string name) {
  return ValueReader(std::shared_ptr<const ByteSource>(memory_source(bytes, std::move(name))));
}

int ValueReader::peek(uint64_t pos) {
  if (pos >= source_->size()) return -1;
  if (pos < window_start_ || pos >= window_start_ + window_len_) {
    window_start_ = pos;
    window_len_ = std::min<uint64_t>(window_.size(), source_->size() - pos);
    source_->read(pos, window_.data(), window_len_);
  }
  return static_cast<unsigned char>(window_[pos - window_start_]);
}

bool ValueReader::at_end() {
  for (;;) {
    const int c = peek(pos_);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++pos_;
    } else if (c == '-' && peek(pos_ + 1) == '-') {
      while (peek(pos_) != -1 && peek(pos_) != '\n') ++pos_;
    } else {
      return c == -1;
    }
  }
}

// 'b' starts a binary value unless it is the text literal bf16.nan / bf16.inf.
bool ValueReader::next_is_binary() { return peek(pos_) == 'b' && peek(pos_ + 1) != 'f'; }

void ValueReader::expect_value() {
  if (at_end()) {
    fail_format("{}: value {} at byte {}: expected a value, found the end of the file", name(),
                index_, pos_);
  }
}

Array ValueReader::read() {
  expect_value();
  if (next_is_binary()) {
    const BinaryHeader h = read_binary_header(*source_, pos_, index_);
    Array a = read_binary_data(*source_, h, index_);
    pos_ = h.end();
    ++index_;
    return a;
  }
  TextParser parser(source_->view(), name(), pos_);
  Array a = parser.parse();
  pos_ = parser.position();
  ++index_;
  return a;
}

ValueInfo ValueReader::skip() {
  expect_value();
  ValueInfo info;
  info.index = index_;
  info.offset = pos_;
  if (next_is_binary()) {
    const BinaryHeader h = read_binary_header(*source_, pos_, index_);
    info.binary = true;
    info.type = h.type;
    info.shape = h.shape;
    info.bytes = h.data_bytes;
    pos_ = h.end();
  } else {
    // Text has no header to skip by: the value is parsed (text files are small).
    TextParser parser(source_->view(), name(), pos_);
    const Array a = parser.parse();
    info.type = a.type();
    info.shape = a.shape();
    info.bytes = a.bytes();
    pos_ = parser.position();
  }
  ++index_;
  return info;
}

}  // namespace hh
