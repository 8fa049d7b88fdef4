#pragma once
// `hedgehog dataset`: generating, converting and inspecting data files (sequences of values in
// the binary or text format).
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bench/random_values.h"
#include "values/byte_io.h"

namespace hh::bench {

// Writes to a stdio stream (stdout); SystemError when the write fails (a full disk, a closed
// pipe).
class StdioSink final : public ByteSink {
 public:
  explicit StdioSink(std::FILE* f) : f_(f) {}
  void write(const void* data, size_t n) override;

 private:
  std::FILE* f_;
};

struct SizedType {
  ElemType type = ElemType::I32;
  Shape shape;
};
// "[1000]f32", "[10][10]i64", "i64"; UsageError naming the text otherwise.
SizedType parse_sized_type(std::string_view text);

// One value per argument: a sized type is filled with random values (one generator seeded
// once, used in argument order), anything else is parsed as a value literal ("10i64").
std::vector<Array> generate_values(const std::vector<std::string>& args, uint64_t seed,
                                   const RandomRanges& ranges);

// Text values are written one per line.
void write_values(ByteSink& sink, const std::vector<Array>& values, bool binary);

// Reads every value of `in` and writes it to `sink` in the chosen format, one value at a time.
void convert_data_file(const std::string& in, ByteSink& sink, bool to_binary);

// A listing of every value in a data file: index, byte offset, type, shape and bytes. Stored
// records (a []u8 type name followed by the record's fields, as the server's `store` writes
// them) are shown as one value with their fields. Binary values are described from their
// headers alone, so a multi-GB capture is listed without reading its data.
std::string inspect_data_file(const std::string& path);

}  // namespace hh::bench
