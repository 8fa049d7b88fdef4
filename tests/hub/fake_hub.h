#pragma once
// A tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port, one connection at a time, each closed
// after its response) and, on top of it, an imitation of the Hugging Face Hub for the download
// tests: resolve URLs with the Hub's headers, LFS files redirected to a second "CDN" server
// (another origin, so the token must not follow), Range requests, and switchable faults (a cut
// connection, corrupt bytes, a server that ignores Range, a private repository, a renamed one).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace hh::testing {

struct LoggedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  size_t cut_after = std::string::npos;  // send only this many body bytes, then close
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const LoggedRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeHttpServer() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(listen_fd_);
  }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  std::string base_url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  std::vector<LoggedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  size_t request_count() const { return requests().size(); }

 private:
  void serve() {
    while (!stop_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stop_) return;
        continue;
      }
      handle(fd);
      ::close(fd);
    }
  }

  static void send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n <= 0) return;  // the client went away
      data += n;
      size -= static_cast<size_t>(n);
    }
  }

  void handle(int fd) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      head.append(buffer, static_cast<size_t>(n));
    }
    LoggedRequest request;
    size_t line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);
    const size_t s1 = first.find(' '), s2 = first.find(' ', s1 + 1);
    if (s1 == std::string::npos || s2 == std::string::npos) return;
    request.method = first.substr(0, s1);
    request.path = first.substr(s1 + 1, s2 - s1 - 1);
    size_t pos = line_end + 2;
    while ((line_end = head.find("\r\n", pos)) != std::string::npos && line_end > pos) {
      const std::string line = head.substr(pos, line_end - pos);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        request.headers[name] = line.substr(v);
      }
      pos = line_end + 2;
    }
    {
      std::lock_guard lock(mutex_);
      log_.push_back(request);
    }
    const FakeResponse response = handler_(request);
    std::string out = fmt::format("HTTP/1.1 {} X\r\n", response.status);
    bool has_length = false;
    for (const auto& [name, value] : response.headers) {
      out += name + ": " + value + "\r\n";
      if (name == "Content-Length") has_length = true;
    }
    if (!has_length) out += fmt::format("Content-Length: {}\r\n", response.body.size());
    out += "Connection: close\r\n\r\n";
    send_all(fd, out.data(), out.size());
    if (request.method != "HEAD") {
      send_all(fd, response.body.data(), std::min(response.cut_after, response.body.size()));
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<LoggedRequest> log_;
  std::thread thread_;
};

inline std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// Deterministic pseudo-random bytes, so LFS files are not trivially compressible or uniform.
inline std::string random_bytes(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  for (char& c : out) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return out;
}

struct FakeFile {
  std::string content;
  bool lfs = false;
  std::string served;  // what the server actually sends when not empty (corruption tests)
};

struct FakeRepo {
  std::string commit;
  std::map<std::string, FakeFile> files;
  bool private_repo = false;  // needs "Authorization: Bearer <FakeHub::token>"
};

class FakeHub {
 public:
  FakeHub()
      : cdn_([this](const LoggedRequest& r) { return serve_cdn(r); }),
        hub_([this](const LoggedRequest& r) { return serve_hub(r); }) {}

  void add_repo(const std::string& name, FakeRepo repo) {
    std::lock_guard lock(mutex_);
    repos_[name] = std::move(repo);
  }
  void rename_repo(const std::string& old_name, const std::string& new_name) {
    std::lock_guard lock(mutex_);
    renamed_[old_name] = new_name;
  }
  void set_token(const std::string& token) {
    std::lock_guard lock(mutex_);
    token_ = token;
  }
  // The next body transfer of a file (hub or CDN) stops after `bytes` bytes.
  void cut_next_transfer_at(size_t bytes) {
    std::lock_guard lock(mutex_);
    cut_at_ = bytes;
  }
  void set_ignore_range(bool ignore) {
    std::lock_guard lock(mutex_);
    ignore_range_ = ignore;
  }

  std::string endpoint() const { return hub_.base_url(); }
  const FakeHttpServer& hub() const { return hub_; }
  const FakeHttpServer& cdn() const { return cdn_; }
  size_t request_count() const { return hub_.request_count() + cdn_.request_count(); }

  static std::string git_oid(const std::string& content) {
    return sha256_hex(content).substr(0, 40);
  }

