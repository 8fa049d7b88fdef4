// libFuzzer target: arbitrary bytes, split into lines, fed to an in-process Server over the fake
// engine. Every line must produce a well-framed response; nothing may crash or leak. File
// arguments of store/restore are redirected into one private directory so the fuzzer cannot
// write elsewhere (and can still store a value and restore it again).
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "../tests/server/fake_backend.h"
#include "server/records.h"
#include "server/server.h"

namespace {

// Created on first use, removed when the fuzzer exits.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    path = (std::filesystem::temp_directory_path() / "hh_protocol_fuzz_XXXXXX").string();
    if (mkdtemp(path.data()) == nullptr) std::abort();
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

const std::string& scratch_dir() {
  static const ScratchDir dir;
  return dir.path;
}

std::string quote(const std::string& word) { return "\"" + word + "\""; }

// store/restore FILE ... -> the same command on one of two scratch files.
std::string confine_files(std::string_view line) {
  std::vector<std::string> words;
  try {
    words = hh::server::split_words(line);
  } catch (const hh::FormatError&) {
    return std::string(line);  // fails before any file is touched
  }
  if (words.size() < 2 || (words[0] != "store" && words[0] != "restore")) return std::string(line);
  words[1] = scratch_dir() + (words[1].size() % 2 ? "/a" : "/b");
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    // Words without spaces or quotes go as they are, the rest quoted (they hold no quote).
    out += w.find_first_of(" \t\r\n\f\v") == std::string::npos && !w.empty() ? w : quote(w);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hh::testing::FakeBackend backend;
  backend.max_cache_elements = 1 << 16;
  hh::server::Server server(backend);
  // Seed variables, so short inputs reach the entry points: i0..i3 = 0..3, n8 = 8, m1 = -1,
  // xs = [1, 2, 3], half = 0.5f32, seed = 7u64, path = "fake.model".
  for (int64_t i = 0; i <= 3; ++i) {
    server.put_array("i" + std::to_string(i), hh::Array::scalar<int64_t>(hh::ElemType::I64, i));
  }
  server.put_array("n8", hh::Array::scalar<int64_t>(hh::ElemType::I64, 8));
  server.put_array("m1", hh::Array::scalar<int64_t>(hh::ElemType::I64, -1));
  server.put_array("xs", hh::Array::from_i64(std::vector<int64_t>{1, 2, 3}));
  server.put_array("half", hh::Array::scalar<float>(hh::ElemType::F32, 0.5f));
  server.put_array("seed", hh::Array::scalar<uint64_t>(hh::ElemType::U64, 7));
  server.put_array("path", hh::server::string_array("fake.model"));
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  std::string out;
  while (start <= input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    out.clear();
    const bool ok = server.handle_line(confine_files(input.substr(start, end - start)), out);
    // Framing: every response ends with "%%% OK", a failure starts with "%%% FAILURE", and no
    // other line of the response looks like framing.
    if (out.size() < 7 || out.compare(out.size() - 7, 7, "%%% OK\n") != 0) std::abort();
    if (!ok && out.rfind("%%% FAILURE\n", 0) != 0) std::abort();
    size_t line_start = ok ? 0 : 12;
    while (line_start < out.size() - 7) {
      if (out.compare(line_start, 3, "%%%") == 0) std::abort();
      line_start = out.find('\n', line_start) + 1;
    }
    start = end + 1;
  }
  return 0;
}
