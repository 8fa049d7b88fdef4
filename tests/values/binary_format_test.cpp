#include "values/binary_format.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "values/text_format.h"
#include "values/value_reader.h"

namespace hh {
namespace {

// An array of `type` and `shape` filled with arbitrary bytes (bools 0/1).
Array random_array(ElemType type, Shape shape, uint32_t seed) {
  Array a = Array::allocate(type, std::move(shape));
  std::mt19937 rng(seed);
  for (size_t i = 0; i < a.bytes(); ++i) {
    reinterpret_cast<uint8_t*>(a.raw())[i] =
        type == ElemType::Bool ? rng() % 2 : static_cast<uint8_t>(rng());
  }
  return a;
}

bool same(const Array& a, const Array& b) {
  return a.type() == b.type() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

std::string message_of(std::string_view bytes) {
  try {
    from_binary(bytes, "in.bin");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}

std::string header(std::string_view type, std::initializer_list<int64_t> dims) {
  std::string h = "b";
  h += char(2);
  h += char(dims.size());
  h += type;
  for (int64_t d : dims) h.append(reinterpret_cast<const char*>(&d), 8);
  return h;
}

TEST(BinaryFormat, TypeFields) {
  EXPECT_EQ(binary_type_field(ElemType::I8), "  i8");
  EXPECT_EQ(binary_type_field(ElemType::F32), " f32");
  EXPECT_EQ(binary_type_field(ElemType::Bool), "bool");
  EXPECT_EQ(binary_type_field(ElemType::BF16), "bf16");
  for (ElemType t : kAllElemTypes) EXPECT_EQ(parse_binary_type_field(binary_type_field(t)), t);
  EXPECT_FALSE(parse_binary_type_field("i32 ").has_value());
  EXPECT_FALSE(parse_binary_type_field(" i3").has_value());
}

TEST(BinaryFormat, KnownBytes) {
  Array a = parse_text_value("[1i32, -2i32]");
  std::string expected = header(" i32", {2});
  const int32_t data[] = {1, -2};
  expected.append(reinterpret_cast<const char*>(data), sizeof data);
  EXPECT_EQ(to_binary(a), expected);
  EXPECT_EQ(to_binary(parse_text_value("true")), std::string("b\x02\x00"
                                                             "bool\x01",
                                                             8));
}

TEST(BinaryFormat, RoundTripsEveryTypeAndRank) {
  const std::vector<Shape> shapes = {{}, {5}, {0}, {3, 4}, {2, 0}, {0, 7}, {2, 3, 4}, {1, 1, 1, 2}};
  uint32_t seed = 1;
  for (ElemType t : kAllElemTypes) {
    for (const Shape& s : shapes) {
      const Array a = random_array(t, s, seed++);
      const std::string bytes = to_binary(a);
      EXPECT_EQ(bytes.size(), binary_header_bytes(a.rank()) + a.bytes());
      const Array b = from_binary(bytes);
      EXPECT_TRUE(same(a, b)) << a.type_name() << shape_string(s);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(b.raw()) % 64, 0u);
    }
  }
}

TEST(BinaryFormat, ReaderWalksAndSkipsValues) {
  std::string file;
  const Array a = random_array(ElemType::F16, {3, 5}, 7);
  const Array b = random_array(ElemType::U64, {}, 8);
  const Array c = random_array(ElemType::Bool, {0, 4}, 9);
  for (const Array* v : {&a, &b, &c}) file += to_binary(*v);
  ValueReader skipper = ValueReader::from_memory(file, "mem");
  ValueInfo info = skipper.skip();
  EXPECT_EQ(info.index, 0u);
  EXPECT_EQ(info.offset, 0u);
  EXPECT_TRUE(info.binary);
  EXPECT_EQ(info.type, ElemType::F16);
  EXPECT_EQ(info.shape, (Shape{3, 5}));
  EXPECT_EQ(info.bytes, 30u);
  info = skipper.skip();
  EXPECT_EQ(info.offset, 7u + 16 + 30);
  EXPECT_EQ(info.type, ElemType::U64);
  info = skipper.skip();
  EXPECT_EQ(info.shape, (Shape{0, 4}));
  EXPECT_TRUE(skipper.at_end());

  ValueReader reader = ValueReader::from_memory(file, "mem");
  EXPECT_TRUE(same(reader.read(), a));
  EXPECT_TRUE(same(reader.read(), b));
  EXPECT_TRUE(same(reader.read(), c));
  EXPECT_TRUE(reader.at_end());
  try {
    reader.read();
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_STREQ(e.what(), "mem: value 3 at byte 91: expected a value, found the end of the file");
  }
}

TEST(BinaryFormat, TextAndBinaryValuesMix) {
  const std::string file = "-- a comment\n1i32 " + to_binary(parse_text_value("[2u8, 3u8]")) +
                           "\n[4.5f32] bf16.nan " + to_binary(parse_text_value("true"));
  ValueReader reader = ValueReader::from_memory(file, "mixed");
  EXPECT_EQ(format_value(reader.read()), "1i32");
  EXPECT_EQ(format_value(reader.read()), "[2u8, 3u8]");
  EXPECT_EQ(format_value(reader.read()), "[4.5f32]");
  EXPECT_EQ(format_value(reader.read()), "bf16.nan");
  EXPECT_EQ(format_value(reader.read()), "true");
  EXPECT_TRUE(reader.at_end());
}

TEST(BinaryFormat, MalformedInputIsRejectedWithItsPlace) {
  const std::string good = to_binary(parse_text_value("[1i32, 2i32]"));
  EXPECT_EQ(message_of("x"),
            "in.bin: value 0 at byte 0: truncated header: 1 bytes remain, a header "
            "needs at least 7");
  EXPECT_EQ(message_of(std::string_view("B\x02\x00 i32\x01\x00\x00\x00", 11)),
            "in.bin: value 0 at byte 0: expected 'b' (binary value), found byte 0x42");
  std::string v1 = good;
  v1[1] = 1;
  EXPECT_EQ(message_of(v1),
            "in.bin: value 0 at byte 1: unsupported binary format version 1 (expected 2)");
  std::string neg_rank = good;
  neg_rank[2] = char(-1);
  EXPECT_EQ(message_of(neg_rank), "in.bin: value 0 at byte 2: negative rank -1");
  std::string bad_type = good;
  bad_type[4] = 'x';
  EXPECT_EQ(message_of(bad_type), "in.bin: value 0 at byte 3: unknown element type \" x32\"");
  EXPECT_EQ(message_of(good.substr(0, 10)),
            "in.bin: value 0 at byte 0: truncated header: rank 1 needs 15 bytes, 10 remain");
  EXPECT_EQ(message_of(good.substr(0, good.size() - 1)),
            "in.bin: value 0 at byte 0: array [2]i32 needs 8 bytes of data but only 7 remain "
            "(truncated or corrupt)");
  EXPECT_EQ(message_of(header(" f32", {-3})),
            "in.bin: value 0 at byte 7: negative dimension -3 in shape [-3]");
  // Absurd sizes are rejected from the header, before anything is allocated.
  EXPECT_EQ(message_of(header(" f64", {int64_t{1} << 40, int64_t{1} << 40})),
            "in.bin: value 0 at byte 0: shape [1099511627776][1099511627776] has too many "
            "elements");
  EXPECT_EQ(message_of(header(" f64", {int64_t{1} << 40})),
            "in.bin: value 0 at byte 0: array [1099511627776]f64 needs 8796093022208 bytes of "
            "data but only 0 remain (truncated or corrupt)");
  EXPECT_EQ(message_of(good + "z"),
            "in.bin: 1 bytes after the binary value (which ends at byte 23)");

  // In a sequence, the index and offset are those of the bad value.
  const std::string file = good + good.substr(0, 12);
  ValueReader reader = ValueReader::from_memory(file, "seq.bin");
  reader.read();
  try {
    reader.read();
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_STREQ(e.what(),
                 "seq.bin: value 1 at byte 23: truncated header: rank 1 needs 15 bytes, "
                 "12 remain");
  }
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "hh_values_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

using BinaryFile = TempDir;

TEST_F(BinaryFile, WritesAtomicallyAndReadsInParallelChunks) {
  const std::string path = (dir_ / "big.bin").string();
  // Large enough (72 MB) that the reader splits it across threads.
  const Array big = random_array(ElemType::F32, {18, 1 << 20}, 3);
  const Array small = random_array(ElemType::I8, {3}, 4);
  {
    AtomicFileSink sink(path);
    write_binary(sink, small);
    // Unpadded, its data starts at byte 18 + 23 = 41: not f32-aligned, so it is read (in
    // parallel chunks) rather than mapped.
    write_binary(sink, big, /*align=*/false);
    EXPECT_FALSE(std::filesystem::exists(path));
    sink.commit();
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  ValueReader reader = ValueReader::open(path);
  EXPECT_TRUE(same(reader.read(), small));
  const Array read_big = reader.read();
  EXPECT_TRUE(same(read_big, big));
  EXPECT_EQ(read_big.space(), MemorySpace::Host);
  EXPECT_TRUE(reader.at_end());

  // An abandoned write leaves neither the file nor its temporary behind.
  const std::string other = (dir_ / "other.bin").string();
  {
    AtomicFileSink sink(other);
    write_binary(sink, small);
  }
  EXPECT_FALSE(std::filesystem::exists(other));
  EXPECT_FALSE(std::filesystem::exists(other + ".tmp"));
}

TEST_F(BinaryFile, TruncatedFileNamesFileValueAndOffset) {
  const std::string path = (dir_ / "cut.bin").string();
  const std::string bytes =
      to_binary(parse_text_value("7i64")) + to_binary(random_array(ElemType::F32, {100}, 5));
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  ValueReader reader = ValueReader::open(path);
  reader.read();
  try {
    reader.read();
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()),
              path +
                  ": value 1 at byte 15: array [100]f32 needs 400 bytes of data but only 390 "
                  "remain (truncated or corrupt)");
  }
  EXPECT_THROW(ValueReader::open((dir_ / "none").string()), SystemError);
  EXPECT_THROW(ValueReader::open(dir_.string()), UsageError);  // a directory
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int64_t mapped_in_use() {
  const auto m = memory_in_use();
  const auto it = m.find("mapped");
  return it == m.end() ? 0 : it->second;
}

// Values of several ranks and element sizes, one big enough to span many pages.
std::vector<Array> mixed_values() {
  return {random_array(ElemType::I8, {3}, 1),
          random_array(ElemType::F32, {300, 257}, 2),
          parse_text_value("true"),
          random_array(ElemType::U16, {2, 3, 5}, 3),
          random_array(ElemType::F64, {}, 4),
          Array::allocate(ElemType::F32, {0, 4}),
          random_array(ElemType::BF16, {4097}, 5)};
}

TEST_F(BinaryFile, PaddedValuesStartTheirDataOn64ByteBoundaries) {
  const std::string path = (dir_ / "padded.bin").string();
  const auto values = mixed_values();
  {
    AtomicFileSink sink(path);
    for (const auto& v : values) write_binary(sink, v);
    sink.commit();
  }
  const std::string bytes = file_bytes(path);
  ValueReader skipper = ValueReader::open(path);
  uint64_t end = 0;
  for (const auto& v : values) {
    const ValueInfo info = skipper.skip();
    const uint64_t data = info.offset + binary_header_bytes(v.rank());
    EXPECT_EQ(data % kBinaryDataAlignment, 0u) << info.index;
    // Only spaces between one value and the next.
    EXPECT_EQ(bytes.substr(end, info.offset - end), std::string(info.offset - end, ' '));
    EXPECT_LT(info.offset - end, kBinaryDataAlignment);
    end = data + info.bytes;
  }
  EXPECT_EQ(end, bytes.size());

  // Read back: equal values, the non-empty ones viewing the file's mapping.
  ValueReader reader = ValueReader::open(path);
  for (const auto& v : values) {
    const Array a = reader.read();
    EXPECT_TRUE(same(a, v)) << a.type_name();
    EXPECT_EQ(a.space(), a.bytes() > 0 ? MemorySpace::Mapped : MemorySpace::Host);
  }
  EXPECT_TRUE(reader.at_end());

  // In a string the padding is relative to its start; to_binary stays unpadded.
  std::string out = "x";
  StringSink sink(out);
  write_binary(sink, values[1]);
  EXPECT_EQ(out.size(), 64 + values[1].bytes());
  EXPECT_EQ(out.substr(0, 64 - 23), "x" + std::string(64 - 23 - 1, ' '));
  EXPECT_EQ(to_binary(values[1]).size(), 23 + values[1].bytes());
}

TEST_F(BinaryFile, UnpaddedFilesStillReadAndMisalignedDataIsCopied) {
  const std::string path = (dir_ / "plain.bin").string();
  const Array small = random_array(ElemType::I8, {3}, 6);
  const Array f = random_array(ElemType::F32, {1000}, 7);  // data at byte 12 + 18 + 15 = 45
  const Array u = random_array(ElemType::U8, {5000}, 8);
  std::ofstream(path, std::ios::binary)
      << "-- futhark!\n" + to_binary(small) + to_binary(f) + to_binary(u) + "\n";
  ValueReader reader = ValueReader::open(path);
  const Array a = reader.read(), b = reader.read(), c = reader.read();
  EXPECT_TRUE(reader.at_end());
  EXPECT_TRUE(same(a, small));
  EXPECT_TRUE(same(b, f));
  EXPECT_TRUE(same(c, u));
  EXPECT_EQ(b.space(), MemorySpace::Host);    // misaligned for f32: read into host memory
  EXPECT_EQ(c.space(), MemorySpace::Mapped);  // bytes are always aligned
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.raw()) % 4, 0u);
}

TEST_F(BinaryFile, RestoredArraysAreWritableWithoutChangingTheFile) {
  const std::string path = (dir_ / "cow.bin").string();
  const Array big = random_array(ElemType::F32, {64, 1024}, 9);
  const Array other = random_array(ElemType::I32, {100}, 10);
  {
    AtomicFileSink sink(path);
    write_binary(sink, big);
    write_binary(sink, other);
    sink.commit();
  }
  const std::string before = file_bytes(path);
  const int64_t mapped_before = mapped_in_use();
  {
    ValueReader reader = ValueReader::open(path);
    Array a = reader.read();
    Array b = reader.read();
    // One mapping of the whole file, counted once; each value has a storage of its own.
    EXPECT_EQ(mapped_in_use() - mapped_before, static_cast<int64_t>(before.size()));
    EXPECT_NE(a.storage(), b.storage());
    EXPECT_EQ(a.storage().use_count(), 1);
    ASSERT_TRUE(a.storage()->writable());
    std::memset(a.raw(), 0x5a, a.bytes());
    EXPECT_EQ(a.data<uint8_t>()[a.bytes() - 1], 0x5a);
    EXPECT_TRUE(same(b, other));  // the neighbour is untouched
    EXPECT_EQ(file_bytes(path), before);

    // Replacing or deleting the file (store renames a new file into place) leaves the values.
    {
      AtomicFileSink sink(path);
      write_binary(sink, other);
      sink.commit();
    }
    std::filesystem::remove(path);
    EXPECT_TRUE(same(b, other));
    EXPECT_EQ(a.data<uint8_t>()[0], 0x5a);
    // Freeing a written value keeps the other valid (its pages are dropped, not the mapping).
    a = Array();
    EXPECT_TRUE(same(b, other));
  }
  EXPECT_EQ(mapped_in_use(), mapped_before);
}

TEST_F(BinaryFile, TruncatedPaddedFileNamesValueAndOffset) {
  const std::string path = (dir_ / "cut.bin").string();
  {
    AtomicFileSink sink(path);
    write_binary(sink, parse_text_value("7i64"));
    write_binary(sink, random_array(ElemType::F32, {100}, 11));
    sink.commit();
  }
  // i64 scalar: 57 spaces + 7 header + 8 data = 72; then 41 spaces, the f32 header at 113, its
  // data at 128.
  const std::string bytes = file_bytes(path);
  ASSERT_EQ(bytes.size(), 128u + 400u);
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  ValueReader reader = ValueReader::open(path);
  EXPECT_EQ(reader.read().scalar_value<int64_t>(), 7);
  try {
    reader.read();
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()),
              path +
                  ": value 1 at byte 113: array [100]f32 needs 400 bytes of data but only 390 "
                  "remain (truncated or corrupt)");
  }
  // Cut inside the padding: the value is missing altogether.
  const std::string short_path = (dir_ / "short.bin").string();
  std::ofstream(short_path, std::ios::binary) << bytes.substr(0, 100);
  ValueReader short_reader = ValueReader::open(short_path);
  short_reader.read();
  try {
    short_reader.read();
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()),
              short_path + ": value 1 at byte 100: expected a value, found the end of the file");
  }
}

}  // namespace
}  // namespace hh
