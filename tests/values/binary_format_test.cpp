#include "values/binary_format.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

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
    write_binary(sink, big);
    EXPECT_FALSE(std::filesystem::exists(path));
    sink.commit();
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  ValueReader reader = ValueReader::open(path);
  EXPECT_TRUE(same(reader.read(), small));
  EXPECT_TRUE(same(reader.read(), big));
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

}  // namespace
}  // namespace hh
