#include "chat/engine_link.h"

#include <stdlib.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>

#include "server/client.h"
#include "server/server.h"
#include "values/binary_format.h"
#include "values/value_reader.h"

namespace hh::chat {

namespace {

std::string join_command(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) {
    if (!line.empty()) line += ' ';
    line += quote_protocol_word(w);
  }
  return line;
}

class InProcessLink final : public EngineLink {
 public:
  explicit InProcessLink(server::Server& server) : server_(server) {}

  std::vector<std::string> command(const std::vector<std::string>& words) override {
    const std::string line = join_command(words);
    reply_.clear();
    const bool ok = server_.handle_line(line, reply_);
    std::string_view body(reply_);
    body.remove_suffix(server::kOkLine.size());
    if (!ok) {
      body.remove_prefix(server::kFailureLine.size());
      while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
      throw ServerFailure(line, std::string(body));
    }
    std::vector<std::string> lines;
    while (!body.empty()) {
      const size_t end = body.find('\n');
      lines.emplace_back(body.substr(0, end));
      if (end == std::string_view::npos) break;
      body.remove_prefix(end + 1);
    }
    return lines;
  }
  void put_array(const std::string& name, const Array& value) override {
    server_.put_array(name, value);
  }
  Array get_array(const std::string& name) override { return server_.get_array(name); }
  std::string description() const override { return "in-process server"; }

 private:
  server::Server& server_;
  std::string reply_;  // reused: most replies are one short line
};

class SubprocessLink final : public EngineLink {
 public:
  explicit SubprocessLink(const std::string& command_line)
      : client_(std::make_unique<ServerClient>(ServerClient::spawn_shell(command_line))) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hh_chat_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) fail_errno("cannot create a temporary folder");
    dir_ = tmpl;
  }
  ~SubprocessLink() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::vector<std::string> command(const std::vector<std::string>& words) override {
    return client_->command(words);
  }
  void put_array(const std::string& name, const Array& value) override {
    const std::string path = transfer_file();
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      const std::string bytes = to_binary(value);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out) fail_errno("cannot write " + path);
    }
    client_->restore(path, {{name, value.type_name()}});
  }
  Array get_array(const std::string& name) override {
    const std::string path = transfer_file();
    client_->store(path, {name});
    // A copy: the reader maps the file, which the next transfer overwrites.
    return ValueReader::open(path).read().clone();
  }
  std::string description() const override { return client_->description(); }

 private:
  std::string transfer_file() const { return (dir_ / "value.bin").string(); }

  std::unique_ptr<ServerClient> client_;
  std::filesystem::path dir_;
};

}  // namespace

EngineLink::CallResult EngineLink::call(const std::string& entry, const std::string& out,
                                        const std::vector<std::string>& ins) {
  std::vector<std::string> words = {"call", entry, out};
  words.insert(words.end(), ins.begin(), ins.end());
  CallResult result;
  for (const auto& line : command(words)) {
    constexpr std::string_view kRuntime = "runtime: ";
    if (!line.starts_with(kRuntime)) continue;
    const char* first = line.data() + kRuntime.size();
    std::from_chars(first, line.data() + line.size(), result.runtime_us);
  }
  return result;
}

void EngineLink::free(const std::vector<std::string>& vars) {
  std::vector<std::string> words = {"free"};
  words.insert(words.end(), vars.begin(), vars.end());
  command(words);
}

void EngineLink::project(const std::string& to, const std::string& from, const std::string& field) {
  command({"project", to, from, field});
}

void EngineLink::rename(const std::string& from, const std::string& to) {
  command({"rename", from, to});
}

void EngineLink::store(const std::string& path, const std::vector<std::string>& vars) {
  std::vector<std::string> words = {"store", path};
  words.insert(words.end(), vars.begin(), vars.end());
  command(words);
}

std::vector<int64_t> EngineLink::shape(const std::string& var) {
  std::vector<int64_t> dims;
  for (const auto& line : command({"shape", var})) {
    int64_t d = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), d);
    if (ec != std::errc() || ptr != line.data() + line.size()) {
      fail_format("{}: `shape {}` printed '{}', not a size", description(), var, line);
    }
    dims.push_back(d);
  }
  return dims;
}

std::vector<std::string> EngineLink::entry_points() { return command({"entry_points"}); }

std::string EngineLink::report() {
  std::string text;
  for (const auto& line : command({"report"})) text += line + "\n";
  return text;
}

void EngineLink::put_i64(const std::string& name, int64_t value) {
  put_array(name, Array::scalar<int64_t>(ElemType::I64, value));
}

int64_t EngineLink::get_i64(const std::string& name) {
  const Array a = get_array(name);
  if (a.type() != ElemType::I64 || a.rank() != 0) {
    fail_format("{}: variable {} holds {}, expected i64", description(), name, a.type_name());
  }
  return a.scalar_value<int64_t>();
}

void EngineLink::put_tokens(const std::string& name, std::span<const int64_t> tokens) {
  put_array(name, Array::from_i64(tokens));
}

std::vector<int64_t> EngineLink::get_tokens(const std::string& name) {
  const Array a = get_array(name);
  if (a.type() != ElemType::I64 || a.rank() != 1) {
    fail_format("{}: variable {} holds {}, expected []i64", description(), name, a.type_name());
  }
  const int64_t* data = a.data<int64_t>();
  return std::vector<int64_t>(data, data + a.count());
}

std::unique_ptr<EngineLink> make_in_process_link(server::Server& server) {
  return std::make_unique<InProcessLink>(server);
}

std::unique_ptr<EngineLink> make_subprocess_link(const std::string& command_line) {
  return std::make_unique<SubprocessLink>(command_line);
}

}  // namespace hh::chat
