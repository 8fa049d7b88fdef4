// `hedgehog server` as a client sees it: a subprocess spoken to over pipes, with a tiny model
// made by `hedgehog make-model`.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "server/records.h"
#include "values/binary_format.h"
#include "values/text_format.h"
#include "values/value_reader.h"

extern char** environ;

namespace hh {
namespace {

constexpr int kTimeoutMs = 120000;

// Runs HH_BINARY with `args` to completion; returns the exit status and what it printed.
int run_binary(const std::vector<std::string>& args, std::string& output) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  std::vector<char*> argv;
  std::string binary = HH_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A running `hedgehog server` with pipes to its stdin and stdout.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args) {
    int in_pipe[2], out_pipe[2];
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addclose(&actions, in_pipe[1]);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    std::string binary = HH_BINARY;
    args.insert(args.begin(), {binary, "server"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in_pipe[0]);
    close(out_pipe[1]);
    to_server_ = in_pipe[1];
    from_server_ = out_pipe[0];
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    signal(SIGPIPE, SIG_IGN);
  }
  ~ServerProcess() {
    if (to_server_ >= 0) close(to_server_);
    close(from_server_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Everything up to and including the next "%%% OK" line ("" on EOF or timeout).
  std::string read_response() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    for (;;) {
      const size_t ok = buffer_.find("%%% OK\n");
      if (ok != std::string::npos && (ok == 0 || buffer_[ok - 1] == '\n')) {
        std::string response = buffer_.substr(0, ok + 7);
        buffer_.erase(0, ok + 7);
        return response;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{from_server_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char buf[65536];
      const ssize_t n = read(from_server_, buf, sizeof buf);
      if (n <= 0) return "";
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  std::string command(const std::string& line) {
    const std::string with_newline = line + "\n";
    if (write(to_server_, with_newline.data(), with_newline.size()) !=
        static_cast<ssize_t>(with_newline.size())) {
      return "";
    }
    return read_response();
  }
  // Closes stdin and waits for the exit status.
  int finish() {
    close(to_server_);
    to_server_ = -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int to_server_ = -1;
  int from_server_ = -1;
  std::string buffer_;
};

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "hh_proc_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Makes the tiny model once per test; skips when this build has no make-model command.
  std::string make_model() {
    const std::string model = path("tiny.gguf");
    std::string output;
    const int code =
        run_binary({"make-model", "--preset", "tiny", "--dtype", "f32", "-o", model}, output);
    if (code != 0 && output.find("unknown command") != std::string::npos) return "";
    EXPECT_EQ(code, 0) << output;
    return model;
  }
  void write_values(const std::string& name, const std::string& bytes) {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::vector<int64_t> tokens_in(const std::string& file) {
    ValueReader reader = ValueReader::open(path(file));
    const Array a = reader.read();
    EXPECT_EQ(a.type_name(), "[]i64");
    return std::vector<int64_t>(a.data<int64_t>(), a.data<int64_t>() + a.count());
  }

  std::filesystem::path dir_;
};

constexpr const char* kOk = "%%% OK\n";

int64_t shape_dim(ServerProcess& s, const std::string& var, size_t axis) {
  const std::string r = s.command("shape " + var);
  std::vector<int64_t> dims;
  size_t p = 0;
  while (p < r.size() && r.compare(p, 3, "%%%") != 0) {
    const size_t nl = r.find('\n', p);
    dims.push_back(std::stoll(r.substr(p, nl - p)));
    p = nl + 1;
  }
  return axis < dims.size() ? dims[axis] : -1;
}

TEST_F(ServerProcessTest, LoadInitGenStoreRestoreContinue) {
  const std::string model = make_model();
  if (model.empty()) GTEST_SKIP() << "this hedgehog has no make-model command";

  const auto start = std::chrono::steady_clock::now();
  ServerProcess s({"--dtype", "f32", "-t", "1"});
  ASSERT_EQ(s.read_response(), kOk);
  const auto ready_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
  std::printf("server ready in %lld ms\n", static_cast<long long>(ready_ms));

  write_values("path.bin", to_binary(server::string_array(model)));
  ASSERT_EQ(s.command("restore " + path("path.bin") + " path []u8"), kOk);
  ASSERT_EQ(s.command("call load p path").substr(0, 9), "runtime: ");
  // The cache's sizes come from the model's own shapes.
  ASSERT_EQ(s.command("project kn p attn_k_norm"), kOk);
  ASSERT_EQ(s.command("project ak p attn_k"), kOk);
  const int64_t b = shape_dim(s, "kn", 0), dh = shape_dim(s, "kn", 1);
  const int64_t kvh = shape_dim(s, "ak", 1) / dh;
  ASSERT_GT(b, 0);
  write_values("ints.txt", fmt::format("{}i64 {}i64 64i64 {}i64 0i64 [1i64, 2i64, 3i64] -1i64 "
                                       "4i64 6i64",
                                       b, kvh, dh));
  ASSERT_EQ(s.command("restore " + path("ints.txt") +
                      " b i64 kvh i64 cs i64 dh i64 zero i64 xs []i64 eos i64 max i64 six i64"),
            kOk);
  ASSERT_EQ(s.command("call init c b kvh cs dh").substr(0, 9), "runtime: ");
  ASSERT_EQ(s.command("call gen g zero xs p c eos max").substr(0, 9), "runtime: ");
  ASSERT_EQ(s.command("project toks g 0"), kOk);
  ASSERT_EQ(s.command("project c1 g 1"), kOk);
  ASSERT_EQ(s.command("free g"), kOk);
  ASSERT_EQ(s.command("store " + path("toks.bin") + " toks"), kOk);
  const std::vector<int64_t> first = tokens_in("toks.bin");
  ASSERT_EQ(first.size(), 4u);

  // Capture the cache, restore it as another variable, and continue both the same way: the
  // prompt took positions 0..2, three new tokens 3..5, and the fourth is not yet in the cache.
  ASSERT_EQ(s.command("store " + path("cache.bin") + " c1"), kOk);
  ASSERT_EQ(s.command("restore " + path("cache.bin") + " c2 Cache"), kOk);
  write_values("next.bin", to_binary(Array::from_i64(std::vector<int64_t>{first.back()})));
  ASSERT_EQ(s.command("restore " + path("next.bin") + " next []i64"), kOk);
  ASSERT_EQ(s.command("call gen direct six next p c1 eos max").substr(0, 9), "runtime: ");
  ASSERT_EQ(s.command("call gen again six next p c2 eos max").substr(0, 9), "runtime: ");
  ASSERT_EQ(s.command("project t1 direct 0"), kOk);
  ASSERT_EQ(s.command("project t2 again 0"), kOk);
  ASSERT_EQ(s.command("store " + path("t1.bin") + " t1"), kOk);
  ASSERT_EQ(s.command("store " + path("t2.bin") + " t2"), kOk);
  EXPECT_EQ(tokens_in("t1.bin"), tokens_in("t2.bin"));
  EXPECT_EQ(tokens_in("t1.bin").size(), 4u);

  // Malformed lines get a failure and leave the server usable.
  for (const char* bad : {"bogus", "type \"unterminated", "call gen", "free nope",
                          "call gen g3 zero xs p c1 eos max", "restore /nonexistent/x v i64", ""}) {
    const std::string r = s.command(bad);
    EXPECT_EQ(r.substr(0, 12), "%%% FAILURE\n") << bad << ": " << r;
    EXPECT_EQ(r.substr(r.size() - 7), kOk) << bad;
  }
  EXPECT_EQ(s.command("type t1"), "[]i64\n%%% OK\n");
  EXPECT_EQ(s.finish(), 0);
}

TEST_F(ServerProcessTest, ModelOptionPreloadsParams) {
  const std::string model = make_model();
  if (model.empty()) GTEST_SKIP() << "this hedgehog has no make-model command";
  {
    ServerProcess s({"--model", model, "--profile"});
    ASSERT_EQ(s.read_response(), kOk);
    EXPECT_EQ(s.command("type params"), "Params\n%%% OK\n");
    const std::string report = s.command("report");
    EXPECT_EQ(report.substr(0, 10), "{\"memory\":") << report;
    EXPECT_EQ(s.finish(), 0);
  }
  std::string output;
  EXPECT_NE(run_binary({"server", "--model", path("missing.gguf")}, output), 0);
  EXPECT_NE(output.find("missing.gguf"), std::string::npos) << output;
  EXPECT_EQ(output.find("%%% OK"), std::string::npos) << output;
  output.clear();
  EXPECT_EQ(run_binary({"server", "--dtype", "f8"}, output), 1);
  EXPECT_NE(output.find("f8"), std::string::npos) << output;
}

}  // namespace
}  // namespace hh
