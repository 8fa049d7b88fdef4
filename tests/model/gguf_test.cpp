#include "model/gguf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>

#include "model/convert.h"
#include "model/model_test_util.h"
#include "util/error.h"
#include "util/half.h"

namespace hh {
namespace {

using testing::Bytes;
using ::testing::HasSubstr;
using testing::storage_of;
using testing::TempDir;

GgufFile parse(const std::string& bytes) { return GgufFile::parse(storage_of(bytes), "t.gguf"); }

// Expects parse() to throw FormatError whose message contains every one of `parts`.
void expect_format_error(const std::string& bytes, std::vector<std::string> parts) {
  try {
    parse(bytes);
    ADD_FAILURE() << "no error; expected: " << parts[0];
  } catch (const FormatError& e) {
    for (const auto& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
  }
}

Bytes header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  Bytes b;
  b.raw("GGUF").put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  return b;
}

GgufValue value_of(GgufType type, uint64_t u, int64_t i, double f) {
  GgufValue v;
  v.type = type;
  v.uint_value = u;
  v.int_value = i;
  v.float_value = f;
  return v;
}

TEST(Gguf, RoundTripsEveryMetadataTypeAndTensorType) {
  TempDir dir;
  GgufWriter w;
  w.add("u8", value_of(GgufType::U8, 200, 0, 0));
  w.add("i8", value_of(GgufType::I8, 0, -100, 0));
  w.add("u16", value_of(GgufType::U16, 60000, 0, 0));
  w.add("i16", value_of(GgufType::I16, 0, -30000, 0));
  w.add("u32", gguf_u32(4000000000u));
  w.add("i32", gguf_i32(-2000000000));
  w.add("f32", gguf_f32(1.5f));
  w.add("bool", gguf_bool(true));
  w.add("string", gguf_string("h\xc3\xa9llo\n"));
  w.add("u64", value_of(GgufType::U64, 1ull << 63, 0, 0));
  w.add("i64", value_of(GgufType::I64, 0, -(int64_t{1} << 62), 0));
  w.add("f64", value_of(GgufType::F64, 0, 0, 1e-300));
  w.add("strings", gguf_string_array({"a", "", "c c"}));
  w.add("i32s", gguf_i32_array({1, -2, 3}));
  w.add("f32s", gguf_array(GgufType::F32, {gguf_f32(0.25f), gguf_f32(-2.0f)}));
  w.add("empty", gguf_array(GgufType::U8, {}));
  w.add("nested", gguf_array(GgufType::Array, {gguf_i32_array({7}), gguf_i32_array({8, 9})}));

  const std::vector<float> f32 = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 7.0f};
  std::vector<uint16_t> f16, bf16;
  for (float x : f32) f16.push_back(f32_to_f16(x)), bf16.push_back(f32_to_bf16(x));
  std::vector<uint8_t> q8(2 * 34);
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 37 + 11);
  w.add_tensor("t.f32", {3, 2}, GgmlType::F32, f32.data(), 24);
  w.add_tensor("t.f16", {6}, GgmlType::F16, f16.data(), 12);
  w.add_tensor("t.bf16", {2, 3}, GgmlType::BF16, bf16.data(), 12);
  w.add_tensor("t.q8", {32, 2}, GgmlType::Q8_0, q8.data(), 68);
  w.add_tensor("t.fill", {4}, GgmlType::F32, [](std::byte* out) {
    for (int i = 0; i < 4; ++i) store_unaligned<float>(out + 4 * i, static_cast<float>(i) + 0.5f);
  });
  const std::string path = dir.file("all.gguf");
  w.write(path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  ASSERT_EQ(f.metadata().size(), 17u);
  EXPECT_EQ(f.metadata()[0].first, "u8");  // insertion order kept
  EXPECT_EQ(f.get("u8").as_int("u8"), 200);
  EXPECT_EQ(f.get("i8").as_int("i8"), -100);
  EXPECT_EQ(f.get("u16").as_int("u16"), 60000);
  EXPECT_EQ(f.get("i16").as_int("i16"), -30000);
  EXPECT_EQ(f.get("u32").as_int("u32"), 4000000000);
  EXPECT_EQ(f.get("i32").as_int("i32"), -2000000000);
  EXPECT_EQ(f.get("f32").as_float("f32"), 1.5);
  EXPECT_TRUE(f.get("bool").as_bool("bool"));
  EXPECT_EQ(f.get("string").as_string("string"), "h\xc3\xa9llo\n");
  EXPECT_EQ(f.get("u64").type, GgufType::U64);
  EXPECT_EQ(f.get("u64").uint_value, 1ull << 63);
  EXPECT_THROW(f.get("u64").as_int("u64"), FormatError);  // does not fit int64
  EXPECT_EQ(f.get("i64").as_int("i64"), -(int64_t{1} << 62));
  EXPECT_EQ(f.get("f64").as_float("f64"), 1e-300);
  EXPECT_EQ(f.get("strings").as_strings("strings"), (std::vector<std::string>{"a", "", "c c"}));
  EXPECT_EQ(f.get("i32s").as_ints("i32s"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.get("f32s").as_floats("f32s"), (std::vector<double>{0.25, -2.0}));
  EXPECT_TRUE(f.get("empty").array.empty());
  EXPECT_EQ(f.get("empty").array_type, GgufType::U8);
  const GgufValue& nested = f.get("nested");
  ASSERT_EQ(nested.array.size(), 2u);
  EXPECT_EQ(nested.array[1].as_ints("nested"), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(f.find("absent"), nullptr);
  EXPECT_THROW(f.get("absent"), FormatError);

  ASSERT_EQ(f.tensors().size(), 5u);
  const GgufTensorInfo* t = f.find_tensor("t.f32");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dims, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(t->type, GgmlType::F32);
  EXPECT_EQ(std::memcmp(f.tensor_data(*t), f32.data(), 24), 0);
  EXPECT_EQ(std::memcmp(f.tensor_data(*f.find_tensor("t.f16")), f16.data(), 12), 0);
  EXPECT_EQ(std::memcmp(f.tensor_data(*f.find_tensor("t.bf16")), bf16.data(), 12), 0);
  const GgufTensorInfo* q = f.find_tensor("t.q8");
  EXPECT_EQ(q->type, GgmlType::Q8_0);
  EXPECT_EQ(q->bytes, 68u);
  EXPECT_EQ(std::memcmp(f.tensor_data(*q), q8.data(), 68), 0);
  EXPECT_EQ(load_unaligned<float>(f.tensor_data(*f.find_tensor("t.fill")) + 12), 3.5f);
  for (const auto& info : f.tensors()) EXPECT_EQ(info.offset % 32, 0u) << info.name;
}

TEST(Gguf, TypedAccessorsNameTheKeyOnMismatch) {
  const GgufValue s = gguf_string("x");
  try {
    s.as_int("general.name");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr("general.name"));
    EXPECT_THAT(e.what(), HasSubstr("string"));
  }
  EXPECT_THROW(gguf_u32(1).as_bool("k"), FormatError);
  EXPECT_THROW(gguf_u32(1).as_string("k"), FormatError);
  EXPECT_THROW(gguf_i32_array({1}).as_strings("k"), FormatError);
  EXPECT_THROW(gguf_string_array({"a"}).as_ints("k"), FormatError);
  EXPECT_THROW(gguf_i32_array({1}).as_floats("k"), FormatError);
  EXPECT_EQ(gguf_i32(-3).as_float("k"), -3.0);
}

TEST(Gguf, ReadsHandWrittenVersion2WithAlignment) {
  Bytes b = header(2, 1, 2);
  b.str("general.alignment").put<uint32_t>(4).put<uint32_t>(64);
  b.str("general.architecture").put<uint32_t>(8).str("qwen3");
  b.str("w").put<uint32_t>(1).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(0);
  b.pad_to(64).put<float>(1.0f).put<float>(2.0f);
  const GgufFile f = parse(b.str());
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(load_unaligned<float>(f.tensor_data(f.tensors()[0]) + 4), 2.0f);
}

TEST(Gguf, AcceptsTensorsNotAlignedToTheirElementSize) {
  // Alignment 2 puts the f32 tensor 2 bytes after a 2-byte f16 one.
  Bytes b = header(3, 2, 1);
  b.str("general.alignment").put<uint32_t>(4).put<uint32_t>(2);
  b.str("h").put<uint32_t>(1).put<uint64_t>(1).put<uint32_t>(1).put<uint64_t>(0);
  b.str("f").put<uint32_t>(1).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(2);
  b.pad_to(2);
  const size_t data = b.size();
  b.put<uint16_t>(f32_to_f16(3.0f)).put<float>(1.25f).put<float>(-4.0f);
  const GgufFile f = parse(b.str());
  const GgufTensorInfo& t = *f.find_tensor("f");
  EXPECT_EQ(f.data_offset(), data);
  ASSERT_NE((f.data_offset() + t.offset) % 4, 0u);  // the case under test
  StoredTensor s{"f",    "t.gguf", {2}, GgmlType::F32, f.storage(), f.data_offset() + t.offset,
                 t.bytes};
  const Array a = stored_to_array(s, ElemType::F32);
  EXPECT_EQ(a.data<float>()[0], 1.25f);
  EXPECT_EQ(a.data<float>()[1], -4.0f);
}

TEST(Gguf, RejectsBadMagicAndVersions) {
  expect_format_error("", {"t.gguf", "not a GGUF file"});
  expect_format_error("GGU", {"not a GGUF file"});
  expect_format_error(Bytes().raw("GGML").put<uint32_t>(3).str(), {"magic 'GGML'"});
  expect_format_error(header(1, 0, 0).str(), {"version 1 is not supported"});
  expect_format_error(header(4, 0, 0).str(), {"unsupported GGUF version 4", "offset 4"});
  expect_format_error(header(0x03000000, 0, 0).str(), {"big-endian"});
}

TEST(Gguf, RejectsEveryTruncation) {
  TempDir dir;
  GgufWriter w;
  w.add("general.architecture", gguf_string("qwen3"));
  w.add("list", gguf_string_array({"x", "yz"}));
  const std::vector<float> data(5, 1.0f);
  w.add_tensor("a", {5}, GgmlType::F32, data.data(), 20);
  w.write(dir.file("x.gguf"));
  const std::string full = testing::read_file(dir.file("x.gguf"));
  EXPECT_NO_THROW(parse(full));
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_THROW(parse(full.substr(0, n)), FormatError) << "prefix of " << n << " bytes";
  }
  expect_format_error(full.substr(0, 20), {"truncated", "metadata count", "offset 16"});
  expect_format_error(full.substr(0, 30), {"absurd metadata count 2", "6 bytes left"});
  expect_format_error(full.substr(0, 50), {"truncated", "metadata key #0", "length 20"});
  expect_format_error(full.substr(0, full.size() - 1), {"tensor 'a'", "runs past the end"});
}

TEST(Gguf, RejectsAbsurdCountsBeforeAllocating) {
  expect_format_error(header(3, 0, uint64_t{1} << 60).str(),
                      {"absurd metadata count", "offset 16"});
  expect_format_error(header(3, uint64_t{1} << 61, 0).str(), {"absurd tensor count", "offset 8"});
  Bytes arr = header(3, 0, 1);
  arr.str("tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(uint64_t{1} << 62);
  expect_format_error(arr.str(), {"absurd element count of metadata key 'tokens'"});
  Bytes str = header(3, 0, 1);
  str.str("name").put<uint32_t>(8).put<uint64_t>(~uint64_t{0});
  expect_format_error(str.str(), {"metadata key 'name'", "length 18446744073709551615"});
  Bytes key = header(3, 0, 1);
  key.put<uint64_t>(uint64_t{1} << 40).raw(std::string(20, 'x'));
  expect_format_error(key.str(), {"metadata key #0", "offset 24"});
}

TEST(Gguf, RejectsBadMetadata) {
  Bytes type = header(3, 0, 1);
  type.str("k").put<uint32_t>(13).put<uint32_t>(0);
  expect_format_error(type.str(), {"key 'k'", "unknown value type 13", "offset 33"});
  Bytes elem = header(3, 0, 1);
  elem.str("k").put<uint32_t>(9).put<uint32_t>(99).put<uint64_t>(0);
  expect_format_error(elem.str(), {"unknown array element type 99"});
  Bytes deep = header(3, 0, 1);
  deep.str("k").put<uint32_t>(9);  // each level: element type array, one element
  for (int i = 0; i < 20; ++i) deep.put<uint32_t>(9).put<uint64_t>(1);
  expect_format_error(deep.str(), {"nests arrays deeper"});
  Bytes dup = header(3, 0, 2);
  dup.str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2);
  expect_format_error(dup.str(), {"duplicate metadata key 'k'"});
  Bytes boolean = header(3, 0, 1);
  boolean.str("b").put<uint32_t>(7).put<uint8_t>(2);
  expect_format_error(boolean.str(), {"key 'b'", "bool byte 2"});
  for (uint32_t bad : {0u, 3u, 1u << 31}) {
    Bytes align = header(3, 0, 1);
    align.str("general.alignment").put<uint32_t>(4).put<uint32_t>(bad);
    expect_format_error(align.str(), {"general.alignment", "power of two"});
  }
  Bytes align_type = header(3, 0, 1);
  align_type.str("general.alignment").put<uint32_t>(8).str("32");
  expect_format_error(align_type.str(), {"general.alignment", "string"});
}

Bytes one_tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type,
                 uint64_t offset) {
  Bytes b = header(3, 1, 0);
  b.str(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) b.put<uint64_t>(d);
  b.put<uint32_t>(type).put<uint64_t>(offset);
  b.pad_to(32);
  return b;
}

