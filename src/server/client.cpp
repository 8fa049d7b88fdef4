#include "server/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <thread>

namespace hh {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kOk = "%%% OK";
constexpr std::string_view kFailure = "%%% FAILURE";
// How much of the server's standard error a ServerDied message quotes.
constexpr size_t kStderrQuote = 2000;
// A reply may be big (a profiling report of a long run), but not without bound: a server that
// streams bytes without ever finishing its reply would otherwise exhaust memory.
constexpr size_t kMaxReplyBytes = size_t{1} << 30;

// A write to a server that has died must come back as EPIPE, not kill the client.
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    sigaction(SIGPIPE, &action, nullptr);
  });
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
  }
  return "stopped";
}

std::string tail_of(const std::string& text, size_t n) {
  if (text.size() <= n) return text;
  return "..." + text.substr(text.size() - n);
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::vector<EntryParam> parse_params(const std::vector<std::string>& lines) {
  std::vector<EntryParam> params;
  for (const auto& line : lines) {
    EntryParam p;
    p.star = !line.empty() && line[0] == '*';
    p.type = p.star ? line.substr(1) : line;
    params.push_back(std::move(p));
  }
  return params;
}

}  // namespace

ServerFailure::ServerFailure(const std::string& command, std::string message)
    : Error(fmt::format("server command '{}' failed: {}", command, message)),
      server_message_(std::move(message)) {}

std::string quote_protocol_word(const std::string& word) {
  if (word.find_first_of("\"\n\r") != std::string::npos) {
    fail_usage(
        "cannot send \"{}\" to a protocol server: words may not contain '\"' or line "
        "breaks",
        word);
  }
  if (word.empty() || word.find_first_of(" \t") != std::string::npos) return '"' + word + '"';
  return word;
}

ServerClient ServerClient::spawn(const std::vector<std::string>& argv,
                                 const ServerOptions& options) {
  if (argv.empty()) fail_usage("no server command given");
  return start(argv, join_words(argv), options);
}

ServerClient ServerClient::spawn_shell(const std::string& command_line,
                                       const ServerOptions& options) {
  if (command_line.find_first_not_of(" \t") == std::string::npos) {
    fail_usage("the server command line is empty");
  }
  // `exec` makes the shell become the server, so killing the process kills the server.
  return start({"/bin/sh", "-c", "exec " + command_line}, command_line, options);
}

