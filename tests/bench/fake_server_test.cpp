// The fake protocol server of fake_server.h, and tests of the protocol client against it.
#include "bench/fake_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "server/client.h"

namespace hh::testing {
namespace {

struct FakeValue {
  bool array = false;
  std::vector<int64_t> data;
  bool consumed = false;
  std::string type() const { return array ? "[]i64" : "i64"; }
};

struct FakeEntry {
  std::vector<std::string> inputs;  // '*' marks consumed
  std::vector<std::string> outputs;
};

const std::map<std::string, FakeEntry>& fake_entries() {
  static const std::map<std::string, FakeEntry> entries = {
      {"sum", {{"i64"}, {"i64"}}},        {"spin", {{"i64"}, {"i64"}}},
      {"consume", {{"*[]i64"}, {"i64"}}}, {"mk", {{"i64"}, {"[]i64"}}},
      {"fail", {{"i64"}, {"i64"}}},       {"die", {{"i64"}, {"i64"}}},
      {"hang", {{"i64"}, {"i64"}}},       {"dieafter", {{"i64"}, {"i64"}}},
  };
  return entries;
}

// Words of a protocol line: runs of non-spaces or "quoted strings".
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
    } else if (line[i] == '"') {
      const size_t end = line.find('"', i + 1);
      if (end == std::string::npos) throw std::runtime_error("unterminated quote");
      words.push_back(line.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      const size_t end = std::min(line.find(' ', i), line.size());
      words.push_back(line.substr(i, end - i));
      i = end;
    }
  }
  return words;
}

std::vector<FakeValue> read_values(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<FakeValue> values;
  for (;;) {
    char head[7];
    if (!in.read(head, 1)) break;
    if (head[0] == ' ' || head[0] == '\n') continue;
    if (!in.read(head + 1, 6) || head[0] != 'b' || head[1] != 2 ||
        std::string(head + 3, 4) != " i64" || (head[2] != 0 && head[2] != 1)) {
      throw std::runtime_error("not a binary i64 or []i64 value");
    }
    FakeValue v;
    v.array = head[2] == 1;
    int64_t n = 1;
    if (v.array && !in.read(reinterpret_cast<char*>(&n), 8)) throw std::runtime_error("short");
    if (n < 0 || n > (1 << 24)) throw std::runtime_error("bad size");
    v.data.resize(static_cast<size_t>(n));
    if (n > 0 && !in.read(reinterpret_cast<char*>(v.data.data()), 8 * n)) {
      throw std::runtime_error("truncated");
    }
    values.push_back(std::move(v));
  }
  return values;
}

