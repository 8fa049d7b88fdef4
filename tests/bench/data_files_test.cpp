#include "bench/data_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bench/inputs.h"
#include "bench/validate.h"
#include "values/binary_format.h"
#include "values/text_format.h"

namespace hh::bench {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("hh_data_files_test_" + std::to_string(getpid()) + name))
      .string();
}

TEST(DataFiles, GenerateIsDeterministicAndInRange) {
  RandomRanges ranges;
  ranges.set(ElemType::I64, "-5:5");
  const auto a =
      generate_values({"[1000]f32", "[10][10]i64", "7i64", "bool", "[3]bf16"}, 42, ranges);
  const auto b =
      generate_values({"[1000]f32", "[10][10]i64", "7i64", "bool", "[3]bf16"}, 42, ranges);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0].shape(), (Shape{1000}));
  EXPECT_EQ(a[1].shape(), (Shape{10, 10}));
  EXPECT_EQ(a[2].scalar_value<int64_t>(), 7);
  EXPECT_EQ(a[3].type(), ElemType::Bool);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(to_binary(a[i]), to_binary(b[i])) << i;
  const auto c = generate_values({"[1000]f32"}, 43, ranges);
  EXPECT_NE(to_binary(a[0]), to_binary(c[0]));
  for (int64_t i = 0; i < 1000; ++i) {
    const float f = a[0].data<float>()[i];
    EXPECT_TRUE(f >= 0 && f <= 1) << f;
  }
  bool saw_low = false, saw_high = false;
  for (int64_t i = 0; i < 100; ++i) {
    const int64_t v = a[1].data<int64_t>()[i];
    EXPECT_TRUE(v >= -5 && v <= 5) << v;
    saw_low |= v == -5;
    saw_high |= v == 5;
  }
  EXPECT_TRUE(saw_low && saw_high);  // both bounds are included
}

TEST(DataFiles, BadGenerateArguments) {
  EXPECT_THROW(generate_values({"[]f32"}, 1, {}), UsageError);
  EXPECT_THROW(generate_values({"[10]f128"}, 1, {}), UsageError);
  EXPECT_THROW(generate_values({"[10"}, 1, {}), Error);
  EXPECT_THROW(generate_values({"[4294967296][4294967296]f32"}, 1, {}), UsageError);
  EXPECT_THROW(generate_values({"12q"}, 1, {}), FormatError);
  RandomRanges r;
  EXPECT_THROW(r.set(ElemType::I8, "0:300"), UsageError);
  EXPECT_THROW(r.set(ElemType::I32, "5:1"), UsageError);
  EXPECT_THROW(r.set(ElemType::F32, "a:b"), UsageError);
  EXPECT_THROW(r.set(ElemType::F32, "1"), UsageError);
  r.set(ElemType::F64, "-1.5:-0.5");
  EXPECT_DOUBLE_EQ(r.get(ElemType::F64).low, -1.5);
}

TEST(DataFiles, ConvertRoundTrips) {
  const auto values = generate_values({"[50]f32", "[3][4]i16", "bool", "[7]f16", "[2]u64"}, 9, {});
  const std::string bin = temp_path("a.bin"), text = temp_path("a.txt"), back = temp_path("b.bin");
  write_values_file(bin, values);
  {
    AtomicFileSink sink(text);
    convert_data_file(bin, sink, false);
    sink.commit();
  }
  {
    AtomicFileSink sink(back);
    convert_data_file(text, sink, true);
    sink.commit();
  }
  const auto again = read_values_file(back);
  ASSERT_EQ(again.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(to_binary(again[i]), to_binary(values[i])) << i;
    EXPECT_FALSE(compare_values(values[i], again[i], "v"));
  }
  for (const auto& p : {bin, text, back}) fs::remove(p);
}

