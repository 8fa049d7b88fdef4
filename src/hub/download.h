#pragma once
// Downloads from the Hugging Face Hub into the shared Hub cache (hub_cache.h), following the
// huggingface_hub conventions: HF_ENDPOINT, HF_TOKEN, HF_HOME / HF_HUB_CACHE, HF_HUB_OFFLINE.
// A file whose snapshot entry is present is returned without touching the network.
#include <cstdint>
#include <string>
#include <vector>

#include "util/error.h"

namespace hh {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // no trailing '/'
  std::string cache_dir;                            // the hub cache folder (…/huggingface/hub)
  std::string token;                                // sent as "Authorization: Bearer"; "" none
  std::string revision = "main";                    // branch, tag or commit hash
  bool offline = false;                             // never use the network, only the cache
  bool progress = true;                             // progress bar when stderr is a terminal
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // a transfer under 1 byte/s for this long is cut (then resumed)

  // Reads HF_ENDPOINT, HF_HUB_CACHE, HF_HOME (default $XDG_CACHE_HOME/huggingface or
  // ~/.cache/huggingface), HF_TOKEN (else the file HF_HOME/token that `huggingface-cli login`
  // writes), HF_HUB_OFFLINE (1/true/yes/on) and HF_HUB_DISABLE_PROGRESS_BARS.
  static HubOptions from_environment();
};

// The repository or the file does not exist (HTTP 404, or recorded as absent in the cache).
class HubNotFoundError : public UsageError {
 public:
  using UsageError::UsageError;
};
// The file is not in the cache and the network may not be used (HF_HUB_OFFLINE) or cannot be
// reached.
class HubOfflineError : public UsageError {
 public:
  using UsageError::UsageError;
};

struct HubFile {
  std::string path;    // CACHE/models--ORG--NAME/snapshots/COMMIT/FILE
  std::string commit;  // COMMIT
};

// Downloads `file` of `repo` at options.revision unless cached, and returns its snapshot path.
// Partial downloads are kept as blobs/HASH.incomplete and resumed with a Range request; LFS
// files are checked against their SHA-256 before the atomic rename to blobs/HASH.
std::string hub_download(const std::string& repo, const std::string& file,
                         const HubOptions& options);
HubFile hub_download_file(const std::string& repo, const std::string& file,
                          const HubOptions& options);

// The files of `repo` at options.revision: from the Hub API, or offline from the cached
// snapshot (empty when nothing is cached).
std::vector<std::string> hub_list_files(const std::string& repo, const HubOptions& options);

// "name  1.2 / 3.4 GB  35%  56.7 MB/s" (total 0: unknown); the progress bar's text.
std::string format_progress(const std::string& label, uint64_t done, uint64_t total,
                            double bytes_per_second);

}  // namespace hh
