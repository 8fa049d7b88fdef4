#pragma once
// The chat's only way to the engine: the Futhark server protocol, spoken either to a Server in
// this process (the default) or to any protocol server running as a subprocess (`--server CMD`).
// Both answer the same command lines; they differ only in how values cross over: in-process
// arrays are handed over directly, a subprocess gets and gives them as files in the binary data
// format (restore / store), as any protocol client would.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "values/array.h"

namespace hh {
class ServerClient;
namespace server {
class Server;
}

namespace chat {

class EngineLink {
 public:
  virtual ~EngineLink() = default;

  // Sends one command (words are quoted as needed) and returns the lines of its reply before
  // `%%% OK`. A `%%% FAILURE` reply throws ServerFailure (server/client.h) with the message.
  virtual std::vector<std::string> command(const std::vector<std::string>& words) = 0;
  // Creates variable `name` holding `value`.
  virtual void put_array(const std::string& name, const Array& value) = 0;
  // The array variable `name` holds (a copy or a shared view; never changed by the caller).
  virtual Array get_array(const std::string& name) = 0;
  // For messages: "in-process server" or the subprocess's command line.
  virtual std::string description() const = 0;

  // --- built on command() ----------------------------------------------------------------------
  struct CallResult {
    int64_t runtime_us = 0;  // the server's `runtime:` line
  };
  CallResult call(const std::string& entry, const std::string& out,
                  const std::vector<std::string>& ins);
  void free(const std::vector<std::string>& vars);
  void project(const std::string& to, const std::string& from, const std::string& field);
  void rename(const std::string& from, const std::string& to);
  void store(const std::string& path, const std::vector<std::string>& vars);
  std::vector<int64_t> shape(const std::string& var);
  std::vector<std::string> entry_points();
  std::string report();

  void put_i64(const std::string& name, int64_t value);
  int64_t get_i64(const std::string& name);
  void put_tokens(const std::string& name, std::span<const int64_t> tokens);
  std::vector<int64_t> get_tokens(const std::string& name);
};

// Drives `server` through Server::handle_line; arrays go through put_array/get_array.
std::unique_ptr<EngineLink> make_in_process_link(server::Server& server);

// Starts `command_line` with /bin/sh and waits for its start-up `%%% OK`. Values cross over
// through files in a private temporary folder, removed when the link goes.
std::unique_ptr<EngineLink> make_subprocess_link(const std::string& command_line);

}  // namespace chat
}  // namespace hh
