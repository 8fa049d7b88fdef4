#include "hub/download.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "hub/http.h"
#include "hub/hub_cache.h"

namespace fs = std::filesystem;

namespace hh {
namespace {

using hub::http_perform;
using hub::HttpRequest;
using hub::HttpResponse;
using hub::url_encode;
using hub::url_origin;

constexpr int kMaxRedirects = 10;
constexpr int kMaxAttempts = 5;  // transfers cut midway are resumed this often in one call
constexpr size_t kMaxApiBody = 16u << 20;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

bool env_true(const char* name) {
  std::string v = env(name);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

std::string header(const HttpResponse& r, const std::string& name) {
  const auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

// ETags arrive quoted and sometimes weak (W/"..."); the cache names blobs by the bare value.
std::string bare_etag(std::string v) {
  v = trim(v);
  if (v.starts_with("W/")) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

uint64_t parse_size(const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() ? value : 0;
}

void check_endpoint(const HubOptions& options) {
  if (!options.endpoint.starts_with("http://") && !options.endpoint.starts_with("https://")) {
    fail_usage("HF_ENDPOINT '{}' is not an http:// or https:// URL", options.endpoint);
  }
  if (options.cache_dir.empty()) {
    fail_usage("no Hub cache folder: set HF_HOME or HF_HUB_CACHE (HOME is not set either)");
  }
}

// The token goes only to the Hub itself: a redirect to a CDN or any other server never sees it.
std::vector<std::string> auth_headers(const std::string& url, const HubOptions& options) {
  std::vector<std::string> headers;
  if (!options.token.empty() && url_origin(url) == url_origin(options.endpoint)) {
    headers.push_back("Authorization: Bearer " + options.token);
  }
  return headers;
}

std::string what_file(const std::string& repo, const std::string& file, const HubOptions& options) {
  std::string s = repo + "/" + file;
  if (options.revision != "main") s += " (revision " + options.revision + ")";
  return s;
}

[[noreturn]] void fail_unreachable(const std::string& what, const std::string& url,
                                   const HttpResponse& r) {
  throw HubOfflineError(fmt::format(
      "cannot download {}: {} ({}); check the network and HF_ENDPOINT, or set HF_HUB_OFFLINE=1 "
      "to use only files already in the Hub cache, or give a local model file or folder with -m",
      what, url, r.curl_error));
}

[[noreturn]] void fail_status(const std::string& what, const std::string& url,
                              const HttpResponse& r, const HubOptions& options) {
  const std::string server_says = header(r, "x-error-message");
  const std::string detail = server_says.empty() ? "" : " (the Hub says: " + server_says + ")";
  if (r.status == 404) {
    throw HubNotFoundError(fmt::format("repository or file not found: {}{}", what, detail));
  }
  if (r.status == 401 || r.status == 403) {
    if (options.token.empty()) {
      throw UsageError(fmt::format(
          "access to {} refused (HTTP {}){}: the repository may be private or gated, or not "
          "exist; set HF_TOKEN to an access token that can read it "
          "(https://huggingface.co/settings/tokens)",
          what, r.status, detail));
    }
    throw UsageError(fmt::format(
        "access to {} refused (HTTP {}){}: the token in HF_TOKEN cannot read it (a gated "
        "repository needs its terms accepted on the Hub), or the repository does not exist",
        what, r.status, detail));
  }
  throw Error(fmt::format("HTTP {} from {} while downloading {}{}", r.status, url, what, detail));
}

struct FileMeta {
  std::string commit;
  std::string etag;          // blob name
  std::string sha256;        // LFS files only: what the content must hash to
  uint64_t size = 0;         // 0: unknown
  std::string download_url;  // where the bytes are (the Hub itself, or a CDN)
};

// HEAD on the resolve URL. Relative redirects (a renamed repository, a cache path of the Hub)
// are followed; a redirect to another server (the LFS CDN) is where the bytes are fetched, and
// the Hub's own headers on that redirect say which commit and blob they are.
FileMeta fetch_metadata(const std::string& repo, const std::string& file, const HubOptions& options,
                        const HubCache& cache) {
  const std::string what = what_file(repo, file, options);
  std::string url = options.endpoint + "/" + repo + "/resolve/" +
                    url_encode(options.revision, false) + "/" + url_encode(file, true);
  std::string commit, linked_etag, linked_size;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    HttpRequest request;
    request.method = "HEAD";
    request.url = url;
    request.headers = auth_headers(url, options);
    request.headers.push_back("Accept-Encoding: identity");
    request.connect_timeout_s = options.connect_timeout_s;
    request.stall_timeout_s = options.stall_timeout_s;
    const HttpResponse r = http_perform(request);
    if (r.curl_code != 0) fail_unreachable(what, url, r);
    if (!header(r, "x-repo-commit").empty()) commit = header(r, "x-repo-commit");
    if (!header(r, "x-linked-etag").empty()) linked_etag = header(r, "x-linked-etag");
    if (!header(r, "x-linked-size").empty()) linked_size = header(r, "x-linked-size");
    FileMeta meta;
    if (r.status >= 300 && r.status < 400) {
      const std::string location = header(r, "location");
      if (r.redirect_url.empty()) {
        fail_format("HTTP {} from {} without a usable Location header", r.status, url);
      }
      if (location.starts_with("/") && !location.starts_with("//")) {
        url = r.redirect_url;
        continue;
      }
      meta.download_url = r.redirect_url;
    } else if (r.status >= 200 && r.status < 300) {
      meta.download_url = url;
    } else {
      if (r.status == 404 && header(r, "x-error-code") == "EntryNotFound" &&
          is_commit_hash(commit)) {
        cache.mark_missing(commit, file);  // so that a later offline run knows, too
      }
      fail_status(what, url, r, options);
    }
    if (!is_commit_hash(commit)) {
      fail_format(
          "{} sent no valid X-Repo-Commit header for {} (is HF_ENDPOINT '{}' a Hugging "
          "Face Hub?)",
          url, what, options.endpoint);
    }
    meta.commit = commit;
    if (!linked_etag.empty()) {
      meta.etag = bare_etag(linked_etag);
      if (is_sha256_hex(meta.etag)) meta.sha256 = meta.etag;
      meta.size = parse_size(linked_size);
    } else {
      meta.etag = bare_etag(header(r, "etag"));
      if (r.status < 300) meta.size = parse_size(header(r, "content-length"));
    }
    if (meta.etag.empty()) fail_format("{} sent no ETag for {}", url, what);
    return meta;
  }
  fail("more than {} redirects from {} for {}", kMaxRedirects, options.endpoint, what);
}

struct Sha256 {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  Sha256() { reset(); }
  void reset() {
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
      fail("OpenSSL could not start a SHA-256 digest");
    }
  }
  void update(const void* data, size_t size) {
    if (EVP_DigestUpdate(ctx.get(), data, size) != 1) fail("OpenSSL SHA-256 update failed");
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) fail("OpenSSL SHA-256 failed");
    std::string out;
    for (unsigned int i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
  }
};

// Hashes the first `size` bytes of a partial download, so that the resumed transfer continues
// the same digest.
void hash_prefix(const std::string& path, uint64_t size, Sha256& hash) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno(fmt::format("cannot read {}", path));
  std::vector<char> buffer(1 << 20);
  while (size > 0) {
    const auto want = static_cast<std::streamsize>(std::min<uint64_t>(size, buffer.size()));
    in.read(buffer.data(), want);
    if (in.gcount() != want) fail("cannot read {}: it shrank while being read", path);
    hash.update(buffer.data(), static_cast<size_t>(want));
    size -= static_cast<uint64_t>(want);
  }
}

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total, bool enabled)
      : label_(std::move(label)), total_(total), enabled_(enabled && ::isatty(2) == 1) {}
  ~ProgressBar() {
    if (drawn_) std::fputc('\n', stderr);
  }
  void update(uint64_t done, uint64_t fresh_bytes, bool force) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(fresh_bytes) / seconds : 0.0;
    std::fprintf(stderr, "\r%s\033[K", format_progress(label_, done, total_, rate).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_;
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Downloads meta.download_url into BLOB.incomplete (resuming what is there), checks it and
// renames it to BLOB. On a write error the partial file stays for the next run.
void download_blob(const FileMeta& meta, const std::string& blob, const std::string& what,
                   const std::string& label, const HubOptions& options) {
  const std::string partial = blob + ".incomplete";
  Fd out;
  out.fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out.fd < 0) fail_errno(fmt::format("cannot open {}", partial));
  const off_t end = ::lseek(out.fd, 0, SEEK_END);
  uint64_t offset = end > 0 ? static_cast<uint64_t>(end) : 0;
  if (meta.size != 0 && offset > meta.size) {
    if (::ftruncate(out.fd, 0) != 0) fail_errno(fmt::format("cannot truncate {}", partial));
    offset = 0;  // longer than the file: not a prefix of it
  }
  Sha256 hash;
  if (offset > 0 && !meta.sha256.empty()) hash_prefix(partial, offset, hash);

  ProgressBar progress(label, meta.size, options.progress);
  uint64_t fresh_bytes = 0;  // received by this call, for the rate
  int write_errno = 0;
  bool complete = meta.size != 0 && offset == meta.size;
  std::string url = meta.download_url;
  int attempts = 0, hops = 0;
  while (!complete) {
    HttpRequest request;
    request.url = url;
    request.headers = auth_headers(url, options);
    request.headers.push_back("Accept-Encoding: identity");
    if (offset > 0) request.headers.push_back(fmt::format("Range: bytes={}-", offset));
    request.connect_timeout_s = options.connect_timeout_s;
    request.stall_timeout_s = options.stall_timeout_s;
    bool bad_range = false;
    request.on_headers = [&](long status, const std::map<std::string, std::string>& headers) {
      if (status == 200 && offset > 0) {
        // The server ignored the Range: start over.
        if (::ftruncate(out.fd, 0) != 0) {
          write_errno = errno;
          return false;
        }
        offset = 0;
        hash.reset();
      } else if (status == 206) {
        const auto it = headers.find("content-range");
        const std::string expected = fmt::format("bytes {}-", offset);
        if (it == headers.end() || !it->second.starts_with(expected)) {
          bad_range = true;
          return false;
        }
      }
      return true;
    };
    request.on_body = [&](const char* data, size_t size) {
      size_t written = 0;
      while (written < size) {
        const ssize_t n = ::write(out.fd, data + written, size - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          write_errno = n < 0 ? errno : ENOSPC;
          return false;
        }
        written += static_cast<size_t>(n);
      }
      if (!meta.sha256.empty()) hash.update(data, size);
      offset += size;
      fresh_bytes += size;
      progress.update(offset, fresh_bytes, false);
      return true;
    };
    const uint64_t offset_before = offset;
    const HttpResponse r = http_perform(request);
    if (write_errno != 0) {
      errno = write_errno;
      fail_errno(fmt::format(
          "cannot write {} (downloading {}; the {} bytes received so far are kept there and "
          "the next run resumes from them)",
          partial, what, offset));
    }
    if (bad_range) {
      fail_format("{} answered a request for bytes from {} with another range", url, offset_before);
    }
    if (r.status >= 300 && r.status < 400 && r.curl_code == 0) {
      if (r.redirect_url.empty() || ++hops > kMaxRedirects) {
        fail("bad or too many redirects downloading {} from {}", what, url);
      }
      url = r.redirect_url;
      continue;
    }
    if (r.status == 416 && offset > 0) {
      if (::ftruncate(out.fd, 0) != 0) fail_errno(fmt::format("cannot truncate {}", partial));
      offset = 0;  // the partial file does not fit the file on the server: start over
      hash.reset();
      if (++attempts >= kMaxAttempts) fail("cannot download {}: the server refuses ranges", what);
      continue;
    }
    if (r.status != 0 && (r.status < 200 || r.status >= 300)) fail_status(what, url, r, options);
    const bool cut = r.curl_code != 0 || (meta.size != 0 && offset < meta.size);
    if (!cut) {
      complete = true;
      break;
    }
    if (r.status == 0 && offset == offset_before) fail_unreachable(what, url, r);
    if (++attempts >= kMaxAttempts || offset == offset_before) {
      throw HubOfflineError(fmt::format(
          "the download of {} was cut after {} of {} bytes ({}); the partial file {} is kept "
          "and the next run resumes it",
          what, offset, meta.size == 0 ? "?" : std::to_string(meta.size),
          r.curl_error.empty() ? "connection closed early" : r.curl_error, partial));
    }
    url = meta.download_url;  // resume, from the start of the redirect chain
    hops = 0;
  }
  progress.update(offset, fresh_bytes, true);
  if (::fsync(out.fd) != 0 && errno != EINVAL) {
    fail_errno(fmt::format("cannot write {} (the partial file is kept)", partial));
  }
  const int fd = out.fd;
  out.fd = -1;
  if (::close(fd) != 0)
    fail_errno(fmt::format("cannot write {} (the partial file is kept)", partial));

  if (!meta.sha256.empty()) {
    const std::string got = hash.hex();
    if (got != meta.sha256) {
      std::error_code ignored;
      fs::remove(partial, ignored);
      throw FormatError(fmt::format(
          "SHA-256 mismatch for {}: the Hub's ETag says {}, the {} bytes received hash to {}; "
          "the download was deleted, run again to retry",
          what, meta.sha256, offset, got));
    }
  }
  if (::rename(partial.c_str(), blob.c_str()) != 0) {
    fail_errno(fmt::format("cannot rename {} to {}", partial, blob));
  }
}

// An exclusive lock on the blob's lock file, so that two processes never write one blob.
class BlobLock {
 public:
  explicit BlobLock(const std::string& path) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec)
      fail("cannot create the folder {}: {}", fs::path(path).parent_path().string(), ec.message());
    fd_.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_.fd < 0) fail_errno(fmt::format("cannot open the lock file {}", path));
    while (::flock(fd_.fd, LOCK_EX) != 0) {
      if (errno != EINTR) fail_errno(fmt::format("cannot lock {}", path));
    }
  }

 private:
  Fd fd_;
};

}  // namespace

