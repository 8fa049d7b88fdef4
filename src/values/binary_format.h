#pragma once
// Futhark's binary data format, version 2, little endian. One value is
//   'b'  u8 version (2)  i8 rank  char[4] type  rank x i64 dims  raw elements (row-major)
// where the type field is the element name right-aligned in four characters ("  i8", " f32",
// "bool"); "bf16" is hedgehog's extension. A file is any sequence of such values.
//
// Files written by hedgehog put ASCII spaces before each value so that its data starts at a
// multiple of kBinaryDataAlignment; readers of the format skip whitespace between values, so such
// files stay plain Futhark data files, and unpadded files (Futhark's, older hedgehog's) still read.
//
// Reading does no per-element work: the header is checked against the bytes that remain (an
// absurd or truncated size is rejected before anything is allocated). From a file, data aligned
// to its element size becomes a view of a private, copy-on-write mapping of the file (no copy,
// writable, the file never changes); otherwise it lands with one read in a fresh 64-byte-aligned
// host array. Every error names the source, the index of the value in the file and the byte
// offset.
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
// Where the writer puts the first data byte of each value, when the sink knows its position (a
// cache line; a multiple of every element size).
inline constexpr uint64_t kBinaryDataAlignment = 64;

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
// The data the header describes: a view of source.private_mapping() when there is one and the
// data offset is a multiple of the element size, else a fresh host array filled with read().
Array read_binary_data(const ByteSource& source, const BinaryHeader& header, size_t index);

// Spaces written before a value of this rank at sink position `position` so that its data starts
// at a multiple of kBinaryDataAlignment (0 to 63).
uint64_t binary_padding_bytes(uint64_t position, int rank);
// The whole value: with `align` and a sink that knows its position, padding spaces first; then
// header and data.
void write_binary(ByteSink& sink, const Array& value, bool align = true);
// One value alone, unpadded (exact protocol/fixture bytes, suitable for from_binary).
std::string to_binary(const Array& value);
// Exactly one binary value, nothing after it; `name` is used in messages.
Array from_binary(std::string_view bytes, std::string_view name = "<binary>");

}  // namespace hh
