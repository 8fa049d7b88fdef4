// The tokenizer against Hugging Face `tokenizers` on the real Qwen3 tokenizer.json:
// tests/fixtures/tokenizer/qwen3_reference.json (tools/make_tokenizer_reference.py) holds the
// ids of every corpus case with and without special-token parsing, and hashes of the ids of two
// generated 1 MiB texts. Also: round trips of the whole corpus (invalid UTF-8 included), and the
// same ids from a GGUF file written with make-model's tokenizer metadata.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "model/gguf.h"
#include "model/gguf_tokenizer.h"
#include "text/tokenizer.h"
#include "text/tokenizer_test_util.h"

namespace hh {
namespace {

const std::string kFixtures = HH_FIXTURES_DIR;

std::string qwen3_json_path() { return kFixtures + test::kQwen3TokenizerFromFixtures; }

const Tokenizer& qwen3() {
  static const Tokenizer t = Tokenizer::from_json_file(qwen3_json_path());
  return t;
}

const std::vector<test::CorpusCase>& corpus() {
  static const auto cases = test::load_corpus(kFixtures + "/tokenizer/corpus.json");
  return cases;
}

const nlohmann::json& reference() {
  static const auto ref =
      nlohmann::json::parse(test::read_text_file(kFixtures + "/tokenizer/qwen3_reference.json"));
  return ref;
}

std::string text_of(const std::string& name) {
  for (const auto& c : corpus()) {
    if (c.name == name) return c.text;
  }
  throw Error("no corpus case " + name);
}

// Every reference case, as a parameter, so a failure names the case.
std::vector<std::string> reference_case_names() {
  std::vector<std::string> names;
  for (const auto& c : reference().at("cases")) names.push_back(c.at("name").get<std::string>());
  return names;
}

class TokenizerReference : public testing::TestWithParam<std::string> {};

TEST_P(TokenizerReference, MatchesHuggingFace) {
  const std::string text = text_of(GetParam());
  for (const auto& c : reference().at("cases")) {
    if (c.at("name") != GetParam()) continue;
    const auto expected = c.at("ids").get<std::vector<TokenId>>();
    const auto expected_plain = c.at("ids_no_special").get<std::vector<TokenId>>();
    EXPECT_EQ(qwen3().encode(text, true), expected) << "special parsing on";
    EXPECT_EQ(qwen3().encode(text, false), expected_plain) << "special parsing off";
    // Valid UTF-8 in NFC decodes back to itself.
    EXPECT_EQ(qwen3().decode(expected), qwen3().decode(qwen3().encode(text)));
    return;
  }
  FAIL() << "no reference for " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Corpus, TokenizerReference, testing::ValuesIn(reference_case_names()),
                         [](const auto& info) { return info.param; });

TEST(TokenizerReference, EveryValidCorpusCaseHasAReference) {
  const auto names = reference_case_names();
  for (const auto& c : corpus()) {
    if (c.valid) EXPECT_THAT(names, testing::Contains(c.name));
  }
}

TEST(TokenizerReference, BigTextsMatchHuggingFace) {
  const auto texts = test::big_texts(corpus());
  for (const auto& [name, expected] : reference().at("big").items()) {
    SCOPED_TRACE(name);
    const std::string& text = texts.at(name);
    // The generator must agree with the Python one before the ids can.
    ASSERT_EQ(text.size(), expected.at("bytes").get<size_t>());
    ASSERT_EQ(test::hex64(test::fnv1a64(text)), expected.at("text_fnv1a64").get<std::string>());
    const auto ids = qwen3().encode(text, true);
    const auto first = expected.at("first_ids").get<std::vector<TokenId>>();
    ASSERT_GE(ids.size(), first.size());
    EXPECT_EQ(std::vector<TokenId>(ids.begin(), ids.begin() + first.size()), first);
    EXPECT_EQ(ids.size(), expected.at("count").get<size_t>());
    EXPECT_EQ(test::ids_hash(ids), expected.at("ids_fnv1a64").get<std::string>());
    const auto plain = qwen3().encode(text, false);
    EXPECT_EQ(plain.size(), expected.at("count_no_special").get<size_t>());
    EXPECT_EQ(test::ids_hash(plain), expected.at("ids_no_special_fnv1a64").get<std::string>());
    EXPECT_EQ(qwen3().decode(ids), qwen3().decode(plain));
  }
}

// decode(encode(x)) == NFC(x): x itself for text already in NFC and for the invalid UTF-8
// cases (whose valid parts are NFC), which must come back byte for byte.
TEST(TokenizerReference, CorpusRoundTrips) {
  Normalizer nfc;
  nfc.add(NormalForm::NFC);
  std::vector<std::string> changed_by_nfc;
  for (const auto& c : corpus()) {
    SCOPED_TRACE(c.name);
    std::string expected = c.text;
    if (c.valid && nfc.apply(c.text, expected)) changed_by_nfc.push_back(c.name);
    for (const bool special : {true, false}) {
      EXPECT_EQ(qwen3().decode(qwen3().encode(c.text, special)), expected);
    }
  }
  // U+2000 becomes U+2002 in unicode_spaces.
  EXPECT_THAT(changed_by_nfc, testing::UnorderedElementsAre("unicode_spaces", "combining_marks_nfc",
                                                            "nfc_reordering"));
}

TEST(TokenizerReference, NfcCaseDecodesToItsNormalForm) {
  const auto ids = qwen3().encode(text_of("combining_marks_nfc"));
  const std::string decoded = qwen3().decode(ids);
  EXPECT_NE(decoded, text_of("combining_marks_nfc"));
  EXPECT_THAT(decoded, testing::HasSubstr("Caf\u00e9 \u00c5ngstr\u00f6m \u00c5ngstr\u00f6m"));
  EXPECT_EQ(qwen3().encode(decoded), ids);  // NFC is idempotent
}

// A GGUF written with make-model's metadata (llama.cpp's converter layout: padded vocabulary,
// token types, "a b" merges, pre "qwen2") gives the same ids.
TEST(TokenizerReference, GgufTokenizerMatchesTokenizerJson) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("hh_tokenizer_test_" + std::to_string(getpid()) + ".gguf"))
                               .string();
  GgufWriter writer;
  for (auto& [key, value] : gguf_tokenizer_metadata(qwen3_json_path(), 151936)) {
    writer.add(key, std::move(value));
  }
  writer.write(path);
  const Tokenizer gguf = Tokenizer::load(path);
  std::filesystem::remove(path);

