#pragma once
// The Futhark server protocol over an hh::Backend. One command per line; words are runs of
// non-space characters or double-quoted strings; every command's response ends with "%%% OK",
// and a failing command prints "%%% FAILURE" and its message first. Failures never end the
// server, never leave a half-made variable behind and never change an existing one (a `call`
// whose engine run fails marks its consumed inputs consumed, as the protocol allows).
//
// Usable in-process (the chat drives it without a subprocess) through handle_line(), or over
// streams with run() (what `hedgehog server` does with stdin/stdout).
#include <iosfwd>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/backend.h"
#include "engine/profiler.h"
#include "server/value.h"

namespace hh::server {

struct EntryPoint;

inline constexpr std::string_view kOkLine = "%%% OK\n";
inline constexpr std::string_view kFailureLine = "%%% FAILURE\n";

// Splits a command line into words. FormatError for an unterminated quote or a quote that
// touches the next word.
std::vector<std::string> split_words(std::string_view line);

struct ServerOptions {
  // The profiler the backend records into (EngineOptions::profiler); `report`, `clear` and
  // (un)pause_profiling act on it. The server keeps its own when none is given.
  Profiler* profiler = nullptr;
};

class Server {
 public:
  explicit Server(Backend& backend, ServerOptions options = {});
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs one command line (a trailing newline is allowed) and appends the whole response,
  // through the closing "%%% OK" line, to `out`. Returns false when the command failed.
  bool handle_line(std::string_view line, std::string& out);
  // Prints the start-up "%%% OK", then serves one line at a time until `in` ends, flushing after
  // every response.
  void run(std::istream& in, std::ostream& out);

  // In-process access for clients that would otherwise need a file round trip.
  bool has_variable(std::string_view name) const;
  size_t variable_count() const { return variables_.size(); }
  // The array held by `name` (UsageError when absent, consumed or not an array).
  Array get_array(std::string_view name) const;
  // Creates `name` holding `value` (UsageError when the name is taken).
  void put_array(const std::string& name, Array value);

  Backend& backend() { return backend_; }
  const TypeTable& types() const { return types_; }
  Profiler& profiler() { return *profiler_; }

 private:
  struct Variable {
    Value value;
    bool consumed = false;  // only `free` may touch it now
  };
  using Args = std::span<const std::string>;
  struct Command {
    std::string_view name;
    int min_args;
    int max_args;  // -1: no limit
    std::string_view usage;
    void (Server::*run)(Args args, std::string& out);
  };
  static const std::vector<Command>& commands();

  const Variable& get_live(std::string_view name) const;
  void check_new_name(std::string_view name) const;
  std::string_view known_type(std::string_view type) const;
  ArrayType array_type_of(std::string_view type) const;
  const EntryPoint& get_entry(std::string_view name) const;
  void make_exclusive(Value& cache);

  void cmd_types(Args args, std::string& out);
  void cmd_entry_points(Args args, std::string& out);
  void cmd_call(Args args, std::string& out);
  void cmd_restore(Args args, std::string& out);
  void cmd_store(Args args, std::string& out);
  void cmd_free(Args args, std::string& out);
  void cmd_rename(Args args, std::string& out);
  void cmd_inputs(Args args, std::string& out);
  void cmd_output(Args args, std::string& out);
  void cmd_clear(Args args, std::string& out);
  void cmd_kind(Args args, std::string& out);
  void cmd_type(Args args, std::string& out);
  void cmd_pause_profiling(Args args, std::string& out);
  void cmd_unpause_profiling(Args args, std::string& out);
  void cmd_report(Args args, std::string& out);
  void cmd_set_tuning_param(Args args, std::string& out);
  void cmd_tuning_params(Args args, std::string& out);
  void cmd_tuning_param_class(Args args, std::string& out);
  void cmd_attributes(Args args, std::string& out);
  void cmd_rank(Args args, std::string& out);
  void cmd_elemtype(Args args, std::string& out);
  void cmd_new_array(Args args, std::string& out);
  void cmd_set(Args args, std::string& out);
  void cmd_shape(Args args, std::string& out);
  void cmd_index(Args args, std::string& out);
  void cmd_fields(Args args, std::string& out);
  void cmd_new(Args args, std::string& out);
  void cmd_project(Args args, std::string& out);

  Backend& backend_;
  TypeTable types_;
  Profiler own_profiler_;
  Profiler* profiler_;
  std::map<std::string, Variable, std::less<>> variables_;
};

}  // namespace hh::server
