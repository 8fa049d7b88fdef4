#pragma once
// Futhark's binary data format, version 2, little endian. One value is
//   'b'  u8 version (2)  i8 rank  char[4] type  rank x i64 dims  raw elements (row-major)
// where the type field is the element name right-aligned in four characters ("  i8", " f32",
// "bool"); "bf16" is hedgehog's extension. A file is any sequence of such values.
//
// Reading does no per-element work: the header is checked against the bytes that remain (an
// absurd or truncated size is rejected before anything is allocated), then the data lands with
// one read in a fresh 64-byte-aligned host array. Every error names the source, the index of the
// value in the file and the byte offset.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "values/array.h"
#include "values/byte_io.h"

namespace hh {

inline constexpr uint8_t kBinaryFormatVersion = 2;
// Bytes of a header before the dims: 'b', version, rank, 4-character type.
inline constexpr uint64_t kBinaryPreambleBytes = 7;

// "  i8", " f32", "bool", "bf16".
std::string binary_type_field(ElemType type);
std::optional<ElemType> parse_binary_type_field(std::string_view field);

struct BinaryHeader {
  ElemType type = ElemType::U8;
  Shape shape;
  uint64_t offset = 0;       // of the 'b'
  uint64_t data_offset = 0;  // first element byte
  uint64_t data_bytes = 0;
  uint64_t end() const { return data_offset + data_bytes; }
};

// Header bytes of an array of this type and rank.
uint64_t binary_header_bytes(int rank);

// Parses the header of the value at `offset` (the `index`-th value of the source, for messages).
BinaryHeader read_binary_header(const ByteSource& source, uint64_t offset, size_t index);
// Reads the data the header describes into a fresh host array.
Array read_binary_data(const ByteSource& source, const BinaryHeader& header, size_t index);

// The whole value: header then data.
void write_binary(ByteSink& sink, const Array& value);
std::string to_binary(const Array& value);
// Exactly one binary value, nothing after it; `name` is used in messages.
Array from_binary(std::string_view bytes, std::string_view name = "<binary>");

}  // namespace hh