void write_value(std::ofstream& out, const FakeValue& v) {
  const char head[7] = {'b', 2, static_cast<char>(v.array ? 1 : 0), ' ', 'i', '6', '4'};
  out.write(head, 7);
  if (v.array) {
    const int64_t n = static_cast<int64_t>(v.data.size());
    out.write(reinterpret_cast<const char*>(&n), 8);
  }
  out.write(reinterpret_cast<const char*>(v.data.data()),
            static_cast<std::streamsize>(8 * v.data.size()));
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int serve(const std::string& mode) {
  if (mode == "nostart") {
    std::cerr << "fake server: refusing to start\n";
    return 7;
  }
  if (mode == "silent") {
    std::this_thread::sleep_for(std::chrono::hours(1));
    return 0;
  }
  std::map<std::string, FakeValue> vars;
  bool profiling = false;
  std::vector<std::string> events;
  int calls = 0;
  std::cout << "%%% OK" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::ostringstream out;
    try {
      const auto w = split(line);
      if (w.empty()) throw std::runtime_error("empty command");
      const auto need = [&](size_t n) {
        if (w.size() < n) throw std::runtime_error(w[0] + ": too few arguments");
      };
      const auto var = [&](const std::string& name) -> FakeValue& {
        auto it = vars.find(name);
        if (it == vars.end()) throw std::runtime_error("Unknown variable: " + name);
        return it->second;
      };
      const auto entry = [&](const std::string& name) -> const FakeEntry& {
        auto it = fake_entries().find(name);
        if (it == fake_entries().end()) throw std::runtime_error("Unknown entry point: " + name);
        return it->second;
      };
      if (w[0] == "entry_points") {
        for (const auto& [name, e] : fake_entries()) out << name << "\n";
      } else if (w[0] == "types") {
        out << "i64\n[]i64\n";
      } else if (w[0] == "inputs" || w[0] == "outputs") {
        need(2);
        const auto& e = entry(w[1]);
        for (const auto& t : w[0] == "inputs" ? e.inputs : e.outputs) out << t << "\n";
      } else if (w[0] == "kind") {
        need(2);
        if (w[1] != "i64" && w[1] != "[]i64") throw std::runtime_error("Unknown type: " + w[1]);
        out << (w[1] == "i64" ? "primitive" : "array") << "\n";
      } else if (w[0] == "restore") {
        need(2);
        const auto values = read_values(w[1]);
        if ((w.size() - 2) % 2 != 0 || (w.size() - 2) / 2 > values.size()) {
          throw std::runtime_error("restore: the file has too few values");
        }
        for (size_t i = 2, k = 0; i + 1 < w.size(); i += 2, ++k) {
          if (vars.contains(w[i])) throw std::runtime_error("Variable already exists: " + w[i]);
          if (values[k].type() != w[i + 1]) {
            throw std::runtime_error("restore: value " + std::to_string(k) + " is a " +
                                     values[k].type() + ", not " + w[i + 1]);
          }
        }
        for (size_t i = 2, k = 0; i + 1 < w.size(); i += 2, ++k) vars[w[i]] = values[k];
      } else if (w[0] == "store") {
        need(3);
        std::ofstream f(w[1], std::ios::binary);
        for (size_t i = 2; i < w.size(); ++i) {
          const auto& v = var(w[i]);
          if (v.consumed) throw std::runtime_error("Variable consumed: " + w[i]);
          write_value(f, v);
        }
      } else if (w[0] == "free") {
        for (size_t i = 1; i < w.size(); ++i) var(w[i]);
        for (size_t i = 1; i < w.size(); ++i) vars.erase(w[i]);
      } else if (w[0] == "pause_profiling") {
        profiling = false;
      } else if (w[0] == "unpause_profiling") {
        profiling = true;
      } else if (w[0] == "report") {
        out << "{\"memory\": {\"host\": " << 8 * vars.size() << "}, \"events\": [";
        for (size_t i = 0; i < events.size(); ++i) out << (i ? ", " : "") << events[i];
        out << "]}\n";
        events.clear();
      } else if (w[0] == "clear") {
      } else if (w[0] == "call") {
        need(2);
        const auto& e = entry(w[1]);
        if (w.size() != 2 + e.outputs.size() + e.inputs.size()) {
          throw std::runtime_error("call: wrong number of arguments");
        }
        std::vector<FakeValue*> ins;
        for (size_t i = 0; i < e.inputs.size(); ++i) {
          auto& v = var(w[2 + e.outputs.size() + i]);
          if (v.consumed)
            throw std::runtime_error("Variable consumed: " + w[2 + e.outputs.size() + i]);
          std::string t = e.inputs[i];
          if (t[0] == '*') t = t.substr(1);
          if (v.type() != t)
            throw std::runtime_error("call: input " + std::to_string(i) + " is not " + t);
          ins.push_back(&v);
        }
        for (size_t i = 0; i < e.outputs.size(); ++i) {
          if (vars.contains(w[2 + i]))
            throw std::runtime_error("Variable already exists: " + w[2 + i]);
        }
        ++calls;
        const int64_t t0 = now_us();
        FakeValue result;
        const int64_t n = ins[0]->data.empty() ? 0 : ins[0]->data[0];
        if (w[1] == "sum") {
          result.data = {n * (n + 1) / 2};
        } else if (w[1] == "spin") {
          while (now_us() - t0 < n) {
          }
          result.data = {n};
        } else if (w[1] == "consume") {
          int64_t s = 0;
          for (int64_t x : ins[0]->data) s += x;
          result.data = {s};
          ins[0]->consumed = true;
        } else if (w[1] == "mk") {
          result.array = true;
          for (int64_t i = 0; i < n; ++i) result.data.push_back(i);
        } else if (w[1] == "fail") {
          throw std::runtime_error("fail: this entry point always fails");
        } else if (w[1] == "die" || (w[1] == "dieafter" && calls > 5)) {
          std::cerr << "fake server: dying on purpose" << std::endl;
          std::_Exit(3);
        } else if (w[1] == "hang") {
          std::this_thread::sleep_for(std::chrono::hours(1));
        } else {
          result.data = {n};
        }
        const int64_t t1 = now_us();
        if (profiling) {
          events.push_back("{\"name\": \"" + w[1] + "\", \"start\": " + std::to_string(t0) +
                           ", \"end\": " + std::to_string(t1) + ", \"details\": \"\"}");
        }
        vars[w[2]] = result;
        out << "runtime: " << (t1 - t0) << "\n";
      } else {
        throw std::runtime_error("Unknown command: " + w[0]);
      }
      std::cout << out.str() << "%%% OK" << std::endl;
    } catch (const std::exception& e) {
      std::cout << "%%% FAILURE\n" << e.what() << "\n%%% OK" << std::endl;
    }
  }
  return 0;
}

// Becomes the server before main() when the environment asks for it. Only the standard
// library is used, so nothing depends on the order of static initialisation.
const bool kServed = [] {
  if (const char* mode = std::getenv(kFakeServerEnv)) std::_Exit(serve(mode));
  return false;
}();

std::string self_path() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

}  // namespace

std::vector<std::string> fake_server_argv(const std::string& mode) {
  return {"/usr/bin/env", std::string(kFakeServerEnv) + "=" + mode, self_path()};
}