TEST(Gguf, RejectsBadTensorInfos) {
  expect_format_error(one_tensor("blk.0.attn_q.weight", {4}, 2, 0).raw(std::string(64, 'x')).str(),
                      {"tensor 'blk.0.attn_q.weight'", "unsupported ggml type 2"});
  expect_format_error(one_tensor("w", {1, 1, 1, 1, 1}, 0, 0).str(), {"tensor 'w'", "5 dimensions"});
  expect_format_error(one_tensor("w", {uint64_t{1} << 63}, 0, 0).str(),
                      {"tensor 'w'", "absurd dimension"});
  expect_format_error(one_tensor("w", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0).str(),
                      {"tensor 'w'", "overflows"});
  expect_format_error(one_tensor("w", {33}, 8, 0).raw(std::string(64, 'x')).str(),
                      {"tensor 'w'", "multiple of the 32-element block"});
  expect_format_error(one_tensor("w", {4}, 0, 16).raw(std::string(64, 'x')).str(),
                      {"tensor 'w'", "not a multiple of the alignment 32"});
  expect_format_error(one_tensor("w", {4}, 0, 64).raw(std::string(64, 'x')).str(),
                      {"tensor 'w'", "runs past the end"});
  expect_format_error(one_tensor("w", {4}, 0, ~uint64_t{31}).raw(std::string(64, 'x')).str(),
                      {"tensor 'w'", "runs past the end"});
  expect_format_error(one_tensor("w", {100}, 0, 0).raw(std::string(16, 'x')).str(),
                      {"tensor 'w'", "400 bytes"});
  Bytes dup = header(3, 2, 0);
  for (int i = 0; i < 2; ++i) {
    dup.str("w").put<uint32_t>(1).put<uint64_t>(1).put<uint32_t>(0).put<uint64_t>(0);
  }
  expect_format_error(dup.pad_to(32).put<float>(0).str(), {"duplicate tensor 'w'"});
}