  EXPECT_EQ(gguf.vocab_size(), 151936u);
  EXPECT_EQ(gguf.eos_id(), qwen3().find("<|im_end|>"));
  for (const auto& c : corpus()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(gguf.encode(c.text, true), qwen3().encode(c.text, true));
    // The converter makes <|fim_prefix|> and friends control tokens (special), tokenizer.json
    // does not, so they differ only where they are written out without special parsing.
    if (c.text.find("<|fim") == std::string::npos) {
      EXPECT_EQ(gguf.encode(c.text, false), qwen3().encode(c.text, false));
    }
    EXPECT_EQ(gguf.decode(gguf.encode(c.text)), qwen3().decode(qwen3().encode(c.text)));
  }
  EXPECT_EQ(gguf.kind(151700), TokenKind::Unused);  // "[PAD151700]"
}

TEST(TokenizerReference, HfDirectoryReadsTokenizerConfig) {
  const std::string dir = std::filesystem::path(qwen3_json_path()).parent_path().string();
  const Tokenizer t = Tokenizer::load(dir);
  EXPECT_EQ(t.eos_id(), t.find("<|im_end|>"));
  EXPECT_EQ(t.pad_id(), t.find("<|endoftext|>"));
  EXPECT_FALSE(t.bos_id().has_value());  // Qwen3 has none
  EXPECT_EQ(t.encode("Hello, world"), (std::vector<TokenId>{9707, 11, 1879}));
}

}  // namespace
}  // namespace hh
