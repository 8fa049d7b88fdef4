#pragma once
// A client for any program that speaks the Futhark server protocol on stdin/stdout: hedgehog's
// own `server`, a compiled Futhark server executable, or a test double. The server runs as a
// child process in its own process group; commands are single lines of words, and each reply
// is read up to `%%% OK`. A `%%% FAILURE` reply becomes a ServerFailure, a server that exits
// or closes its output a ServerDied, and a reply that does not arrive in time a ServerTimeout
// (after which the client is unusable: the server is in an unknown state and should be killed).
//
// Nothing here knows what the entry points mean; bench and chat build on these primitives.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/error.h"

namespace hh {

// The server answered `%%% FAILURE`: the command failed but the server lives on.
class ServerFailure : public Error {
 public:
  ServerFailure(const std::string& command, std::string message);
  // The server's own message (the lines between `%%% FAILURE` and `%%% OK`).
  const std::string& server_message() const { return server_message_; }

 private:
  std::string server_message_;
};

// The server process exited, was killed, or closed its standard output.
class ServerDied : public Error {
 public:
  using Error::Error;
};

// No complete reply arrived before the deadline.
class ServerTimeout : public Error {
 public:
  using Error::Error;
};

// One line of `inputs ENTRY` / `outputs ENTRY`: a type name, `*`-prefixed when the entry point
// consumes the input (or, for outputs, when the output is unique).
struct EntryParam {
  std::string type;
  bool star = false;
};

// One line of `fields TYPE`.
struct FieldInfo {
  std::string name;
  std::string type;
};

struct ServerOptions {
  // Longest wait for the start-up `%%% OK` (loading a big program may take a while).
  std::chrono::milliseconds startup_timeout{std::chrono::minutes(5)};
  // When set, the server's standard error is inherited instead of collected (for debugging).
  bool inherit_stderr = false;
  // Bytes of standard error kept (the most recent ones); older output is dropped.
  size_t stderr_limit = 1 << 20;
};

class ServerClient {
 public:
  // Starts `argv` (argv[0] looked up in PATH) and waits for the start-up `%%% OK`. Throws
  // SystemError when the program cannot be started, ServerDied when it exits first, and
  // ServerTimeout when it does not become ready in time.
  static ServerClient spawn(const std::vector<std::string>& argv,
                            const ServerOptions& options = {});
  // Starts a shell command line (`/bin/sh -c 'exec CMD'`), so quoting and variables work as in a
  // terminal.
  static ServerClient spawn_shell(const std::string& command_line,
                                  const ServerOptions& options = {});

  ServerClient(ServerClient&& other) noexcept;
  ServerClient& operator=(ServerClient&& other) noexcept;
  ServerClient(const ServerClient&) = delete;
  ServerClient& operator=(const ServerClient&) = delete;
  // Closes the server's input (a protocol server exits on end of input), waits briefly, then
  // kills the process group.
  ~ServerClient();

  // Sends one command and returns the lines of output before `%%% OK`. `timeout` bounds the
  // wait for the reply (none: wait for ever).
  std::vector<std::string> command(const std::vector<std::string>& words,
                                   std::optional<std::chrono::microseconds> timeout = {});

  // Every later command must complete by `deadline` (none: no limit besides each command's own
  // timeout); a command that would pass it throws ServerTimeout. For budgets that span many
  // commands, such as a benchmark's --timeout.
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
    deadline_ = deadline;
  }

  // --- the protocol's commands ---------------------------------------------------------------
  std::vector<std::string> entry_points();
  std::vector<std::string> types();
  std::vector<EntryParam> inputs(const std::string& entry);
  std::vector<EntryParam> outputs(const std::string& entry);
  struct CallResult {
    int64_t runtime_us = 0;          // the server's `runtime:` line
    std::vector<std::string> lines;  // every other line it printed
  };
  CallResult call(const std::string& entry, const std::vector<std::string>& outs,
                  const std::vector<std::string>& ins,
                  std::optional<std::chrono::microseconds> timeout = {});
  // `restore FILE v0 t0 v1 t1 ...`.
  void restore(const std::string& path,
               const std::vector<std::pair<std::string, std::string>>& vars_and_types);
  void store(const std::string& path, const std::vector<std::string>& vars);
  void free(const std::vector<std::string>& vars);
  void rename(const std::string& from, const std::string& to);
  std::string kind(const std::string& type);
  std::vector<FieldInfo> fields(const std::string& type);
  void project(const std::string& to, const std::string& from, const std::string& field);
  void pause_profiling();
  void unpause_profiling();
  std::string report();
  void clear();

  // --- the process ----------------------------------------------------------------------------
  pid_t pid() const { return pid_; }
  // False once the server has died, timed out or been killed.
  bool usable() const { return pid_ > 0 && !broken_; }
  // What the server wrote on standard error since the last call (and forgets it).
  std::string take_stderr();
  // Kills the whole process group at once and reaps it.
  void kill();
  // The command line, for messages.
  const std::string& description() const { return description_; }

 private:
  ServerClient() = default;
  static ServerClient start(const std::vector<std::string>& argv, std::string description,
                            const ServerOptions& options);
  void wait_ready(std::chrono::milliseconds timeout);
  // Reads until `%%% OK`; returns the output lines, or the failure message via `failure`.
  std::vector<std::string> read_reply(const std::string& command,
                                      std::optional<std::chrono::steady_clock::time_point> deadline,
                                      std::optional<std::string>* failure);
  void write_all(const std::string& bytes, const std::string& command);
  void drain_stderr();
  [[noreturn]] void died(const std::string& while_doing);
  void close_fds();
  void reap(std::chrono::milliseconds grace);

  pid_t pid_ = -1;
  int to_server_ = -1;    // the server's stdin
  int from_server_ = -1;  // the server's stdout
  int err_server_ = -1;   // the server's stderr, when collected
  bool broken_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::string description_;
  std::string out_buffer_;  // stdout bytes read but not yet split into lines
  size_t out_scan_ = 0;     // how far out_buffer_ has been searched for a newline
  std::string err_buffer_;
  size_t stderr_limit_ = 1 << 20;
};

// Quotes a word for a protocol line when it needs it (spaces or empty); throws UsageError for
// words the protocol cannot carry (a double quote or a line break).
std::string quote_protocol_word(const std::string& word);

}  // namespace hh
