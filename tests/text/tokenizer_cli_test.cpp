// `hedgehog tokenize` end to end on the real Qwen3 tokenizer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "text/tokenizer_test_util.h"

namespace hh {
namespace {

using testing::HasSubstr;

const std::string kQwen3Json = std::string(HH_FIXTURES_DIR) + test::kQwen3TokenizerFromFixtures;

struct Result {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `hedgehog tokenize ARGS` (ARGS already shell-quoted).
Result tokenize(const std::string& args) {
  const std::string err_file = (std::filesystem::temp_directory_path() /
                                ("hh_tokenize_err_" + std::to_string(getpid()) + ".txt"))
                                   .string();
  const std::string cmd = std::string(HH_BINARY) + " tokenize " + args + " 2>" + err_file;
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, p)) > 0) r.out.append(buffer, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = test::read_text_file(err_file);
  std::filesystem::remove(err_file);
  return r;
}

TEST(TokenizeCommand, PrintsIdsAndPieces) {
  const Result r = tokenize("-m " + kQwen3Json + " 'Hello, world'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "9707\t\"Hello\"\n11\t\",\"\n1879\t\" world\"\n");
}

TEST(TokenizeCommand, IdsOnlyWithAndWithoutSpecialTokens) {
  // A model directory works as well as the tokenizer.json itself.
  const std::string dir = std::filesystem::path(kQwen3Json).parent_path().string();
  Result r = tokenize("-m " + dir + " --ids '<|im_start|>user'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "151644 872\n");
  r = tokenize("-m " + dir + " --ids --no-special '<|im_start|>user'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("151644"), std::string::npos);
  EXPECT_EQ(r.out.back(), '\n');
}

TEST(TokenizeCommand, FileWithInvalidUtf8AndNul) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("hh_tokenize_in_" + std::to_string(getpid()) + ".txt"))
                               .string();
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string("a\xFF\0b", 4);
  }
  const Result r = tokenize("-m " + kQwen3Json + " --file " + path);
  std::filesystem::remove(path);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "64\t\"a\"\n187\t\"\\xff\"\n188\t\"\\u0000\"\n65\t\"b\"\n");
}

TEST(TokenizeCommand, Errors) {
  Result r = tokenize("-m /no/such/model x");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("/no/such/model: no such model file or directory"));
  r = tokenize("-m " + kQwen3Json);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("give a TEXT or --file F"));
  r = tokenize("-m " + kQwen3Json + " --file /no/such/file");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("/no/such/file"));
  r = tokenize("--ids x");  // no model
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace hh
