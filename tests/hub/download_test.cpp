// Hub downloads against a local imitation of the Hub (fake_hub.h): cache layout, no network for
// cached files, resume, hash check, errors, offline mode, the token and redirects.
#include "hub/download.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hub/hub_cache.h"
#include "hub/hub_fixture.h"

namespace fs = std::filesystem;

namespace hh {
namespace {

using testing::FakeFile;
using testing::FakeHub;
using testing::FakeRepo;
using testing::random_bytes;
using testing::read_file;
using testing::sha256_hex;

constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kRepo = "acme/tiny-GGUF";

class HubDownloadTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    model_ = random_bytes(300000, 7);
    config_ = R"({"model_type": "qwen3"})";
    FakeRepo repo;
    repo.commit = kCommit;
    repo.files["model.gguf"] = FakeFile{model_, true, ""};
    repo.files["config.json"] = FakeFile{config_, false, ""};
    repo.files["sub/dir/notes.txt"] = FakeFile{"nested", false, ""};
    hub_.add_repo(kRepo, repo);
  }
  fs::path repo_dir() const { return fs::path(options_.cache_dir) / "models--acme--tiny-GGUF"; }
  fs::path blob(const std::string& name) const { return repo_dir() / "blobs" / name; }
  fs::path snapshot(const std::string& file) const {
    return repo_dir() / "snapshots" / kCommit / file;
  }
  std::vector<testing::LoggedRequest> cdn_gets() const {
    std::vector<testing::LoggedRequest> gets;
    for (const auto& r : hub_.cdn().requests()) {
      if (r.method == "GET") gets.push_back(r);
    }
    return gets;
  }

  std::string model_, config_;
};

TEST_F(HubDownloadTest, FreshLfsDownloadBuildsTheHubCacheLayout) {
  const std::string path = hub_download(kRepo, "model.gguf", options_);
  const std::string sha = sha256_hex(model_);
  EXPECT_EQ(path, snapshot("model.gguf").string());
  EXPECT_EQ(read_file(path), model_);
  EXPECT_EQ(read_file(blob(sha)), model_);
  ASSERT_TRUE(fs::is_symlink(path));
  EXPECT_EQ(fs::read_symlink(path).string(), "../../blobs/" + sha);
  EXPECT_EQ(read_file(repo_dir() / "refs" / "main"), kCommit);
  EXPECT_FALSE(fs::exists(blob(sha + ".incomplete")));
  // The Hub answered the HEAD with a redirect; the bytes came from the CDN.
  EXPECT_EQ(cdn_gets().size(), 1u);
}

TEST_F(HubDownloadTest, PlainFilesAreNamedByTheirEtagAndNestedPathsLinkUpward) {
  const std::string config = hub_download(kRepo, "config.json", options_);
  EXPECT_EQ(read_file(config), config_);
  EXPECT_EQ(fs::read_symlink(config).string(), "../../blobs/" + FakeHub::git_oid(config_));
  const std::string notes = hub_download(kRepo, "sub/dir/notes.txt", options_);
  EXPECT_EQ(read_file(notes), "nested");
  EXPECT_EQ(fs::read_symlink(notes).string(), "../../../../blobs/" + FakeHub::git_oid("nested"));
  EXPECT_EQ(hub_.cdn().request_count(), 0u);
}

TEST_F(HubDownloadTest, CachedFileNeverTouchesTheNetwork) {
  const std::string first = hub_download(kRepo, "model.gguf", options_);
  const size_t requests = hub_.request_count();
  EXPECT_EQ(hub_download(kRepo, "model.gguf", options_), first);
  EXPECT_EQ(hub_.request_count(), requests);
  // Offline works as well, and so does a revision given as the commit hash.
  HubOptions offline = options_;
  offline.offline = true;
  EXPECT_EQ(hub_download(kRepo, "model.gguf", offline), first);
  offline.revision = kCommit;
  EXPECT_EQ(hub_download(kRepo, "model.gguf", offline), first);
  EXPECT_EQ(hub_.request_count(), requests);
}

