#include "values/binary_format.h"

#include <array>
#include <limits>

#include "util/half.h"

namespace hh {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the binary data format is little endian; a big-endian host needs byte swaps");

// Largest rank accepted: the i8 field allows 127, and no value of ours comes close.
constexpr int kMaxRank = 127;

[[noreturn]] void header_error(const ByteSource& source, size_t index, uint64_t offset,
                               const std::string& what) {
  fail_format("{}: value {} at byte {}: {}", source.name(), index, offset, what);
}

}  // namespace

std::string binary_type_field(ElemType type) {
  std::string field(elem_name(type));
  return std::string(4 - field.size(), ' ') + field;
}

std::optional<ElemType> parse_binary_type_field(std::string_view field) {
  if (field.size() != 4) return std::nullopt;
  size_t start = 0;
  while (start < field.size() && field[start] == ' ') ++start;
  const auto type = parse_elem_name(field.substr(start));
  // The padding must be exactly what the writer produces ("i32 " or " i32" both 4 chars, but
  // only right alignment is the format).
  if (!type || binary_type_field(*type) != field) return std::nullopt;
  return type;
}

uint64_t binary_header_bytes(int rank) {
  return kBinaryPreambleBytes + 8 * static_cast<uint64_t>(rank);
}

BinaryHeader read_binary_header(const ByteSource& source, uint64_t offset, size_t index) {
  const uint64_t size = source.size();
  if (offset > size || size - offset < kBinaryPreambleBytes) {
    header_error(source, index, offset,
                 fmt::format("truncated header: {} bytes remain, a header needs at least {}",
                             offset > size ? 0 : size - offset, kBinaryPreambleBytes));
  }
  std::array<char, kBinaryPreambleBytes> pre{};
  source.read(offset, pre.data(), pre.size());
  if (pre[0] != 'b') {
    header_error(source, index, offset,
                 fmt::format("expected 'b' (binary value), found byte 0x{:02x}",
                             static_cast<uint8_t>(pre[0])));
  }
  if (static_cast<uint8_t>(pre[1]) != kBinaryFormatVersion) {
    header_error(source, index, offset + 1,
                 fmt::format("unsupported binary format version {} (expected {})",
                             static_cast<uint8_t>(pre[1]), kBinaryFormatVersion));
  }
  const int rank = static_cast<int8_t>(pre[2]);
  if (rank < 0) header_error(source, index, offset + 2, fmt::format("negative rank {}", rank));
  const std::string_view type_field(pre.data() + 3, 4);
  const auto type = parse_binary_type_field(type_field);
  if (!type) {
    std::string shown;
    for (char c : type_field) {
      shown += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", uint8_t(c));
    }
    header_error(source, index, offset + 3, fmt::format("unknown element type \"{}\"", shown));
  }

  BinaryHeader h;
  h.type = *type;
  h.offset = offset;
  h.data_offset = offset + binary_header_bytes(rank);
  if (h.data_offset > size) {
    header_error(source, index, offset,
                 fmt::format("truncated header: rank {} needs {} bytes, {} remain", rank,
                             binary_header_bytes(rank), size - offset));
  }
  static_assert(kMaxRank <= 127);
  std::array<int64_t, kMaxRank> dims{};
  if (rank > 0) source.read(offset + kBinaryPreambleBytes, dims.data(), 8 * size_t(rank));
  h.shape.assign(dims.begin(), dims.begin() + rank);

  // Checked against the bytes that remain before anything is allocated.
  const uint64_t esize = elem_size(h.type);
  const uint64_t limit = (size - h.data_offset) / esize;  // elements that could still fit
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const int64_t d = h.shape[size_t(i)];
    if (d < 0) {
      header_error(source, index, offset + kBinaryPreambleBytes + 8 * uint64_t(i),
                   fmt::format("negative dimension {} in shape {}", d, shape_string(h.shape)));
    }
    // Every partial product must stay an int64 (Array's element count), even when a later
    // dimension is 0.
    if (d != 0 && count > uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(d)) {
      header_error(source, index, offset,
                   fmt::format("shape {} has too many elements", shape_string(h.shape)));
    }
    count *= uint64_t(d);
  }
  if (count > limit) {
    header_error(source, index, offset,
                 fmt::format("array {}{} needs {} bytes of data but only {} remain (truncated or "
                             "corrupt)",
                             shape_string(h.shape), elem_name(h.type),
                             count > UINT64_MAX / esize ? std::string("more than 2^64")
                                                        : fmt::format("{}", count * esize),
                             size - h.data_offset));
  }
  h.data_bytes = count * esize;
  return h;
}

Array read_binary_data(const ByteSource& source, const BinaryHeader& header, size_t index) {
  // Mapped pages start page-aligned, so the data address is aligned exactly when its offset is.
  if (header.data_bytes > 0 && header.data_offset % elem_size(header.type) == 0) {
    if (auto mapping = source.private_mapping()) {
      return Array(header.type, header.shape,
                   private_mapping_view(std::move(mapping), header.data_offset, header.data_bytes));
    }
  }
  Array a = Array::allocate(header.type, header.shape, /*zero=*/false);
  if (a.bytes() != header.data_bytes) fail("binary header of value {} is inconsistent", index);
  if (header.data_bytes > 0) {
    try {
      source.read(header.data_offset, a.raw(), header.data_bytes);
    } catch (const FormatError& e) {
      header_error(source, index, header.offset, e.what());
    }
  }
  return a;
}

uint64_t binary_padding_bytes(uint64_t position, int rank) {
  const uint64_t unpadded_data = position + binary_header_bytes(rank);
  return (kBinaryDataAlignment - unpadded_data % kBinaryDataAlignment) % kBinaryDataAlignment;
}

void write_binary(ByteSink& sink, const Array& value, bool align) {
  if (value.rank() > kMaxRank) fail_usage("cannot store an array of rank {}", value.rank());
  const std::optional<uint64_t> position = align ? sink.position() : std::nullopt;
  std::string header(position ? binary_padding_bytes(*position, value.rank()) : 0, ' ');
  header.reserve(header.size() + binary_header_bytes(value.rank()));
  header += 'b';
  header += static_cast<char>(kBinaryFormatVersion);
  header += static_cast<char>(static_cast<int8_t>(value.rank()));
  header += binary_type_field(value.type());
  for (int64_t d : value.shape()) header.append(reinterpret_cast<const char*>(&d), 8);
  sink.write(header.data(), header.size());
  if (value.bytes() > 0) {
    if (value.space() == MemorySpace::Device) {
      fail_usage("cannot write a {} array held in device memory", value.type_name());
    }
    sink.write(value.raw(), value.bytes());
  }
}

std::string to_binary(const Array& value) {
  std::string out;
  StringSink sink(out);
  write_binary(sink, value, /*align=*/false);
  return out;
}

Array from_binary(std::string_view bytes, std::string_view name) {
  auto source = memory_source(bytes, std::string(name));
  const BinaryHeader h = read_binary_header(*source, 0, 0);
  Array a = read_binary_data(*source, h, 0);
  if (h.end() != bytes.size()) {
    fail_format("{}: {} bytes after the binary value (which ends at byte {})", name,
                bytes.size() - h.end(), h.end());
  }
  return a;
}

}  // namespace hh
