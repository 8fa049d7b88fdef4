#pragma once
// Shared fixture for the protocol tests: an in-process Server over the FakeBackend, a private
// temporary directory, and helpers that check the framing of every response.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "server/fake_backend.h"
#include "server/server.h"
#include "values/binary_format.h"
#include "values/text_format.h"

namespace hh::testing {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "hh_server_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The raw response of one line.
  std::string respond(std::string_view line) {
    std::string out;
    server_.handle_line(line, out);
    return out;
  }
  // Runs a command that must succeed; returns its output without the closing "%%% OK".
  std::string ok(std::string_view line) {
    std::string out;
    const bool success = server_.handle_line(line, out);
    EXPECT_TRUE(success) << "command: " << line << "\nresponse:\n" << out;
    EXPECT_TRUE(out.size() >= server::kOkLine.size() &&
                out.substr(out.size() - server::kOkLine.size()) == server::kOkLine)
        << out;
    EXPECT_EQ(out.find("%%% FAILURE"), std::string::npos) << out;
    return out.substr(0, out.size() - std::min(out.size(), server::kOkLine.size()));
  }
  // Runs a command that must fail; returns the failure message.
  std::string failure(std::string_view line) {
    std::string out;
    const bool success = server_.handle_line(line, out);
    EXPECT_FALSE(success) << "command: " << line << "\nresponse:\n" << out;
    EXPECT_EQ(out.substr(0, server::kFailureLine.size()), server::kFailureLine) << out;
    EXPECT_TRUE(out.size() >= server::kOkLine.size() &&
                out.substr(out.size() - server::kOkLine.size()) == server::kOkLine)
        << out;
    if (out.size() < server::kFailureLine.size() + server::kOkLine.size()) return out;
    return out.substr(server::kFailureLine.size(),
                      out.size() - server::kFailureLine.size() - server::kOkLine.size());
  }

  void put_i64(const std::string& name, int64_t v) {
    server_.put_array(name, Array::scalar<int64_t>(ElemType::I64, v));
  }
  void put_value(const std::string& name, std::string_view text) {
    server_.put_array(name, parse_text_value(text));
  }
  std::string text_of(const std::string& name) { return format_value(server_.get_array(name)); }

  std::string read_file(const std::string& name) {
    std::ifstream in(path(name), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void write_file(const std::string& name, std::string_view bytes) {
    std::ofstream out(path(name), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  // params p, cache c (b=2, kvh=1, cs, dh=2) and the usual i64 scalars.
  void load_model_and_cache(int64_t cs = 16) {
    server_.put_array("path", server::string_array("fake.model"));
    ok("call load p path");
    put_i64("b", FakeBackend::kLayers);
    put_i64("kvh", FakeBackend::kKvHeads);
    put_i64("cs", cs);
    put_i64("dh", FakeBackend::kHeadDim);
    ok("call init c b kvh cs dh");
    put_i64("zero", 0);
    put_i64("eos", -1);
    put_i64("max", 5);
  }

  std::filesystem::path dir_;
  FakeBackend backend_;
  server::Server server_{backend_};
};

}  // namespace hh::testing
