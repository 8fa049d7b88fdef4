#pragma once
// Runs the hedgehog binary for the chat's end-to-end tests: to completion with piped input, or
// interactively on a pseudo-terminal (forkpty), where a test waits for text and types keys.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace hh::chat::testing {

struct ProcessResult {
  int code = -1;  // exit status; -1 when killed by a signal
  std::string out;
  std::string err;
};

// argv and envp made before fork(): the child of a threaded test process may only make
// async-signal-safe calls (open, dup2, chdir, execve) before exec.
struct ExecArgs {
  std::vector<std::string> strings_argv, strings_env;
  std::vector<char*> argv, envp;
  ExecArgs(const std::vector<std::string>& args,
           const std::vector<std::pair<std::string, std::string>>& env) {
    strings_argv.push_back(HH_BINARY);
    strings_argv.insert(strings_argv.end(), args.begin(), args.end());
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      bool replaced = false;
      for (const auto& [k, v] : env) replaced = replaced || entry.starts_with(k + "=");
      if (!replaced) strings_env.push_back(entry);
    }
    for (const auto& [k, v] : env) strings_env.push_back(k + "=" + v);
    for (auto& a : strings_argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : strings_env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

// Runs HH_BINARY ARGS with `input` on stdin and `env` added to the environment.
inline ProcessResult run_hedgehog(
    const std::vector<std::string>& args, const std::string& input,
    const std::filesystem::path& dir,
    const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const auto in_path = dir / "stdin.txt", out_path = dir / "stdout.txt",
             err_path = dir / "stderr.txt";
  std::ofstream(in_path, std::ios::binary) << input;
  ExecArgs exec_args(args, env);
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(HH_BINARY, exec_args.argv.data(), exec_args.envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ProcessResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const auto slurp = [](const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

// HH_BINARY on a pseudo-terminal: its stdin, stdout and stderr are the terminal.
class PtySession {
 public:
  PtySession(const std::vector<std::string>& args, const std::filesystem::path& cwd) {
    struct winsize size {};
    size.ws_row = 50;
    size.ws_col = 200;
    ExecArgs exec_args(args, {{"TERM", "xterm"}});
    pid_ = forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      if (chdir(cwd.c_str()) != 0) _exit(126);
      execve(HH_BINARY, exec_args.argv.data(), exec_args.envp.data());
      _exit(127);
    }
  }
  ~PtySession() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  bool started() const { return pid_ > 0 && master_ >= 0; }
  void type(const std::string& keys) {
    size_t at = 0;
    while (at < keys.size()) {
      const ssize_t n = write(master_, keys.data() + at, keys.size() - at);
      if (n <= 0) return;
      at += static_cast<size_t>(n);
    }
  }
  // Types `keys` once the line editor reads the terminal raw (canonical mode off), reading what
  // the program prints meanwhile; false if that does not happen within the timeout. Needed for
  // keys that canonical mode would take itself: a Ctrl-D typed between the prompt appearing and
  // the editor's switch to raw mode becomes an end-of-file mark the editor never sees.
  bool type_when_raw(const std::string& keys, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      termios mode{};
      if (tcgetattr(master_, &mode) == 0 && (mode.c_lflag & ICANON) == 0) {
        type(keys);
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      read_some(std::chrono::milliseconds(5));
    }
  }
  // Reads until `text` appears after the current mark (then moves the mark past it) or the
  // timeout passes (false).
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const size_t found = output_.find(text, mark_);
      if (found != std::string::npos) {
        mark_ = found + text.size();
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(left)) return false;
    }
  }
  // Waits for the program to end (reading what it prints); its exit status, or -1.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        while (read_some(std::chrono::milliseconds(50))) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      read_some(std::chrono::milliseconds(50));
    }
    return -1;
  }
  const std::string& output() const { return output_; }
  // Output after the mark.
  std::string rest() const { return output_.substr(mark_); }

 private:
  bool read_some(std::chrono::milliseconds timeout) {
    pollfd p{master_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buffer[4096];
    const ssize_t n = read(master_, buffer, sizeof buffer);
    if (n <= 0) return false;
    output_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  std::string output_;
  size_t mark_ = 0;
};

}  // namespace hh::chat::testing