ServerClient ServerClient::start(const std::vector<std::string>& argv, std::string description,
                                 const ServerOptions& options) {
  ignore_sigpipe();
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  int exec_pipe[2] = {-1, -1};  // carries errno from a failed exec
  const auto close_all = [&] {
    for (int* p : {in_pipe, out_pipe, err_pipe, exec_pipe}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      (!options.inherit_stderr && pipe2(err_pipe, O_CLOEXEC) != 0) ||
      pipe2(exec_pipe, O_CLOEXEC) != 0) {
    const int saved = errno;
    close_all();
    errno = saved;
    fail_errno("cannot create pipes for the server");
  }
  // Everything the child needs is prepared before fork: the child only calls async-signal-safe
  // functions.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    const int saved = errno;
    close_all();
    errno = saved;
    fail_errno("cannot fork the server process");
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    if (err_pipe[1] >= 0) dup2(err_pipe[1], STDERR_FILENO);
    signal(SIGPIPE, SIG_DFL);
    execvp(cargv[0], cargv.data());
    const int err = errno;
    ssize_t ignored = write(exec_pipe[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  setpgid(pid, pid);  // also in the parent, so a kill right after fork reaches the group
  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  close_fd(exec_pipe[1]);

  ServerClient client;
  client.pid_ = pid;
  client.to_server_ = in_pipe[1];
  client.from_server_ = out_pipe[0];
  client.err_server_ = err_pipe[0];
  client.description_ = std::move(description);
  client.stderr_limit_ = options.stderr_limit;

  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close_fd(exec_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    client.reap(std::chrono::milliseconds(1000));
    throw SystemError(fmt::format("cannot start server '{}': {}", client.description_,
                                  std::strerror(exec_errno)));
  }
  client.wait_ready(options.startup_timeout);
  return client;
}

ServerClient::ServerClient(ServerClient&& other) noexcept { *this = std::move(other); }

ServerClient& ServerClient::operator=(ServerClient&& other) noexcept {
  if (this != &other) {
    std::swap(pid_, other.pid_);
    std::swap(to_server_, other.to_server_);
    std::swap(from_server_, other.from_server_);
    std::swap(err_server_, other.err_server_);
    std::swap(broken_, other.broken_);
    std::swap(deadline_, other.deadline_);
    std::swap(description_, other.description_);
    std::swap(out_buffer_, other.out_buffer_);
    std::swap(out_scan_, other.out_scan_);
    std::swap(err_buffer_, other.err_buffer_);
    std::swap(stderr_limit_, other.stderr_limit_);
  }
  return *this;
}

ServerClient::~ServerClient() {
  if (pid_ <= 0) {
    close_fds();
    return;
  }
  close_fd(to_server_);  // end of input: a well-behaved server exits now
  reap(std::chrono::milliseconds(broken_ ? 0 : 2000));
  close_fds();
}

void ServerClient::close_fds() {
  close_fd(to_server_);
  close_fd(from_server_);
  close_fd(err_server_);
}

void ServerClient::reap(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  const auto until = Clock::now() + grace;
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    if (Clock::now() >= until) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void ServerClient::kill() {
  broken_ = true;
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    drain_stderr();
    reap(std::chrono::milliseconds(0));
  }
  close_fds();
}

std::string ServerClient::take_stderr() {
  drain_stderr();
  std::string out;
  out.swap(err_buffer_);
  return out;
}

void ServerClient::drain_stderr() {
  if (err_server_ < 0) return;
  char buf[16384];
  for (;;) {
    pollfd p{err_server_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return;
    const ssize_t n = read(err_server_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close_fd(err_server_);
      return;
    }
    err_buffer_.append(buf, static_cast<size_t>(n));
    if (err_buffer_.size() > stderr_limit_) {
      err_buffer_.erase(0, err_buffer_.size() - stderr_limit_);
    }
  }
}

void ServerClient::died(const std::string& while_doing) {
  broken_ = true;
  drain_stderr();
  // The process may have closed its output a moment before exiting.
  std::string how = "closed its output";
  if (pid_ > 0) {
    const auto until = Clock::now() + std::chrono::milliseconds(500);
    for (;;) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        how = describe_status(status);
        pid_ = -1;
        break;
      }
      if (r < 0 || Clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (pid_ > 0) reap(std::chrono::milliseconds(0));
  }
  drain_stderr();
  close_fds();
  std::string message = fmt::format("server '{}' {} {}", description_, how, while_doing);
  if (!err_buffer_.empty())
    message += "; its standard error:\n" + tail_of(err_buffer_, kStderrQuote);
  throw ServerDied(message);
}

void ServerClient::write_all(const std::string& bytes, const std::string& command) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(to_server_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) died(fmt::format("before command '{}' could be sent", command));
    if (n < 0) fail_errno(fmt::format("cannot write to server '{}'", description_));
    done += static_cast<size_t>(n);
  }
}

std::vector<std::string> ServerClient::read_reply(const std::string& command,
                                                  std::optional<Clock::time_point> deadline,
                                                  std::optional<std::string>* failure) {
  std::vector<std::string> lines;
  bool in_failure = false;
  std::string failure_text;
  size_t line_start = 0;
  size_t reply_bytes = 0;
  for (;;) {
    // Split what has arrived into lines; out_scan_ avoids searching the same bytes twice when a
    // long line (a report) arrives in pieces.
    for (;;) {
      const size_t nl = out_buffer_.find('\n', std::max(line_start, out_scan_));
      if (nl == std::string::npos) {
        out_scan_ = out_buffer_.size();
        break;
      }
      std::string_view line(out_buffer_.data() + line_start, nl - line_start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      line_start = nl + 1;
      out_scan_ = line_start;
      if (line == kOk) {
        out_buffer_.erase(0, line_start);
        out_scan_ = 0;
        if (in_failure && failure != nullptr) *failure = failure_text;
        return lines;
      }
      if (line == kFailure) {
        in_failure = true;
      } else if (in_failure) {
        if (!failure_text.empty()) failure_text += '\n';
        failure_text += line;
      } else {
        lines.emplace_back(line);
      }
    }
    out_buffer_.erase(0, line_start);
    out_scan_ -= std::min(out_scan_, line_start);
    line_start = 0;

    int wait_ms = -1;
    if (deadline) {
      const auto left = *deadline - Clock::now();
      if (left <= Clock::duration::zero()) {
        broken_ = true;
        drain_stderr();
        throw ServerTimeout(
            fmt::format("server '{}' did not answer '{}' in time", description_, command));
      }
      wait_ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    }
    pollfd fds[2] = {{from_server_, POLLIN, 0}, {err_server_, POLLIN, 0}};
    const int nfds = err_server_ >= 0 ? 2 : 1;
    const int r = poll(fds, static_cast<nfds_t>(nfds), wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail_errno(fmt::format("cannot wait for server '{}'", description_));
    if (nfds == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) drain_stderr();
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      const ssize_t n = read(from_server_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno(fmt::format("cannot read from server '{}'", description_));
      if (n == 0) died(fmt::format("while answering '{}'", command));
      out_buffer_.append(buf, static_cast<size_t>(n));
      reply_bytes += static_cast<size_t>(n);
      if (reply_bytes > kMaxReplyBytes) {
        broken_ = true;
        fail_format("server '{}' sent more than {} bytes in reply to '{}' without finishing it",
                    description_, kMaxReplyBytes, command);
      }
    }
  }
}

void ServerClient::wait_ready(std::chrono::milliseconds timeout) {
  std::optional<std::string> failure;
  try {
    read_reply("<start-up>", Clock::now() + timeout, &failure);
  } catch (const ServerTimeout&) {
    kill();
    throw ServerTimeout(fmt::format("server '{}' did not become ready within {} s", description_,
                                    timeout.count() / 1000.0));
  }
}

std::vector<std::string> ServerClient::command(const std::vector<std::string>& words,
                                               std::optional<std::chrono::microseconds> timeout) {
  if (words.empty()) fail_usage("empty server command");
  const std::string shown = join_words(words);
  if (!usable()) {
    throw ServerDied(
        fmt::format("server '{}' is no longer running (command '{}')", description_, shown));
  }
  std::string line;
  for (const auto& w : words) {
    if (!line.empty()) line += ' ';
    line += quote_protocol_word(w);
  }
  line += '\n';
  std::optional<Clock::time_point> deadline = deadline_;
  if (timeout) {
    const auto own = Clock::now() + *timeout;
    deadline = deadline ? std::min(*deadline, own) : own;
  }
  // Past the deadline nothing is sent, so the server stays in a known state.
  if (deadline && Clock::now() >= *deadline) {
    throw ServerTimeout(fmt::format("no time left for '{}' on server '{}'", shown, description_));
  }
  write_all(line, shown);
  std::optional<std::string> failure;
  auto lines = read_reply(shown, deadline, &failure);
  if (failure) throw ServerFailure(shown, *failure);
  return lines;
}

std::vector<std::string> ServerClient::entry_points() { return command({"entry_points"}); }
std::vector<std::string> ServerClient::types() { return command({"types"}); }

std::vector<EntryParam> ServerClient::inputs(const std::string& entry) {
  return parse_params(command({"inputs", entry}));
}

std::vector<EntryParam> ServerClient::outputs(const std::string& entry) {
  return parse_params(command({"outputs", entry}));
}

ServerClient::CallResult ServerClient::call(const std::string& entry,
                                            const std::vector<std::string>& outs,
                                            const std::vector<std::string>& ins,
                                            std::optional<std::chrono::microseconds> timeout) {
  std::vector<std::string> words{"call", entry};
  words.insert(words.end(), outs.begin(), outs.end());
  words.insert(words.end(), ins.begin(), ins.end());
  CallResult result;
  bool have_runtime = false;
  for (auto& line : command(words, timeout)) {
    constexpr std::string_view kRuntime = "runtime: ";
    if (!have_runtime && line.starts_with(kRuntime)) {
      const char* first = line.data() + kRuntime.size();
      const char* last = line.data() + line.size();
      const auto [ptr, ec] = std::from_chars(first, last, result.runtime_us);
      if (ec == std::errc() && ptr == last && result.runtime_us >= 0) {
        have_runtime = true;
        continue;
      }
    }
    result.lines.push_back(std::move(line));
  }
  if (!have_runtime) {
    fail_format("server '{}' printed no valid 'runtime: N' line for 'call {}'", description_,
                entry);
  }
  return result;
}

void ServerClient::restore(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& vars_and_types) {
  std::vector<std::string> words{"restore", path};
  for (const auto& [var, type] : vars_and_types) {
    words.push_back(var);
    words.push_back(type);
  }
  command(words);
}

void ServerClient::store(const std::string& path, const std::vector<std::string>& vars) {
  std::vector<std::string> words{"store", path};
  words.insert(words.end(), vars.begin(), vars.end());
  command(words);
}

void ServerClient::free(const std::vector<std::string>& vars) {
  if (vars.empty()) return;
  std::vector<std::string> words{"free"};
  words.insert(words.end(), vars.begin(), vars.end());
  command(words);
}

void ServerClient::rename(const std::string& from, const std::string& to) {
  command({"rename", from, to});
}

std::string ServerClient::kind(const std::string& type) {
  const auto lines = command({"kind", type});
  if (lines.size() != 1) {
    fail_format("server '{}' answered 'kind {}' with {} lines, expected one", description_, type,
                lines.size());
  }
  return lines[0];
}

std::vector<FieldInfo> ServerClient::fields(const std::string& type) {
  std::vector<FieldInfo> out;
  for (const auto& line : command({"fields", type})) {
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0) {
      fail_format("server '{}' answered 'fields {}' with a malformed line \"{}\"", description_,
                  type, line);
    }
    out.push_back({line.substr(0, space), line.substr(space + 1)});
  }
  return out;
}

void ServerClient::project(const std::string& to, const std::string& from,
                           const std::string& field) {
  command({"project", to, from, field});
}

void ServerClient::pause_profiling() { command({"pause_profiling"}); }
void ServerClient::unpause_profiling() { command({"unpause_profiling"}); }

std::string ServerClient::report() {
  std::string out;
  for (const auto& line : command({"report"})) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

void ServerClient::clear() { command({"clear"}); }

}  // namespace hh