std::string fake_server_command(const std::string& mode) {
  return "env " + std::string(kFakeServerEnv) + "=" + mode + " '" + self_path() + "'";
}

namespace {

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("hh_client_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

TEST(ServerClient, TalksToAServer) {
  ServerClient s = ServerClient::spawn(fake_server_argv());
  const auto entries = s.entry_points();
  EXPECT_NE(std::find(entries.begin(), entries.end(), "sum"), entries.end());
  const auto ins = s.inputs("consume");
  ASSERT_EQ(ins.size(), 1u);
  EXPECT_EQ(ins[0].type, "[]i64");
  EXPECT_TRUE(ins[0].star);
  EXPECT_EQ(s.kind("[]i64"), "array");

  // A value goes in with restore, through call, and out with store.
  const std::string in = temp_file("in.bin"), out = temp_file("out.bin");
  {
    std::ofstream f(in, std::ios::binary);
    const char head[7] = {'b', 2, 0, ' ', 'i', '6', '4'};
    const int64_t n = 10;
    f.write(head, 7);
    f.write(reinterpret_cast<const char*>(&n), 8);
  }
  s.restore(in, {{"n", "i64"}});
  const auto r = s.call("sum", {"out"}, {"n"});
  EXPECT_GE(r.runtime_us, 0);
  s.store(out, {"out"});
  std::ifstream f(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 15u);
  int64_t v = 0;
  std::memcpy(&v, bytes.data() + 7, 8);
  EXPECT_EQ(v, 55);
  s.free({"n", "out"});
  std::filesystem::remove(in);
  std::filesystem::remove(out);
}

TEST(ServerClient, FailureLeavesTheServerUsable) {
  ServerClient s = ServerClient::spawn(fake_server_argv());
  try {
    s.inputs("nosuch");
    FAIL() << "no exception";
  } catch (const ServerFailure& e) {
    EXPECT_EQ(e.server_message(), "Unknown entry point: nosuch");
  }
  EXPECT_TRUE(s.usable());
  EXPECT_EQ(s.inputs("sum").size(), 1u);
  // Quoted words arrive whole.
  EXPECT_THROW(s.command({"free", "a name with spaces"}), ServerFailure);
  EXPECT_THROW(s.command({"free", "bad\"quote"}), UsageError);
}

TEST(ServerClient, DetectsADeadServer) {
  ServerClient s = ServerClient::spawn_shell(fake_server_command());
  const std::string in = temp_file("die.bin");
  {
    std::ofstream f(in, std::ios::binary);
    const char head[7] = {'b', 2, 0, ' ', 'i', '6', '4'};
    const int64_t n = 1;
    f.write(head, 7);
    f.write(reinterpret_cast<const char*>(&n), 8);
  }
  s.restore(in, {{"n", "i64"}});
  try {
    s.call("die", {"o"}, {"n"});
    FAIL() << "no exception";
  } catch (const ServerDied& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("exited with status 3"), std::string::npos) << what;
    EXPECT_NE(what.find("dying on purpose"), std::string::npos) << what;
  }
  EXPECT_FALSE(s.usable());
  EXPECT_THROW(s.entry_points(), ServerDied);
  std::filesystem::remove(in);
}

TEST(ServerClient, TimesOutAHangingServer) {
  ServerClient s = ServerClient::spawn(fake_server_argv());
  const std::string in = temp_file("hang.bin");
  {
    std::ofstream f(in, std::ios::binary);
    const char head[7] = {'b', 2, 0, ' ', 'i', '6', '4'};
    const int64_t n = 1;
    f.write(head, 7);
    f.write(reinterpret_cast<const char*>(&n), 8);
  }
  s.restore(in, {{"n", "i64"}});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(s.call("hang", {"o"}, {"n"}, std::chrono::milliseconds(200)), ServerTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_FALSE(s.usable());
  s.kill();
  std::filesystem::remove(in);
}

TEST(ServerClient, StartFailures) {
  EXPECT_THROW(ServerClient::spawn({"/nonexistent/hedgehog-server"}), SystemError);
  try {
    ServerClient::spawn(fake_server_argv("nostart"));
    FAIL() << "no exception";
  } catch (const ServerDied& e) {
    EXPECT_NE(std::string(e.what()).find("refusing to start"), std::string::npos) << e.what();
  }
  ServerOptions quick;
  quick.startup_timeout = std::chrono::milliseconds(300);
  EXPECT_THROW(ServerClient::spawn(fake_server_argv("silent"), quick), ServerTimeout);
  EXPECT_THROW(ServerClient::spawn_shell("   "), UsageError);
}

TEST(ServerClient, QuotesWords) {
  EXPECT_EQ(quote_protocol_word("abc"), "abc");
  EXPECT_EQ(quote_protocol_word("a b"), "\"a b\"");
  EXPECT_EQ(quote_protocol_word(""), "\"\"");
  EXPECT_THROW(quote_protocol_word("a\nb"), UsageError);
}

}  // namespace
}  // namespace hh::testing