TEST(DataFiles, InspectListsValuesAndRecordsFromHeaders) {
  const std::string path = temp_path("cap.in");
  auto name = [](const std::string& s) {
    Array a = Array::allocate(ElemType::U8, {static_cast<int64_t>(s.size())});
    std::memcpy(a.raw(), s.data(), s.size());
    return a;
  };
  // A gen capture's shape: xsat, xs, (Params elided here), a Cache record, eos, max tokens.
  std::vector<Array> values = {Array::scalar<int64_t>(ElemType::I64, 0),
                               Array::allocate(ElemType::I64, {3}),
                               name("Cache"),
                               Array::allocate(ElemType::F32, {2, 2, 8, 4}),
                               Array::allocate(ElemType::F32, {2, 2, 8, 4}),
                               Array::scalar<int64_t>(ElemType::I64, -1)};
  write_values_file(path, values);
  const std::string listing = inspect_data_file(path);
  EXPECT_NE(listing.find("4 values"), std::string::npos) << listing;
  EXPECT_NE(listing.find("Cache"), std::string::npos) << listing;
  EXPECT_NE(listing.find("record of 2 fields"), std::string::npos) << listing;
  EXPECT_NE(listing.find(".kcache: [][][][]f32"), std::string::npos) << listing;
  EXPECT_NE(listing.find("[2][2][8][4]"), std::string::npos) << listing;
  EXPECT_NE(listing.find("[3]"), std::string::npos) << listing;

  // A record cut short is reported, not read past.
  values.resize(4);
  write_values_file(path, values);
  try {
    inspect_data_file(path);
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated: it has 2 fields"), std::string::npos)
        << e.what();
  }
  // A truncated binary value.
  std::string bytes = to_binary(Array::allocate(ElemType::F32, {100}));
  bytes.resize(bytes.size() - 10);
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_THROW(inspect_data_file(path), FormatError);
  EXPECT_THROW(inspect_data_file("/nonexistent/file.in"), Error);
  fs::remove(path);
}

TEST(DataFiles, InspectReadsOnlyHeaders) {
  // A sparse 4 GB file: listing it must not touch the data (which would take seconds).
  const std::string path = temp_path("big.in");
  const int64_t n = int64_t{1} << 30;  // 4 GiB of f32
  {
    std::string header = to_binary(Array::allocate(ElemType::F32, {0}));
    std::memcpy(header.data() + 7, &n, 8);
    std::ofstream f(path, std::ios::binary);
    f << header;
  }
  fs::resize_file(path, 7 + 8 + static_cast<uintmax_t>(n) * 4);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string listing = inspect_data_file(path);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_NE(listing.find("4294967296"), std::string::npos) << listing;
  fs::remove(path);
}

TEST(Validate, ComparesWithTolerance) {
  const Array a = parse_text_value("[[1f32, 2f32], [3f32, 4f32]]");
  EXPECT_FALSE(compare_values(a, parse_text_value("[[1f32, 2.00001f32], [3f32, 4f32]]"), "o"));
  const auto m = compare_values(a, parse_text_value("[[1f32, 2f32], [3.5f32, 4f32]]"), "output 0");
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("output 0: first mismatch at index [1][0]: expected 3f32, got 3.5f32"),
            std::string::npos)
      << *m;
  EXPECT_NE(m->find("1 of 4 elements differ"), std::string::npos) << *m;
  EXPECT_NE(compare_values(a, parse_text_value("[1f32, 2f32]"), "o")
                ->find("expected a value of type [][]f32"),
            std::string::npos);
  EXPECT_NE(
      compare_values(a, parse_text_value("[[1f32, 2f32]]"), "o")->find("expected shape [2][2]f32"),
      std::string::npos);
  EXPECT_TRUE(compare_values(parse_text_value("5i64"), parse_text_value("6i64"), "o"));
  EXPECT_FALSE(compare_values(parse_text_value("f32.nan"), parse_text_value("f32.nan"), "o"));
  EXPECT_TRUE(compare_values(parse_text_value("f32.inf"), parse_text_value("-f32.inf"), "o"));
  EXPECT_FALSE(
      compare_values(parse_text_value("[1bf16]"), parse_text_value("[1.0078125bf16]"), "o"));
}

TEST(Inputs, PlainTypes) {
  EXPECT_EQ(parse_plain_type("[][]f32")->rank, 2);
  EXPECT_EQ(parse_plain_type("i64")->elem, ElemType::I64);
  EXPECT_FALSE(parse_plain_type("Cache"));
  EXPECT_FALSE(parse_plain_type("([]i64, Cache)"));
  EXPECT_FALSE(parse_plain_type("[]Cache"));
}

}  // namespace
}  // namespace hh::bench