HubOptions HubOptions::from_environment() {
  HubOptions options;
  std::string home = env("HF_HOME");
  if (home.empty()) {
    const std::string xdg = env("XDG_CACHE_HOME");
    const std::string user_home = env("HOME");
    if (!xdg.empty()) {
      home = xdg + "/huggingface";
    } else if (!user_home.empty()) {
      home = user_home + "/.cache/huggingface";
    }
  }
  options.cache_dir = env("HF_HUB_CACHE");
  if (options.cache_dir.empty() && !home.empty()) options.cache_dir = home + "/hub";
  std::string endpoint = env("HF_ENDPOINT");
  while (endpoint.ends_with("/")) endpoint.pop_back();
  if (!endpoint.empty()) options.endpoint = endpoint;
  options.token = trim(env("HF_TOKEN"));
  if (options.token.empty()) {
    std::string token_path = env("HF_TOKEN_PATH");
    if (token_path.empty() && !home.empty()) token_path = home + "/token";
    if (!token_path.empty()) {
      std::ifstream in(token_path);
      std::ostringstream s;
      if (in) s << in.rdbuf();
      options.token = trim(s.str());
    }
  }
  options.offline = env_true("HF_HUB_OFFLINE");
  options.progress = !env_true("HF_HUB_DISABLE_PROGRESS_BARS");
  return options;
}