TEST_F(HubDownloadTest, CutTransferIsResumedWithARangeRequest) {
  hub_.cut_next_transfer_at(100000);
  const std::string path = hub_download(kRepo, "model.gguf", options_);
  EXPECT_EQ(read_file(path), model_);
  const auto gets = cdn_gets();
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].header("range"), "");
  EXPECT_EQ(gets[1].header("range"), "bytes=100000-");
}

TEST_F(HubDownloadTest, PartialFileOfAnEarlierRunIsResumed) {
  const std::string sha = sha256_hex(model_);
  fs::create_directories(blob("").parent_path());
  std::ofstream(blob(sha + ".incomplete"), std::ios::binary) << model_.substr(0, 123456);
  EXPECT_EQ(read_file(hub_download(kRepo, "model.gguf", options_)), model_);
  const auto gets = cdn_gets();
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].header("range"), "bytes=123456-");
  EXPECT_FALSE(fs::exists(blob(sha + ".incomplete")));
}

TEST_F(HubDownloadTest, ServerIgnoringRangeRestartsFromZero) {
  const std::string sha = sha256_hex(model_);
  fs::create_directories(blob("").parent_path());
  std::ofstream(blob(sha + ".incomplete"), std::ios::binary) << model_.substr(0, 5000);
  hub_.set_ignore_range(true);
  EXPECT_EQ(read_file(hub_download(kRepo, "model.gguf", options_)), model_);
}

TEST_F(HubDownloadTest, CompletePartialFileIsVerifiedWithoutRefetching) {
  const std::string sha = sha256_hex(model_);
  fs::create_directories(blob("").parent_path());
  std::ofstream(blob(sha + ".incomplete"), std::ios::binary) << model_;
  EXPECT_EQ(read_file(hub_download(kRepo, "model.gguf", options_)), model_);
  EXPECT_EQ(cdn_gets().size(), 0u);
}

TEST_F(HubDownloadTest, HashMismatchLeavesNoFileBehind) {
  FakeRepo repo;
  repo.commit = kCommit;
  std::string corrupt = model_;
  corrupt[4242] ^= 1;
  repo.files["model.gguf"] = FakeFile{model_, true, corrupt};
  hub_.add_repo(kRepo, repo);
  try {
    hub_download(kRepo, "model.gguf", options_);
    FAIL() << "a corrupt download was accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("SHA-256 mismatch for acme/tiny-GGUF/model.gguf"),
              std::string::npos)
        << e.what();
  }
  const std::string sha = sha256_hex(model_);
  EXPECT_FALSE(fs::exists(blob(sha)));
  EXPECT_FALSE(fs::exists(blob(sha + ".incomplete")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(snapshot("model.gguf"))));
}