 private:
  static std::string decode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  // 200 with all bytes, or 206 from the requested offset; and the armed cut, if any.
  FakeResponse serve_bytes(const LoggedRequest& r, const std::string& data, FakeResponse response) {
    const std::string range = r.header("range");
    if (!range.empty() && !ignore_range_) {
      const size_t from = std::stoul(range.substr(range.find('=') + 1));
      if (from >= data.size()) {
        response.status = 416;
        response.headers.push_back({"Content-Range", fmt::format("bytes */{}", data.size())});
        return response;
      }
      response.status = 206;
      response.headers.push_back(
          {"Content-Range", fmt::format("bytes {}-{}/{}", from, data.size() - 1, data.size())});
      response.body = data.substr(from);
    } else {
      response.status = 200;
      response.body = data;
    }
    if (r.method == "GET" && cut_at_ != std::string::npos) {
      response.cut_after = cut_at_;
      cut_at_ = std::string::npos;
    }
    return response;
  }

  FakeResponse serve_hub(const LoggedRequest& r) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> parts;
    for (size_t start = 1; start <= r.path.size();) {
      size_t end = r.path.find('/', start);
      if (end == std::string::npos) end = r.path.size();
      parts.push_back(decode(r.path.substr(start, end - start)));
      start = end + 1;
    }
    if (parts.size() == 6 && parts[0] == "api" && parts[1] == "models" && parts[4] == "revision") {
      const auto it = repos_.find(parts[2] + "/" + parts[3]);
      if (it == repos_.end()) return {404, {{"X-Error-Code", "RepoNotFound"}}, "no repo"};
      nlohmann::json siblings = nlohmann::json::array();
      for (const auto& [name, file] : it->second.files) siblings.push_back({{"rfilename", name}});
      return {200, {}, nlohmann::json{{"sha", it->second.commit}, {"siblings", siblings}}.dump()};
    }
    if (parts.size() < 5 || parts[2] != "resolve") return {400, {}, "bad request"};
    const std::string repo_name = parts[0] + "/" + parts[1];
    std::string file = parts[4];
    for (size_t i = 5; i < parts.size(); ++i) file += "/" + parts[i];
    if (const auto renamed = renamed_.find(repo_name); renamed != renamed_.end()) {
      return {307, {{"Location", "/" + renamed->second + "/resolve/" + parts[3] + "/" + file}}, ""};
    }
    const auto it = repos_.find(repo_name);
    if (it == repos_.end()) {
      return {
          404, {{"X-Error-Code", "RepoNotFound"}, {"X-Error-Message", "Repository not found"}}, ""};
    }
    const FakeRepo& repo = it->second;
    if (repo.private_repo && r.header("authorization") != "Bearer " + token_) {
      return {401, {{"X-Error-Message", "Invalid credentials in Authorization header"}}, ""};
    }
    if (parts[3] != "main" && parts[3] != repo.commit) {
      return {404, {{"X-Error-Code", "RevisionNotFound"}}, ""};
    }
    const auto f = repo.files.find(file);
    if (f == repo.files.end()) {
      return {404,
              {{"X-Error-Code", "EntryNotFound"},
               {"X-Error-Message", "Entry not found"},
               {"X-Repo-Commit", repo.commit}},
              ""};
    }
    const FakeFile& ff = f->second;
    if (ff.lfs) {
      const std::string sha = sha256_hex(ff.content);
      return {302,
              {{"Location", cdn_.base_url() + "/lfs/" + sha},
               {"X-Repo-Commit", repo.commit},
               {"X-Linked-Etag", "\"" + sha + "\""},
               {"X-Linked-Size", std::to_string(ff.content.size())},
               {"ETag", "\"" + sha + "\""}},
              ""};
    }
    FakeResponse response;
    response.headers = {{"X-Repo-Commit", repo.commit},
                        {"ETag", "\"" + git_oid(ff.content) + "\""}};
    return serve_bytes(r, ff.served.empty() ? ff.content : ff.served, response);
  }

  FakeResponse serve_cdn(const LoggedRequest& r) {
    std::lock_guard lock(mutex_);
    if (!r.path.starts_with("/lfs/")) return {404, {}, ""};
    const std::string sha = r.path.substr(5);
    for (const auto& [name, repo] : repos_) {
      for (const auto& [path, file] : repo.files) {
        if (file.lfs && sha256_hex(file.content) == sha) {
          return serve_bytes(r, file.served.empty() ? file.content : file.served, {});
        }
      }
    }
    return {404, {}, ""};
  }

  mutable std::mutex mutex_;
  std::map<std::string, FakeRepo> repos_;
  std::map<std::string, std::string> renamed_;
  std::string token_;
  size_t cut_at_ = std::string::npos;
  bool ignore_range_ = false;
  // Servers last: they stop (joining their threads) before the state they read goes away.
  FakeHttpServer cdn_;
  FakeHttpServer hub_;
};

}  // namespace hh::testing