TEST(Gguf, Q8_0DequantisesLikeTheScalarFormula) {
  // Two blocks: scale (f16) then 32 signed bytes each.
  Bytes b;
  const float scales[2] = {0.0625f, -1.5f};
  for (int blk = 0; blk < 2; ++blk) {
    b.put<uint16_t>(f32_to_f16(scales[blk]));
    for (int j = 0; j < 32; ++j) b.put<int8_t>(static_cast<int8_t>(j * 8 - 128 + blk));
  }
  const std::string bytes = b.str();
  for (ElemType dst : {ElemType::F32, ElemType::F16, ElemType::BF16}) {
    std::vector<std::byte> out(64 * elem_size(dst));
    convert_elements(GgmlType::Q8_0, reinterpret_cast<const std::byte*>(bytes.data()), dst,
                     out.data(), 64);
    for (int i = 0; i < 64; ++i) {
      const float want =
          scales[i / 32] * static_cast<float>(static_cast<int8_t>((i % 32) * 8 - 128 + i / 32));
      float got = 0;
      if (dst == ElemType::F32) got = load_unaligned<float>(out.data() + 4 * i);
      if (dst == ElemType::F16) got = f16_to_f32(load_unaligned<uint16_t>(out.data() + 2 * i));
      if (dst == ElemType::BF16) got = bf16_to_f32(load_unaligned<uint16_t>(out.data() + 2 * i));
      const float rounded = dst == ElemType::F32   ? want
                            : dst == ElemType::F16 ? f16_to_f32(f32_to_f16(want))
                                                   : bf16_to_f32(f32_to_bf16(want));
      EXPECT_EQ(got, rounded) << elem_name(dst) << " element " << i;
    }
  }
}