TEST_F(HubDownloadTest, DiskFullKeepsThePartialFileAndNeverRenamesIt) {
  const std::string sha = sha256_hex(model_);
  fs::create_directories(blob("").parent_path());
  // Writes to /dev/full fail with ENOSPC, as on a full disk.
  fs::create_symlink("/dev/full", blob(sha + ".incomplete"));
  try {
    hub_download(kRepo, "model.gguf", options_);
    FAIL() << "a failed write went unnoticed";
  } catch (const SystemError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;
    EXPECT_NE(message.find("kept"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(blob(sha)));
  EXPECT_TRUE(fs::is_symlink(blob(sha + ".incomplete")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(snapshot("model.gguf"))));
}

TEST_F(HubDownloadTest, WriteErrorMidwayKeepsTheBytesForTheNextRun) {
  // A child process with a 50000-byte file size limit stands in for a disk that fills up.
  const std::string sha = sha256_hex(model_);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{50000, 50000};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      hub_download(kRepo, "model.gguf", options_);
      ::_exit(3);
    } catch (const SystemError& e) {
      ::_exit(std::string(e.what()).find("kept") != std::string::npos ? 0 : 1);
    } catch (...) {
      ::_exit(2);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(fs::file_size(blob(sha + ".incomplete")), 50000u);
  EXPECT_FALSE(fs::exists(blob(sha)));
  EXPECT_EQ(read_file(hub_download(kRepo, "model.gguf", options_)), model_);
  const auto gets = cdn_gets();
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[1].header("range"), "bytes=50000-");
}

TEST_F(HubDownloadTest, UnknownRepositoryOrFileIsAClearError) {
  try {
    hub_download("acme/nothing", "model.gguf", options_);
    FAIL();
  } catch (const HubNotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("repository or file not found: acme/nothing/model.gguf"),
              std::string::npos)
        << e.what();
  }
  try {
    hub_download(kRepo, "missing.gguf", options_);
    FAIL();
  } catch (const HubNotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("repository or file not found: acme/tiny-GGUF/missing"),
              std::string::npos)
        << e.what();
  }
  // The 404 is remembered for that commit (.no_exist), so offline runs know it too.
  EXPECT_TRUE(fs::exists(repo_dir() / ".no_exist" / kCommit / "missing.gguf"));
  hub_download(kRepo, "config.json", options_);  // records refs/main
  HubOptions offline = options_;
  offline.offline = true;
  EXPECT_THROW(hub_download(kRepo, "missing.gguf", offline), HubNotFoundError);
}

TEST_F(HubDownloadTest, PrivateRepositoryNeedsTheTokenWhichNeverLeavesTheHub) {
  FakeRepo repo;
  repo.commit = kCommit;
  repo.private_repo = true;
  repo.files["model.gguf"] = FakeFile{model_, true, ""};
  hub_.add_repo(kRepo, repo);
  hub_.set_token("hf_secret");
  try {
    hub_download(kRepo, "model.gguf", options_);
    FAIL();
  } catch (const UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("HTTP 401"), std::string::npos) << message;
    EXPECT_NE(message.find("HF_TOKEN"), std::string::npos) << message;
  }
  options_.token = "hf_wrong";
  try {
    hub_download(kRepo, "model.gguf", options_);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("HF_TOKEN"), std::string::npos) << e.what();
  }
  options_.token = "hf_secret";
  EXPECT_EQ(read_file(hub_download(kRepo, "model.gguf", options_)), model_);
  const auto hub_requests = hub_.hub().requests();
  EXPECT_EQ(hub_requests.back().header("authorization"), "Bearer hf_secret");
  const auto gets = cdn_gets();
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].header("authorization"), "");  // another origin: no token
}

TEST_F(HubDownloadTest, RelativeRedirectOfARenamedRepositoryIsFollowed) {
  hub_.rename_repo("acme/old-name", kRepo);
  const std::string path = hub_download("acme/old-name", "config.json", options_);
  EXPECT_EQ(read_file(path), config_);
  EXPECT_NE(path.find("models--acme--old-name"), std::string::npos);
  const auto requests = hub_.hub().requests();
  ASSERT_EQ(requests.size(), 3u);  // HEAD old, HEAD new, GET new
  EXPECT_EQ(requests[1].path, "/acme/tiny-GGUF/resolve/main/config.json");
}

TEST_F(HubDownloadTest, OfflineWithoutTheFileNamesDashMAndHfHubOffline) {
  options_.offline = true;
  try {
    hub_download(kRepo, "model.gguf", options_);
    FAIL();
  } catch (const HubOfflineError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("HF_HUB_OFFLINE"), std::string::npos) << message;
    EXPECT_NE(message.find("-m"), std::string::npos) << message;
  }
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(HubDownloadTest, UnreachableServerNamesDashMAndHfHubOffline) {
  // A port that was just free: nothing listens there.
  int port = 0;
  {
    testing::FakeHttpServer closed(
        [](const testing::LoggedRequest&) { return testing::FakeResponse{}; });
    port = std::stoi(closed.base_url().substr(closed.base_url().rfind(':') + 1));
  }
  options_.endpoint = fmt::format("http://127.0.0.1:{}", port);
  try {
    hub_download(kRepo, "model.gguf", options_);
    FAIL();
  } catch (const HubOfflineError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("HF_HUB_OFFLINE"), std::string::npos) << message;
    EXPECT_NE(message.find("-m"), std::string::npos) << message;
  }
}

