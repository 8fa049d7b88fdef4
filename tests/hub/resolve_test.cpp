// `-m` resolution and model downloads (GGUF and safetensors repositories) against the local
// imitation of the Hub; and `hedgehog download` end to end.
#include "hub/resolve.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "hub/hub_fixture.h"

namespace fs = std::filesystem;

namespace hh {
namespace {

using testing::FakeFile;
using testing::FakeHub;
using testing::FakeRepo;
using testing::random_bytes;
using testing::read_file;

constexpr const char* kCommit = "89abcdef0123456789abcdef0123456789abcdef";

class ResolveTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    FakeRepo gguf;
    gguf.commit = kCommit;
    gguf.files["Qwen3-0.6B-f16.gguf"] = FakeFile{random_bytes(5000, 1), true, ""};
    gguf.files["Qwen3-0.6B-Q8_0.gguf"] = FakeFile{random_bytes(3000, 2), true, ""};
    gguf.files["README.md"] = FakeFile{"# readme", false, ""};
    hub_.add_repo("ggml-org/Qwen3-0.6B-GGUF", gguf);
    hub_.add_repo("acme/two-GGUF", gguf);
    FakeRepo one;
    one.commit = kCommit;
    one.files["only.gguf"] = FakeFile{random_bytes(1000, 3), true, ""};
    hub_.add_repo("acme/one-GGUF", one);

    FakeRepo st;
    st.commit = kCommit;
    st.files["config.json"] = FakeFile{R"({"model_type":"qwen3"})", false, ""};
    st.files["tokenizer.json"] = FakeFile{R"({"model":{}})", false, ""};
    st.files["tokenizer_config.json"] = FakeFile{"{}", false, ""};
    st.files["model.safetensors"] = FakeFile{random_bytes(4000, 4), true, ""};
    hub_.add_repo("acme/tiny", st);
    FakeRepo sharded = st;
    sharded.files.erase("model.safetensors");
    sharded.files["generation_config.json"] = FakeFile{R"({"temperature":0.6})", false, ""};
    sharded.files["model.safetensors.index.json"] = FakeFile{
        R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
        R"("b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}})",
        false, ""};
    sharded.files["model-00001-of-00002.safetensors"] = FakeFile{random_bytes(2000, 5), true, ""};
    sharded.files["model-00002-of-00002.safetensors"] = FakeFile{random_bytes(2000, 6), true, ""};
    hub_.add_repo("acme/sharded", sharded);
  }
  bool api_called() const {
    for (const auto& r : hub_.hub().requests()) {
      if (r.path.starts_with("/api/")) return true;
    }
    return false;
  }
};