HubFile hub_download_file(const std::string& repo, const std::string& file,
                          const HubOptions& options) {
  validate_repo_id(repo);
  validate_repo_file(file);
  if (!is_commit_hash(options.revision)) validate_revision(options.revision);
  if (options.cache_dir.empty()) {
    fail_usage("no Hub cache folder: set HF_HOME or HF_HUB_CACHE (HOME is not set either)");
  }
  const HubCache cache(options.cache_dir, repo);
  const std::string what = what_file(repo, file, options);
  if (const auto commit = cache.commit_for(options.revision)) {
    if (auto path = cache.cached_file(*commit, file)) return {*path, *commit};
    if (cache.known_missing(*commit, file)) {
      throw HubNotFoundError(fmt::format("repository or file not found: {}", what));
    }
  }
  if (options.offline) {
    throw HubOfflineError(fmt::format(
        "{} is not in the Hub cache ({}) and HF_HUB_OFFLINE is set: unset HF_HUB_OFFLINE to "
        "download it, or give a local model file or folder with -m",
        what, options.cache_dir));
  }
  check_endpoint(options);
  const FileMeta meta = fetch_metadata(repo, file, options, cache);
  cache.write_ref(options.revision, meta.commit);
  if (auto path = cache.cached_file(meta.commit, file)) return {*path, meta.commit};
  const std::string blob = cache.blob_path(meta.etag);
  std::error_code ec;
  if (!fs::is_regular_file(blob, ec)) {
    fs::create_directories(fs::path(blob).parent_path(), ec);
    if (ec)
      fail("cannot create the folder {}: {}", fs::path(blob).parent_path().string(), ec.message());
    const BlobLock lock(cache.lock_path(meta.etag));
    if (!fs::is_regular_file(blob, ec)) {  // another process may have finished it meanwhile
      download_blob(meta, blob, what, fs::path(file).filename().string(), options);
    }
  }
  return {cache.link_snapshot(meta.commit, file, meta.etag), meta.commit};
}