TEST_F(HubDownloadTest, BadNamesAreRejectedBeforeAnyRequest) {
  for (const char* repo : {"", "noslash", "a/b/c", "../x", "a/..", "a/b c", "-a/b", "a/b.", "a/"}) {
    EXPECT_THROW(hub_download(repo, "model.gguf", options_), UsageError) << repo;
  }
  for (const char* file : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a\\b"}) {
    EXPECT_THROW(hub_download(kRepo, file, options_), UsageError) << file;
  }
  options_.revision = "../../etc";
  EXPECT_THROW(hub_download(kRepo, "model.gguf", options_), UsageError);
  options_.revision = "main";
  options_.endpoint = "ftp://example.org";
  EXPECT_THROW(hub_download(kRepo, "model.gguf", options_), UsageError);
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(HubDownloadTest, ListsFilesFromTheApiOrOfflineFromTheCache) {
  const std::vector<std::string> expected = {"config.json", "model.gguf", "sub/dir/notes.txt"};
  EXPECT_EQ(hub_list_files(kRepo, options_), expected);
  hub_download(kRepo, "config.json", options_);
  options_.offline = true;
  EXPECT_EQ(hub_list_files(kRepo, options_), std::vector<std::string>{"config.json"});
  EXPECT_THROW(
      {
        options_.offline = false;
        hub_list_files("acme/nothing", options_);
      },
      HubNotFoundError);
}

TEST(HubProgress, ShowsBytesPercentAndRate) {
  EXPECT_EQ(format_progress("m.gguf", 600'000'000, 1'200'000'000, 45.6e6),
            "m.gguf  0.6 / 1.2 GB   50%  45.6 MB/s");
  EXPECT_EQ(format_progress("c.json", 2500, 0, 0), "c.json  2.5 kB  0.0 MB/s");
}

// Sets environment variables for one test and restores them after.
class ScopedEnv {
 public:
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(HubOptionsTest, ReadsTheHuggingFaceEnvironment) {
  char pattern[] = "/tmp/hh_hub_env_XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const fs::path home = pattern;
  ScopedEnv env;
  env.set("HF_HOME", pattern);
  env.set("HF_HUB_CACHE", nullptr);
  env.set("HF_ENDPOINT", "http://127.0.0.1:9/");
  env.set("HF_TOKEN", nullptr);
  env.set("HF_TOKEN_PATH", nullptr);
  env.set("HF_HUB_OFFLINE", "1");
  env.set("HF_HUB_DISABLE_PROGRESS_BARS", nullptr);
  std::ofstream(home / "token") << "hf_from_file\n";
  HubOptions options = HubOptions::from_environment();
  EXPECT_EQ(options.cache_dir, (home / "hub").string());
  EXPECT_EQ(options.endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(options.token, "hf_from_file");
  EXPECT_TRUE(options.offline);
  EXPECT_TRUE(options.progress);

  env.set("HF_HUB_CACHE", "/somewhere/else");
  env.set("HF_TOKEN", "hf_env");
  env.set("HF_HUB_OFFLINE", "0");
  env.set("HF_ENDPOINT", nullptr);
  env.set("HF_HUB_DISABLE_PROGRESS_BARS", "true");
  options = HubOptions::from_environment();
  EXPECT_EQ(options.cache_dir, "/somewhere/else");
  EXPECT_EQ(options.endpoint, "https://huggingface.co");
  EXPECT_EQ(options.token, "hf_env");
  EXPECT_FALSE(options.offline);
  EXPECT_FALSE(options.progress);
  std::error_code ec;
  fs::remove_all(home, ec);
}

}  // namespace
}  // namespace hh