// The SIMD paths (F16C where the CPU has it) must round exactly like util/half.h, so files and
// loaded weights do not depend on the machine.
TEST(Convert, F16MatchesScalarRoundingBitForBit) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> wide(all.size());
  convert_elements(GgmlType::F16, reinterpret_cast<const std::byte*>(all.data()), ElemType::F32,
                   reinterpret_cast<std::byte*>(wide.data()), 65536);
  for (uint32_t i = 0; i < all.size(); ++i) {
    const float want = f16_to_f32(all[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(wide[i])) << i;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(wide[i]), std::bit_cast<uint32_t>(want)) << i;
    }
  }
  // Ties, subnormals, overflow and a spread of ordinary values, each as f16 and bf16.
  std::vector<float> in = {0.0f,     -0.0f,    65504.0f, 65519.0f, 65520.0f, -1e6f,
                           INFINITY, 5.96e-8f, 2.98e-8f, 2.99e-8f, 6.1e-5f,  1.0f + 1.0f / 2048};
  for (uint32_t x = 0x33000000u; x < 0x47800000u; x += 0x1357u)
    in.push_back(std::bit_cast<float>(x));
  uint64_t state = 1;
  for (int i = 0; i < 100000; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    in.push_back(std::bit_cast<float>(static_cast<uint32_t>(state >> 32) & 0xbfffffffu));
  }
  std::vector<uint16_t> out(in.size());
  for (ElemType type : {ElemType::F16, ElemType::BF16}) {
    encode_f32(in.data(), static_cast<int64_t>(in.size()), type,
               reinterpret_cast<std::byte*>(out.data()));
    for (size_t i = 0; i < in.size(); ++i) {
      if (std::isnan(in[i])) continue;
      ASSERT_EQ(out[i], type == ElemType::F16 ? f32_to_f16(in[i]) : f32_to_bf16(in[i]))
          << elem_name(type) << " of " << in[i];
    }
  }
}