TEST_F(ResolveTest, LocalPathsAreUsedAsTheyAre) {
  const fs::path file = dir_ / "model.gguf";
  std::ofstream(file) << "GGUF";
  EXPECT_EQ(resolve_model_argument(file.string(), "", options_), file.string());
  EXPECT_EQ(resolve_model_argument(dir_.string(), "", options_), dir_.string());
  EXPECT_THROW(resolve_model_argument(file.string(), "x.gguf", options_), UsageError);
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(ResolveTest, MissingLocalPathThatIsNoRepoIdIsAClearError) {
  for (const std::string arg : {"/no/such/model.gguf", "./missing.gguf", "missing.gguf", ""}) {
    try {
      resolve_model_argument(arg, "", options_);
      FAIL() << arg;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("-m"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(ResolveTest, DefaultRepositoryGetsItsF16FileWithoutListing) {
  const std::string path = resolve_model_argument(kDefaultModel, "", options_);
  EXPECT_TRUE(path.ends_with("/snapshots/" + std::string(kCommit) + "/Qwen3-0.6B-f16.gguf"))
      << path;
  EXPECT_EQ(read_file(path), random_bytes(5000, 1));
  EXPECT_FALSE(api_called());
  const size_t requests = hub_.request_count();
  EXPECT_EQ(resolve_model_argument(kDefaultModel, "", options_), path);
  EXPECT_EQ(hub_.request_count(), requests);
}

TEST_F(ResolveTest, GgufRepositoryChoosesTheHfFileOrItsOnlyGguf) {
  const std::string q8 = resolve_model_argument("acme/two-GGUF", "Qwen3-0.6B-Q8_0.gguf", options_);
  EXPECT_EQ(read_file(q8), random_bytes(3000, 2));
  EXPECT_TRUE(resolve_model_argument("acme/one-GGUF", "", options_).ends_with("/only.gguf"));
  try {
    resolve_model_argument("acme/two-GGUF", "", options_);
    FAIL();
  } catch (const UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("--hf-file"), std::string::npos) << message;
    EXPECT_NE(message.find("Qwen3-0.6B-Q8_0.gguf"), std::string::npos) << message;
    EXPECT_NE(message.find("Qwen3-0.6B-f16.gguf"), std::string::npos) << message;
  }
}

TEST_F(ResolveTest, SafetensorsRepositoryYieldsItsSnapshotFolder) {
  const ModelFiles model = download_model("acme/tiny", "", options_);
  const fs::path snapshot =
      fs::path(options_.cache_dir) / "models--acme--tiny" / "snapshots" / kCommit;
  EXPECT_EQ(model.path, snapshot.string());
  for (const char* f :
       {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"}) {
    EXPECT_TRUE(fs::is_regular_file(snapshot / f)) << f;
  }
  EXPECT_EQ(model.files.size(), 4u);
  EXPECT_EQ(read_file(snapshot / "model.safetensors"), random_bytes(4000, 4));
  // The absent generation_config.json is remembered, so the offline run needs no guess.
  EXPECT_TRUE(fs::exists(fs::path(options_.cache_dir) / "models--acme--tiny" / ".no_exist" /
                         kCommit / "generation_config.json"));
  const size_t requests = hub_.request_count();
  options_.offline = true;
  EXPECT_EQ(resolve_model_argument("acme/tiny", "", options_), snapshot.string());
  options_.offline = false;
  EXPECT_EQ(resolve_model_argument("acme/tiny", "", options_), snapshot.string());
  EXPECT_EQ(hub_.request_count(), requests);
}

TEST_F(ResolveTest, ShardedSafetensorsRepositoryFetchesEveryShardOnce) {
  const ModelFiles model = download_model("acme/sharded", "", options_);
  const fs::path snapshot = model.path;
  EXPECT_EQ(model.files.size(), 7u);  // config, 2 tokenizer, generation, index, 2 shards
  EXPECT_EQ(read_file(snapshot / "model-00002-of-00002.safetensors"), random_bytes(2000, 6));
  EXPECT_TRUE(fs::is_regular_file(snapshot / "generation_config.json"));
}

TEST_F(ResolveTest, IndexNamingABadShardIsAFormatError) {
  FakeRepo evil;
  evil.commit = kCommit;
  evil.files["config.json"] = FakeFile{"{}", false, ""};
  evil.files["tokenizer.json"] = FakeFile{"{}", false, ""};
  evil.files["tokenizer_config.json"] = FakeFile{"{}", false, ""};
  evil.files["model.safetensors.index.json"] =
      FakeFile{R"({"weight_map":{"a":"../../../../etc/passwd"}})", false, ""};
  hub_.add_repo("acme/evil", evil);
  EXPECT_THROW(download_model("acme/evil", "", options_), FormatError);
  evil.files["model.safetensors.index.json"] = FakeFile{R"({"weight_map":[1]})", false, ""};
  hub_.add_repo("acme/evil2", evil);
  EXPECT_THROW(download_model("acme/evil2", "", options_), FormatError);
}

TEST_F(ResolveTest, UnknownRepositoryAndOfflineMessagesNameDashM) {
  try {
    resolve_model_argument("acme/nothing", "", options_);
    FAIL();
  } catch (const HubNotFoundError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("-m acme/nothing"), std::string::npos) << message;
    EXPECT_NE(message.find("repository or file not found"), std::string::npos) << message;
  }
  options_.offline = true;
  for (const char* repo : {"acme/tiny", kDefaultModel, "acme/one-GGUF"}) {
    try {
      resolve_model_argument(repo, "", options_);
      FAIL() << repo;
    } catch (const HubOfflineError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("HF_HUB_OFFLINE"), std::string::npos) << message;
      EXPECT_NE(message.find("-m"), std::string::npos) << message;
    }
  }
}

// Runs a shell command; returns its exit status and stdout.
std::pair<int, std::string> run_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(ResolveTest, DownloadCommandPrintsTheLocalPaths) {
  const std::string env = fmt::format(
      "env -u HF_TOKEN -u HF_HUB_OFFLINE -u HF_HUB_CACHE HF_HOME='{}' HF_ENDPOINT='{}' ",
      dir_.string(), hub_.endpoint());
  auto [status, out] = run_command(env + HH_BINARY " download acme/two-GGUF Qwen3-0.6B-Q8_0.gguf");
  EXPECT_EQ(status, 0);
  const std::string expected =
      (dir_ / "hub" / "models--acme--two-GGUF" / "snapshots" / kCommit / "Qwen3-0.6B-Q8_0.gguf")
          .string();
  EXPECT_EQ(out, expected + "\n");
  std::tie(status, out) = run_command(env + HH_BINARY " download acme/tiny");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  const fs::path err = dir_ / "err.txt";
  std::tie(status, out) =
      run_command(env + HH_BINARY " download acme/nothing x.gguf 2>'" + err.string() + "'");
  EXPECT_EQ(status, 1);
  EXPECT_EQ(out, "");
  EXPECT_NE(read_file(err).find("repository or file not found: acme/nothing/x.gguf"),
            std::string::npos)
      << read_file(err);
}

}  // namespace
}  // namespace hh
