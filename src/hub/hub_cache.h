#pragma once
// The Hugging Face Hub cache on disk, laid out as huggingface_hub lays it out so that files are
// shared with huggingface-cli and Python programs:
//   CACHE/models--ORG--NAME/blobs/HASH                     file contents, named by ETag
//   CACHE/models--ORG--NAME/snapshots/COMMIT/PATH          relative symlink to ../../blobs/HASH
//   CACHE/models--ORG--NAME/refs/REVISION                  the commit REVISION points to
//   CACHE/models--ORG--NAME/.no_exist/COMMIT/PATH          empty: PATH is absent at COMMIT
//   CACHE/.locks/models--ORG--NAME/HASH.lock               held while HASH is downloaded
#include <optional>
#include <string>
#include <vector>

namespace hh {

// Throws UsageError unless `repo` is "ORG/NAME" with each part made of letters, digits, '-',
// '_' and '.', not starting or ending with '.' or '-', and no "..".
void validate_repo_id(const std::string& repo);
// Throws UsageError unless `file` is a relative path inside a repository (no "..", no empty or
// "." parts, no backslashes or control characters).
void validate_repo_file(const std::string& file);
// Throws UsageError unless `revision` is a branch, tag or commit name safe in a path and a URL.
void validate_revision(const std::string& revision);
// 40 lower-case hex digits: a git commit hash, used as is without a refs/ lookup.
bool is_commit_hash(const std::string& revision);

class HubCache {
 public:
  HubCache(std::string cache_dir, const std::string& repo);  // validates repo

  const std::string& repo_dir() const { return repo_dir_; }
  std::string blob_path(const std::string& etag) const;
  std::string lock_path(const std::string& etag) const;
  std::string snapshot_dir(const std::string& commit) const;
  std::string snapshot_path(const std::string& commit, const std::string& file) const;

  // The commit `revision` names: itself when it is a commit hash, else refs/REVISION if present.
  std::optional<std::string> commit_for(const std::string& revision) const;
  // Atomically (write + rename) records that `revision` points to `commit`.
  void write_ref(const std::string& revision, const std::string& commit) const;

  // The snapshot path of `file` at `commit` when its blob is present (a dangling link is not).
  std::optional<std::string> cached_file(const std::string& commit, const std::string& file) const;
  // Whether `file` is recorded as absent at `commit` (a .no_exist marker).
  bool known_missing(const std::string& commit, const std::string& file) const;
  void mark_missing(const std::string& commit, const std::string& file) const;
  // Makes snapshots/COMMIT/FILE a relative symlink to the blob named `etag` (replacing any old
  // link atomically) and returns its path.
  std::string link_snapshot(const std::string& commit, const std::string& file,
                            const std::string& etag) const;
  // The files (relative paths, sorted) in the snapshot of `commit` whose blobs are present.
  std::vector<std::string> snapshot_files(const std::string& commit) const;

 private:
  std::string cache_dir_;
  std::string folder_;    // models--ORG--NAME
  std::string repo_dir_;  // cache_dir_/folder_
};

}  // namespace hh
