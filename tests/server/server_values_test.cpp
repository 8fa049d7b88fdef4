// Consumption, records (new/project), store/restore of every kind of value, and profiling.
#include <nlohmann/json.hpp>

#include "server/records.h"
#include "server/server_fixture.h"
#include "values/value_reader.h"

namespace hh::testing {
namespace {

TEST_F(ServerTest, ConsumedCacheMayOnlyBeFreed) {
  load_model_and_cache();
  put_value("xs", "[1i64, 2i64]");
  ok("call gen g zero xs p c eos max");
  const std::string consumed = "variable c was consumed by an earlier call; it may only be freed\n";
  EXPECT_EQ(failure("type c"), consumed);
  EXPECT_EQ(failure("call gen g2 zero xs p c eos max"), consumed);
  EXPECT_EQ(failure("store " + path("c.bin") + " c"), consumed);
  EXPECT_EQ(failure("project k c kcache"), consumed);
  EXPECT_EQ(failure("rename c c2"), consumed);
  EXPECT_EQ(failure("new g3 \"([]i64, Cache)\" xs c"), consumed);
  EXPECT_EQ(failure("call init c b kvh cs dh"), "Variable already exists: c\n");
  ok("free c");
  ok("call init c b kvh cs dh");
  // Params are not consumed.
  ok("call gen g2 zero xs p c eos max");
}

TEST_F(ServerTest, EngineFailureDropsOutputAndConsumesTheCache) {
  load_model_and_cache();
  put_value("xs", "[1i64, 2i64]");
  backend_.fail_next_run = true;
  EXPECT_EQ(failure("call gen g zero xs p c eos max"), "fake engine failure\n");
  EXPECT_FALSE(server_.has_variable("g"));
  EXPECT_EQ(failure("type c"),
            "variable c was consumed by an earlier call; it may only be freed\n");
  EXPECT_EQ(ok("type p"), "Params\n");
  ok("free c");
}

// Continuing from a restored cache gives the same tokens as continuing from the original.
TEST_F(ServerTest, StoredCacheRestoresToTheSameContinuation) {
  load_model_and_cache(/*cs=*/32);
  put_value("xs", "[3i64, 1i64, 4i64]");
  ok("call gen g zero xs p c eos max");
  ok("project toks g 0");
  ok("project c1 g 1");
  ok("free g");
  ok("store " + path("cache.bin") + " c1");
  put_value("next", "[5i64]");
  put_i64("at", 3 + 5);
  // Restore first (before the direct continuation consumes c1).
  ok("restore " + path("cache.bin") + " c2 Cache");
  ok("call gen direct at next p c1 eos max");
  ok("call gen again at next p c2 eos max");
  ok("project t_direct direct 0");
  ok("project t_again again 0");
  EXPECT_EQ(text_of("t_direct"), text_of("t_again"));
  // And a cache that lost its history continues differently (the check can fail).
  ok("call init fresh b kvh cs dh");
  ok("call gen other at next p fresh eos max");
  ok("project t_other other 0");
  EXPECT_NE(text_of("t_other"), text_of("t_direct"));
}

TEST_F(ServerTest, CacheSharedWithAnotherVariableIsCopiedBeforeUpdate) {
  load_model_and_cache();
  put_value("xs", "[1i64, 2i64]");
  ok("call gen g zero xs p c eos max");
  ok("project c1 g 1");       // g still holds the same cache
  ok("project k c1 kcache");  // a view of its keys
  ok("store " + path("g_before.bin") + " g");
  const std::string k_before = text_of("k");
  put_i64("at", 7);
  ok("call gen g2 at xs p c1 eos max");
  EXPECT_EQ(text_of("k"), k_before);
  ok("store " + path("g_after.bin") + " g");
  EXPECT_EQ(read_file("g_before.bin"), read_file("g_after.bin"));
  // Without other holders the update is in place: the output's cache is the input's memory.
  ok("project c3 g2 1");
  ok("free g2");
  ok("call gen g3 zero xs p c3 eos max");
}

TEST_F(ServerTest, StoreRestoreEveryPrimitiveAndArray) {
  const char* values[] = {"-5i8",
                          "300i16",
                          "-70000i32",
                          "-9000000000i64",
                          "200u8",
                          "60000u16",
                          "4000000000u32",
                          "18446744073709551615u64",
                          "1.5f16",
                          "-2.25bf16",
                          "3.1415927f32",
                          "2.718281828459045f64",
                          "true",
                          "[[1i32, 2i32], [3i32, 4i32]]",
                          "empty([0][3]f32)",
                          "[true, false]",
                          "[[[1u8]], [[2u8]]]",
                          "[f32.nan, -f32.inf]"};
  std::string line = "store " + path("all.bin");
  std::string restore = "restore " + path("all.bin");
  for (size_t i = 0; i < std::size(values); ++i) {
    const std::string name = fmt::format("v{}", i);
    put_value(name, values[i]);
    line += " " + name;
    restore += fmt::format(" r{} {}", i, server_.get_array(name).type_name());
  }
  ok(line);
  ok(restore);
  for (size_t i = 0; i < std::size(values); ++i) {
    EXPECT_EQ(text_of(fmt::format("r{}", i)), values[i]);
  }
  // The file is a plain sequence of binary values.
  ValueReader reader = ValueReader::open(path("all.bin"));
  for (size_t i = 0; i < std::size(values); ++i) EXPECT_TRUE(reader.skip().binary);
  EXPECT_TRUE(reader.at_end());
}

TEST_F(ServerTest, StoreRestoreOpaques) {
  load_model_and_cache();
  put_value("xs", "[1i64, 2i64]");
  ok("call init c2 b kvh cs dh");
  ok("call gen g zero xs p c eos max");
  ok("call logits l zero xs p c2");
  EXPECT_EQ(ok("type l"), "([][]f32, Cache)\n");
  ok("project lg l 0");
  EXPECT_EQ(server_.get_array("lg").shape(), (Shape{2, FakeBackend::kVocab}));
  ok("store " + path("all.bin") + " p g l");
  ok("restore " + path("all.bin") + " p2 Params g2 \"([]i64, Cache)\" l2 \"([][]f32, Cache)\"");
  ok("store " + path("again.bin") + " p2 g2 l2");
  EXPECT_EQ(read_file("all.bin"), read_file("again.bin"));

  // The layout DESIGN.md fixes: the type name as []u8, then the fields in order, nested.
  ValueReader reader = ValueReader::open(path("all.bin"));
  EXPECT_EQ(server::array_string(reader.read()), "Params");
  for (const auto& field : params_field_names()) {
    const ValueInfo info = reader.skip();
    EXPECT_EQ(array_type_name(info.type, static_cast<int>(info.shape.size())),
              params_field_type(field, ElemType::F32))
        << field;
  }
  EXPECT_EQ(server::array_string(reader.read()), "([]i64, Cache)");
  EXPECT_EQ(reader.read().type_name(), "[]i64");
  EXPECT_EQ(server::array_string(reader.read()), "Cache");
  EXPECT_EQ(reader.read().shape(), (Shape{2, 1, 16, 2}));
  EXPECT_EQ(reader.read().shape(), (Shape{2, 1, 16, 2}));
  EXPECT_EQ(server::array_string(reader.read()), "([][]f32, Cache)");
}

TEST_F(ServerTest, RestoreChecksTypesAndLeavesNothingBehindOnFailure) {
  load_model_and_cache();
  ok("store " + path("cache.bin") + " c");
  EXPECT_NE(failure("restore " + path("cache.bin") + " q Params")
                .find("the stored value is a 'Cache', not a 'Params'"),
            std::string::npos);
  EXPECT_FALSE(server_.has_variable("q"));

  write_file("two.txt", "1i64 2i64");
  EXPECT_EQ(failure("restore " + path("two.txt") + " x i64"),
            "restore: " + path("two.txt") +
                ": expected the end of the file after 1 values, found "
                "more at byte 5\n");
  EXPECT_NE(failure("restore " + path("two.txt") + " x i64 y i64 z i64").find("end of the file"),
            std::string::npos);
  EXPECT_EQ(failure("restore " + path("two.txt") + " x i64 y i32"),
            "restore: variable y (i32): " + path("two.txt") +
                ": value 1 (near byte 4): expected i32, found i64\n");
  EXPECT_FALSE(server_.has_variable("x"));  // all or nothing
  EXPECT_EQ(failure("restore " + path("two.txt") + " x i64 x i64"),
            "restore: variable x named twice\n");
  EXPECT_EQ(failure("restore " + path("two.txt") + " c i64 y i64"), "Variable already exists: c\n");
  EXPECT_EQ(failure("restore " + path("two.txt") + " x i65 y i64"), "Unknown type: i65\n");
  EXPECT_EQ(failure("restore " + path("two.txt") + " x"),
            "restore: expected VAR TYPE pairs after the file name, got 1 words\n");
  EXPECT_NE(failure("restore " + path("none.bin") + " x i64").find("No such file"),
            std::string::npos);
  ok("restore " + path("two.txt") + " x i64 y i64");
  EXPECT_EQ(text_of("y"), "2i64");

  // Truncated capture: the message names the file, the value index and the offset.
  const std::string bytes = read_file("cache.bin");
  write_file("cut.bin", bytes.substr(0, bytes.size() - 3));
  const std::string message = failure("restore " + path("cut.bin") + " q Cache");
  EXPECT_NE(message.find("value 2 at byte"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated or corrupt"), std::string::npos) << message;
  EXPECT_FALSE(server_.has_variable("q"));
}

TEST_F(ServerTest, StoreIsAtomic) {
  put_i64("a", 1);
  EXPECT_EQ(failure("store " + path("out.bin") + " a nope"), "Unknown variable: nope\n");
  EXPECT_FALSE(std::filesystem::exists(path("out.bin")));
  EXPECT_FALSE(std::filesystem::exists(path("out.bin.tmp")));
  EXPECT_NE(failure("store " + path("no/such/dir.bin") + " a").find("cannot create"),
            std::string::npos);
  ok("store " + path("out.bin") + " a");
  EXPECT_FALSE(std::filesystem::exists(path("out.bin.tmp")));
  // An i64 scalar: 57 spaces put its data at byte 64, then 7 header and 8 data bytes.
  EXPECT_EQ(read_file("out.bin").size(), 57u + 7u + 8u);
}

// A restored capture views a private mapping of the file: Params are not copied, and gen updates
// the restored Cache in place without touching the file, which may go away meanwhile.
TEST_F(ServerTest, RestoredCaptureIsMappedAndUpdatedInPlace) {
  load_model_and_cache();
  put_value("xs", "[1i64, 2i64]");
  ok("call gen g zero xs p c eos max");
  ok("project c1 g 1");
  ok("free g");
  ok("store " + path("cap.bin") + " p c1");
  const std::string before = read_file("cap.bin");
  ok("restore " + path("cap.bin") + " p2 Params c2 Cache");
  std::filesystem::remove(path("cap.bin"));
  ok("project q p2 attn_q");
  EXPECT_EQ(server_.get_array("q").space(), MemorySpace::Mapped);
  ok("free q");
  put_i64("at", 7);
  ok("call gen g2 at xs p2 c2 eos max");
  // The output's cache is still the mapping (a copy would be fresh host memory).
  ok("project c3 g2 1");
  ok("free g2");
  ok("project k c3 kcache");
  EXPECT_EQ(server_.get_array("k").space(), MemorySpace::Mapped);
  ok("free k");
  // Same continuation as the original cache, and the stored bytes are what they were.
  ok("call gen g3 at xs p c1 eos max");
  ok("project t3 g3 0");
  write_file("cap.bin", before);
  ok("restore " + path("cap.bin") + " p4 Params c4 Cache");
  ok("call gen g4 at xs p c4 eos max");
  ok("project t4 g4 0");
  EXPECT_EQ(text_of("t3"), text_of("t4"));
}

TEST_F(ServerTest, RestoreConvertsParamsAndCacheFromAnotherDtype) {
  load_model_and_cache();
  ok("store " + path("p.bin") + " p c");
  FakeBackend f16(ElemType::F16);
  server::Server s(f16);
  std::string out;
  ASSERT_TRUE(s.handle_line("restore " + path("p.bin") + " p Params c Cache", out)) << out;
  out.clear();
  ASSERT_TRUE(s.handle_line("project q p attn_q", out)) << out;
  EXPECT_EQ(s.get_array("q").type_name(), "[][][]f16");
  out.clear();
  ASSERT_TRUE(s.handle_line("project k c kcache", out)) << out;
  EXPECT_EQ(s.get_array("k").type_name(), "[][][][]f16");
}

TEST_F(ServerTest, NewAndProjectRecords) {
  load_model_and_cache();
  ok("project k c kcache");
  ok("project v c vcache");
  ok("new c2 Cache k v");
  EXPECT_EQ(ok("type c2"), "Cache\n");
  put_value("xs", "[1i64]");
  ok("call gen g zero xs p c2 eos max");
  // c2 was built from k and v: the call got its own copy, so k is still all zeros.
  EXPECT_EQ(text_of("k").find("1f32"), std::string::npos);

  std::string line = "new p2 Params";
  for (const auto& field : params_field_names()) {
    ok(fmt::format("project f_{} p {}", field, field));
    line += fmt::format(" f_{}", field);
  }
  ok(line);
  ok("store " + path("p.bin") + " p");
  ok("store " + path("p2.bin") + " p2");
  EXPECT_EQ(read_file("p.bin"), read_file("p2.bin"));
  EXPECT_EQ(text_of("f_rope_theta"), "1000000f32");

  // Shape mismatch in new: the message names the field.
  ok("project wrong p attn_k");
  std::string bad = "new p3 Params";
  for (const auto& field : params_field_names()) {
    bad += field == "ffn_up" ? std::string(" wrong") : fmt::format(" f_{}", field);
  }
  EXPECT_EQ(failure(bad), "Params field 'ffn_up': expected shape [2][4][4], got [2][2][4]\n");
  EXPECT_FALSE(server_.has_variable("p3"));
  EXPECT_EQ(failure("new p3 Params f_token_embd"), "new: Params has 16 fields, 1 values given\n");
  EXPECT_EQ(failure("new c3 Cache k xs"),
            "new: field vcache of Cache is variable xs of type []i64, expected [][][][]f32\n");
  EXPECT_EQ(failure("new c3 i64 k"), "Not a record type: i64\n");
  EXPECT_EQ(failure("project x p nope"),
            "project: Params has no field 'nope' (fields: token_embd, output_norm, output, "
            "attn_norm, attn_q, attn_k, attn_v, attn_output, attn_q_norm, attn_k_norm, ffn_norm, "
            "ffn_gate, ffn_up, ffn_down, rope_theta, rms_eps)\n");
  EXPECT_EQ(failure("project x xs 0"), "project: variable xs of type []i64 is not a record\n");
  ok("new t \"([]i64, Cache)\" xs c");
  ok("project t0 t 0");
  EXPECT_EQ(text_of("t0"), "[1i64]");
}

TEST_F(ServerTest, ProfilingCommands) {
  Profiler& profiler = server_.profiler();
  EXPECT_FALSE(profiler.active());
  ok("unpause_profiling");
  EXPECT_TRUE(profiler.active());
  profiler.record("matmul", 10, 25, "test");
  const std::string report = ok("report");
  ASSERT_EQ(report.find('\n'), report.size() - 1);  // one line
  const auto json = nlohmann::json::parse(report);
  EXPECT_TRUE(json.contains("memory"));
  ASSERT_EQ(json["events"].size(), 1u);
  EXPECT_EQ(json["events"][0]["name"], "matmul");
  EXPECT_EQ(json["events"][0]["end"], 25);
  profiler.record("norm", 1, 2);
  ok("clear");
  EXPECT_TRUE(nlohmann::json::parse(ok("report"))["events"].empty());
  ok("pause_profiling");
  EXPECT_FALSE(profiler.active());
}

}  // namespace
}  // namespace hh::testing