TEST(GgufWriter, RejectsInconsistentInput) {
  GgufWriter w;
  w.add("k", gguf_u32(1));
  EXPECT_THROW(w.add("k", gguf_u32(2)), UsageError);
  const float x[4] = {};
  EXPECT_THROW(w.add_tensor("t", {4}, GgmlType::F32, x, 12), UsageError);
  EXPECT_THROW(w.add_tensor("t", {31}, GgmlType::Q8_0, x, 34), UsageError);
  EXPECT_THROW(w.add_tensor("t", {1, 1, 1, 1, 1}, GgmlType::F32, x, 4), UsageError);
  w.add_tensor("t", {4}, GgmlType::F32, x, 16);
  EXPECT_THROW(w.add_tensor("t", {4}, GgmlType::F32, x, 16), UsageError);

  TempDir dir;
  GgufWriter bad_array;
  bad_array.add("a", gguf_array(GgufType::I32, {gguf_u32(1)}));
  EXPECT_THROW(bad_array.write(dir.file("a.gguf")), UsageError);
  GgufWriter too_big;
  too_big.add("u8", value_of(GgufType::U8, 300, 0, 0));
  EXPECT_THROW(too_big.write(dir.file("b.gguf")), UsageError);
  GgufWriter bad_align;
  bad_align.add("general.alignment", gguf_u32(24));
  EXPECT_THROW(bad_align.write(dir.file("c.gguf")), UsageError);
  // A failed write leaves neither the file nor its temporary.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  EXPECT_THROW(w.write(dir.file("no/such/dir/x.gguf")), SystemError);
}

TEST(GgufWriter, FailingFillLeavesNoFile) {
  TempDir dir;
  GgufWriter w;
  w.add_tensor("t", {4}, GgmlType::F32, [](std::byte*) { throw UsageError("fill failed"); });
  EXPECT_THROW(w.write(dir.file("x.gguf")), UsageError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(GgufWriter, HonoursGeneralAlignment) {
  TempDir dir;
  GgufWriter w;
  w.add("general.alignment", gguf_u32(128));
  const uint16_t h[3] = {1, 2, 3};
  w.add_tensor("a", {3}, GgmlType::F16, h, 6);
  w.add_tensor("b", {3}, GgmlType::F16, h, 6);
  w.write(dir.file("x.gguf"));
  const GgufFile f = GgufFile::open(dir.file("x.gguf"));
  EXPECT_EQ(f.alignment(), 128u);
  EXPECT_EQ(f.data_offset() % 128, 0u);
  EXPECT_EQ(f.find_tensor("b")->offset, 128u);
}

}  // namespace
}  // namespace hh
