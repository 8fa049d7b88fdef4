#include "hub/hub_cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace fs = std::filesystem;

namespace hh {
namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

// Checks each '/'-separated part of a relative path; `what` names the thing in messages.
void validate_relative_path(const std::string& path, const char* what, bool names_only) {
  if (path.empty()) fail_usage("empty {}", what);
  if (path.size() > 1024) fail_usage("{} is too long ({} bytes)", what, path.size());
  if (path.front() == '/') fail_usage("{} '{}' must be relative", what, path);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      fail_usage("{} '{}' has an empty, '.' or '..' part", what, path);
    }
    for (const char c : part) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == '\\' || (names_only && !is_name_char(c))) {
        fail_usage("{} '{}' holds a character that is not allowed there", what, path);
      }
    }
    start = end + 1;
  }
}

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create the folder {}: {}", dir.string(), ec.message());
}

// A name beside `target` for a temporary file that is then renamed over it.
std::string temp_name(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  return target.string() + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter.fetch_add(1));
}

std::string read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

void validate_repo_id(const std::string& repo) {
  const size_t slash = repo.find('/');
  if (slash == std::string::npos || repo.find('/', slash + 1) != std::string::npos) {
    fail_usage("'{}' is not a Hub repository id (ORG/NAME)", repo);
  }
  for (const std::string& part : {repo.substr(0, slash), repo.substr(slash + 1)}) {
    const bool ok = !part.empty() && part.size() <= 96 &&
                    std::all_of(part.begin(), part.end(), is_name_char) && part.front() != '.' &&
                    part.front() != '-' && part.back() != '.' && part.back() != '-' &&
                    part.find("..") == std::string::npos && part.find("--") == std::string::npos;
    if (!ok) fail_usage("'{}' is not a Hub repository id (ORG/NAME)", repo);
  }
}

void validate_repo_file(const std::string& file) {
  validate_relative_path(file, "file name in the repository", false);
}

void validate_revision(const std::string& revision) {
  validate_relative_path(revision, "revision", true);
}

bool is_commit_hash(const std::string& revision) {
  return revision.size() == 40 && std::all_of(revision.begin(), revision.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

HubCache::HubCache(std::string cache_dir, const std::string& repo)
    : cache_dir_(std::move(cache_dir)) {
  validate_repo_id(repo);
  const size_t slash = repo.find('/');
  folder_ = "models--" + repo.substr(0, slash) + "--" + repo.substr(slash + 1);
  repo_dir_ = (fs::path(cache_dir_) / folder_).string();
}

std::string HubCache::blob_path(const std::string& etag) const {
  const bool ok = !etag.empty() && etag.size() <= 200 &&
                  std::all_of(etag.begin(), etag.end(), is_name_char) && etag.front() != '.';
  if (!ok) fail_format("the server's ETag '{}' cannot name a file in the cache", etag);
  return (fs::path(repo_dir_) / "blobs" / etag).string();
}

std::string HubCache::lock_path(const std::string& etag) const {
  blob_path(etag);  // validates
  return (fs::path(cache_dir_) / ".locks" / folder_ / (etag + ".lock")).string();
}

std::string HubCache::snapshot_dir(const std::string& commit) const {
  if (!is_commit_hash(commit)) fail_format("'{}' is not a commit hash", commit);
  return (fs::path(repo_dir_) / "snapshots" / commit).string();
}

std::string HubCache::snapshot_path(const std::string& commit, const std::string& file) const {
  validate_repo_file(file);
  return (fs::path(snapshot_dir(commit)) / file).string();
}

std::optional<std::string> HubCache::commit_for(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  validate_revision(revision);
  std::string text = read_small_file(fs::path(repo_dir_) / "refs" / revision);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (!is_commit_hash(text)) return std::nullopt;  // absent or damaged: ask the server again
  return text;
}

void HubCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (is_commit_hash(revision)) return;  // a commit names itself; no ref to keep
  validate_revision(revision);
  if (!is_commit_hash(commit)) fail_format("'{}' is not a commit hash", commit);
  if (commit_for(revision) == commit) return;
  const fs::path ref = fs::path(repo_dir_) / "refs" / revision;
  make_dirs(ref.parent_path());
  const std::string temp = temp_name(ref);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << commit;
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      fail("cannot write {}", temp);
    }
  }
  std::error_code ec;
  fs::rename(temp, ref, ec);
  if (ec) {
    fs::remove(temp, ec);
    fail("cannot write {}: {}", ref.string(), ec.message());
  }
}

std::optional<std::string> HubCache::cached_file(const std::string& commit,
                                                 const std::string& file) const {
  const std::string path = snapshot_path(commit, file);
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;  // follows the link to the blob
  return std::nullopt;
}

bool HubCache::known_missing(const std::string& commit, const std::string& file) const {
  validate_repo_file(file);
  snapshot_dir(commit);  // validates
  std::error_code ec;
  return fs::exists(fs::path(repo_dir_) / ".no_exist" / commit / file, ec);
}

void HubCache::mark_missing(const std::string& commit, const std::string& file) const {
  validate_repo_file(file);
  snapshot_dir(commit);
  const fs::path marker = fs::path(repo_dir_) / ".no_exist" / commit / file;
  make_dirs(marker.parent_path());
  std::ofstream out(marker, std::ios::binary | std::ios::trunc);  // best effort: a cache hint
}

std::string HubCache::link_snapshot(const std::string& commit, const std::string& file,
                                    const std::string& etag) const {
  const fs::path link = snapshot_path(commit, file);
  blob_path(etag);  // validates
  // snapshots/COMMIT/a/b/FILE climbs one level per folder of FILE, plus COMMIT and snapshots.
  std::string target;
  const size_t depth = 2 + static_cast<size_t>(std::count(file.begin(), file.end(), '/'));
  for (size_t i = 0; i < depth; ++i) target += "../";
  target += "blobs/" + etag;
  make_dirs(link.parent_path());
  const std::string temp = temp_name(link);
  std::error_code ec;
  fs::create_symlink(target, temp, ec);
  if (ec) fail("cannot create the link {} -> {}: {}", temp, target, ec.message());
  fs::rename(temp, link, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    fail("cannot create the link {} -> {}: {}", link.string(), target, ec.message());
  }
  return link.string();
}

std::vector<std::string> HubCache::snapshot_files(const std::string& commit) const {
  std::vector<std::string> files;
  const fs::path root = snapshot_dir(commit);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return files;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::error_code status_ec;
    if (fs::is_regular_file(it->path(), status_ec)) {
      // lexically: fs::relative would resolve the link to its blob.
      files.push_back(it->path().lexically_relative(root).generic_string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace hh