std::string hub_download(const std::string& repo, const std::string& file,
                         const HubOptions& options) {
  return hub_download_file(repo, file, options).path;
}

std::vector<std::string> hub_list_files(const std::string& repo, const HubOptions& options) {
  validate_repo_id(repo);
  if (!is_commit_hash(options.revision)) validate_revision(options.revision);
  if (options.offline) {
    if (options.cache_dir.empty()) return {};
    const HubCache cache(options.cache_dir, repo);
    const auto commit = cache.commit_for(options.revision);
    return commit ? cache.snapshot_files(*commit) : std::vector<std::string>{};
  }
  check_endpoint(options);
  const std::string what = repo + " (file list)";
  std::string url =
      options.endpoint + "/api/models/" + repo + "/revision/" + url_encode(options.revision, false);
  std::string body;
  for (int hop = 0;; ++hop) {
    HttpRequest request;
    request.url = url;
    request.headers = auth_headers(url, options);
    request.connect_timeout_s = options.connect_timeout_s;
    request.stall_timeout_s = options.stall_timeout_s;
    body.clear();
    request.on_body = [&](const char* data, size_t size) {
      if (body.size() + size > kMaxApiBody) return false;
      body.append(data, size);
      return true;
    };
    const HttpResponse r = http_perform(request);
    if (r.aborted_by_callback) fail_format("the file list of {} from {} is too long", repo, url);
    if (r.curl_code != 0) fail_unreachable(what, url, r);
    if (r.status >= 300 && r.status < 400 && !r.redirect_url.empty() && hop < kMaxRedirects) {
      url = r.redirect_url;
      continue;
    }
    if (r.status < 200 || r.status >= 300) fail_status(what, url, r, options);
    break;
  }
  std::vector<std::string> files;
  try {
    const auto json = nlohmann::json::parse(body);
    for (const auto& sibling : json.at("siblings")) {
      files.push_back(sibling.at("rfilename").get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    fail_format("the file list of {} from {} is not the Hub's JSON: {}", repo, url, e.what());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string format_progress(const std::string& label, uint64_t done, uint64_t total,
                            double bytes_per_second) {
  const double scale_base = static_cast<double>(std::max(done, total));
  const char* unit = "kB";
  double scale = 1e3;
  if (scale_base >= 1e9) {
    unit = "GB";
    scale = 1e9;
  } else if (scale_base >= 1e6) {
    unit = "MB";
    scale = 1e6;
  }
  std::string text = fmt::format("{}  {:.1f}", label, static_cast<double>(done) / scale);
  if (total != 0) {
    const double percent =
        100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total);
    text +=
        fmt::format(" / {:.1f} {}  {:3.0f}%", static_cast<double>(total) / scale, unit, percent);
  } else {
    text += fmt::format(" {}", unit);
  }
  text += fmt::format("  {:.1f} MB/s", bytes_per_second / 1e6);
  return text;
}

}  // namespace hh
