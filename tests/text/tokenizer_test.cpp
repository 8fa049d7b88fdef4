// Tokenizer unit tests on small hand-made tokenizers: UTF-8 helpers, the byte-level alphabet, BPE
// merge order, pre-tokenizer behaviours, added tokens, invalid UTF-8, the streaming decoder,
// and every kind of bad tokenizer.json / GGUF metadata (each error must name the field).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <utf8proc.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "model/gguf.h"
#include "text/tokenizer.h"
#include "text/tokenizer_test_util.h"
#include "text/utf8.h"

namespace hh {
namespace {

using Json = nlohmann::json;
using testing::ElementsAre;
using testing::HasSubstr;

// ---- helpers ----

// Qwen's pre-tokenizer as tokenizer.json writes it.
Json qwen_pre_tokenizer() {
  const std::string pattern =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|)"
      R"(\s*[\r\n]+|\s+(?!\S)|\s+)";
  return Json{{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern", {{"Regex", pattern}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                {{"type", "ByteLevel"},
                 {"add_prefix_space", false},
                 {"trim_offsets", false},
                 {"use_regex", false}}}}};
}

// A byte-level BPE tokenizer.json: ids 0..255 are the byte tokens in byte order, then one id per
// merge result in merge order (merges are given in vocabulary spelling).
Json tiny_tokenizer(const std::vector<std::pair<std::string, std::string>>& merges,
                    Json pre_tokenizer = qwen_pre_tokenizer()) {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) {
    std::string spelled;
    append_utf8(spelled, byte_level_char(static_cast<uint8_t>(b)));
    vocab[spelled] = b;
  }
  Json merge_list = Json::array();
  for (const auto& [left, right] : merges) {
    if (!vocab.contains(left + right)) vocab[left + right] = static_cast<int>(vocab.size());
    merge_list.push_back(left + " " + right);
  }
  return Json{{"version", "1.0"},
              {"added_tokens", Json::array()},
              {"normalizer", {{"type", "NFC"}}},
              {"pre_tokenizer", pre_tokenizer},
              {"decoder", {{"type", "ByteLevel"}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}}}};
}

Json added_token(int id, const std::string& content, bool special) {
  return Json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
              {"rstrip", false}, {"normalized", false}, {"special", special}};
}

Tokenizer load(const Json& j) { return Tokenizer::from_json(j.dump(), "test.json"); }

// The message of the FormatError that loading `json_text` throws.
std::string load_error(const std::string& json_text) {
  try {
    Tokenizer::from_json(json_text, "test.json");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> pieces_of(const Tokenizer& t, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (const TokenId id : ids) out.emplace_back(t.token_bytes(id));
  return out;
}

// ---- UTF-8 ----

TEST(Utf8, ValidPrefixFollowsTheUnicodeRules) {
  EXPECT_EQ(utf8_valid_prefix("plain ascii text, longer than eight bytes"), 41u);
  EXPECT_EQ(utf8_valid_prefix("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), 12u);
  EXPECT_EQ(utf8_valid_prefix("ab\xC0\xAF"), 2u);          // overlong '/'
  EXPECT_EQ(utf8_valid_prefix("ab\xE0\x80\x80"), 2u);      // overlong NUL
  EXPECT_EQ(utf8_valid_prefix("ab\xED\xA0\x80"), 2u);      // surrogate U+D800
  EXPECT_EQ(utf8_valid_prefix("ab\xF4\x90\x80\x80"), 2u);  // above U+10FFFF
  EXPECT_EQ(utf8_valid_prefix("ab\xE4\xBD"), 2u);          // cut off
  EXPECT_EQ(utf8_valid_prefix("ab\x80"), 2u);              // lone continuation
  EXPECT_EQ(utf8_valid_prefix(std::string("a\0b", 3)), 3u);
  EXPECT_TRUE(utf8_is_valid("\xEF\xBF\xBF"));  // U+FFFF is a valid scalar value
}

TEST(Utf8, IncompleteSuffixOnlyCountsCompletableBytes) {
  EXPECT_EQ(utf8_incomplete_suffix("ab"), 0u);
  EXPECT_EQ(utf8_incomplete_suffix("a\xE4"), 1u);
  EXPECT_EQ(utf8_incomplete_suffix("a\xE4\xBD"), 2u);
  EXPECT_EQ(utf8_incomplete_suffix("a\xE4\xBD\xA0"), 0u);  // complete
  EXPECT_EQ(utf8_incomplete_suffix("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8_incomplete_suffix("a\xED\xA0"), 0u);  // would be a surrogate: never completes
  EXPECT_EQ(utf8_incomplete_suffix("a\xFF"), 0u);
  EXPECT_EQ(utf8_incomplete_suffix("\x80\x80"), 0u);
}

TEST(Utf8, MakeValidReplacesMaximalSubparts) {
  EXPECT_EQ(utf8_make_valid("a\xFF"
                            "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(utf8_make_valid("a\xE4\xBD"
                            "b"),
            "a\xEF\xBF\xBD"
            "b");  // one U+FFFD for two bytes
  EXPECT_EQ(utf8_make_valid("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8_make_valid("ok \xE2\x82\xAC"), "ok \xE2\x82\xAC");
}

TEST(Utf8, QuoteBytesIsReadable) {
  EXPECT_EQ(quote_bytes("a \"b\"\\\n\t\x1b"), R"("a \"b\"\\\n\t\u001b")");
  EXPECT_EQ(quote_bytes("\xE2\x82\xAC\xFF\xE4\xBD"), "\"\xE2\x82\xAC\\xff\\xe4\\xbd\"");
  EXPECT_EQ(quote_bytes(std::string("\0", 1)), R"("\u0000")");
}

// ---- byte-level alphabet ----

TEST(ByteLevel, MapsEveryByteToADistinctPrintableCharacter) {
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const char32_t c = byte_level_char(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(c).second) << b;
    EXPECT_EQ(byte_level_byte(c), b);
  }
  EXPECT_EQ(byte_level_char(' '), U'\u0120');   // "Ġ"
  EXPECT_EQ(byte_level_char('\n'), U'\u010A');  // "Ċ"
  EXPECT_EQ(byte_level_char('a'), U'a');
  EXPECT_EQ(byte_level_char(0xAD), U'\u0143');  // soft hyphen: the last unprintable byte
  EXPECT_EQ(byte_level_byte(U'\u0144'), -1);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(byte_level_decode(byte_level_encode(all)), all);
  EXPECT_FALSE(byte_level_decode("\xE4\xBD\xA0").has_value());  // 你 is not in the table
}

// ---- normaliser and pre-tokenizer ----

TEST(Normalizer, ComposesToNfcAndKeepsNulBytes) {
  Normalizer n;
  n.add(NormalForm::NFC);
  std::string out;
  EXPECT_FALSE(n.apply("already fine", out));
  EXPECT_FALSE(n.apply("caf\xC3\xA9", out));  // é precomposed
  ASSERT_TRUE(n.apply(std::string("cafe\xCC\x81\0x", 8), out));
  EXPECT_EQ(out, std::string("caf\xC3\xA9\0x", 7));
  ASSERT_TRUE(n.apply("\xE2\x84\xAB", out));  // U+212B ANGSTROM SIGN -> U+00C5
  EXPECT_EQ(out, "\xC3\x85");
}

// The normaliser works segment by segment; the result must equal utf8proc on the whole text.
TEST(Normalizer, SegmentedNfcEqualsWholeTextNfc) {
  // Starters, combining marks in both orders, singletons, Hangul jamo, Indic two-part vowels,
  // and characters that pass through untouched.
  const std::vector<char32_t> alphabet = {
      'a',    'e',    'A',    ' ',    0xE9,   0x300,  0x301,  0x316,  0x323,  0x308,  0x304,
      0x212B, 0x2126, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0x0B47, 0x0B3E, 0x0B57, 0x0BC6,
      0x0BBE, 0x0CC6, 0x0CD5, 0x09C7, 0x09BE, 0x1B05, 0x1B35, 0x3099, 0x304B, 0x4E00, 0x1F600,
      0x2014, 0x0627, 0x0653, 0x1E0D, 0x0307, 0x1FBE, 0x0344, 0x0F73, 0x0958};
  Normalizer n;
  n.add(NormalForm::NFC);
  uint64_t x = 7;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int length = 1 + static_cast<int>(round % 12);
    for (int i = 0; i < length; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      append_utf8(text, alphabet[(x >> 33) % alphabet.size()]);
    }
    utf8proc_uint8_t* whole = nullptr;
    const auto len =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     static_cast<utf8proc_ssize_t>(text.size()), &whole,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    ASSERT_GE(len, 0);
    const std::string expected(reinterpret_cast<const char*>(whole), static_cast<size_t>(len));
    std::free(whole);
    std::string out = text;
    n.apply(text, out);
    ASSERT_EQ(out, expected) << quote_bytes(text);
  }
}

std::vector<std::string> split_with(const PreTokenizer& pre, std::string_view text) {
  PreTokenizer::Session session(pre);
  std::vector<PieceSpan> spans;
  const std::string_view subject = pre.split(text, session, spans);
  std::vector<std::string> out;
  for (const PieceSpan& s : spans) out.emplace_back(subject.substr(s.begin, s.end - s.begin));
  return out;
}

// tokenizers' documentation example for SplitDelimiterBehavior.
TEST(PreTokenizer, SplitBehaviorsMatchTokenizers) {
  const auto split = [](SplitBehavior behavior, bool invert = false) {
    PreTokenizer pre;
    pre.add_split(TokenizerRegex("-", false, "test"), behavior, invert);
    return split_with(pre, "the-final--countdown");
  };
  EXPECT_THAT(split(SplitBehavior::Removed), ElementsAre("the", "final", "countdown"));
  EXPECT_THAT(split(SplitBehavior::Isolated),
              ElementsAre("the", "-", "final", "-", "-", "countdown"));
  EXPECT_THAT(split(SplitBehavior::MergedWithPrevious),
              ElementsAre("the-", "final-", "-", "countdown"));
  EXPECT_THAT(split(SplitBehavior::MergedWithNext),
              ElementsAre("the", "-final", "-", "-countdown"));
  EXPECT_THAT(split(SplitBehavior::Contiguous),
              ElementsAre("the", "-", "final", "--", "countdown"));
  EXPECT_THAT(split(SplitBehavior::Removed, true), ElementsAre("-", "-", "-"));
}

TEST(PreTokenizer, DigitsAndByteLevelSteps) {
  PreTokenizer digits;
  digits.add_digits(true, "test");
  EXPECT_THAT(split_with(digits, "ab123c"), ElementsAre("ab", "1", "2", "3", "c"));
  PreTokenizer runs;
  runs.add_digits(false, "test");
  EXPECT_THAT(split_with(runs, "ab123c4"), ElementsAre("ab", "123", "c", "4"));
  PreTokenizer gpt2;
  gpt2.add_byte_level(true, true, "test");
  EXPECT_THAT(split_with(gpt2, "Hello world's  end"),
              ElementsAre(" Hello", " world", "'s", " ", " end"));
}

TEST(PreTokenizer, QwenPatternSplitsDigitsContractionsAndSpaces) {
  const GgufPreset preset = gguf_pre_tokenizer("qwen2", "k");
  const PreTokenizer& qwen = preset.pre;
  EXPECT_THAT(split_with(qwen, "I'M 12 ab  \n\n  x  "),
              ElementsAre("I", "'M", " ", "1", "2", " ab", "  \n\n", " ", " x", "  "));
  // \s is Unicode White_Space: U+180E (a format character) is not, U+3000 is.
  EXPECT_THAT(split_with(qwen, "a \u180Eb c\u3000\u3000d"),
              ElementsAre("a", " \u180E", "b", " c", "\u3000", "\u3000d"));
}

TEST(PreTokenizer, GgufPresetsCompileAndSplitNumbersTheirWay) {
  for (const char* name :
       {"qwen2", "llama-bpe", "gpt-2", "deepseek-llm", "deepseek-coder", "deepseek-v3", "falcon",
        "starcoder", "tekken", "gpt-4o", "bloom", "viking", "chatglm-bpe", "default"}) {
    SCOPED_TRACE(name);
    const GgufPreset preset = gguf_pre_tokenizer(name, "tokenizer.ggml.pre");
    std::string joined;
    for (const auto& p : split_with(preset.pre, "Hello, 12345 wörld!\n  x")) joined += p;
    EXPECT_EQ(joined, "Hello, 12345 wörld!\n  x");  // Isolated steps lose nothing
  }
  EXPECT_THAT(split_with(gguf_pre_tokenizer("qwen2", "k").pre, "12345"),
              ElementsAre("1", "2", "3", "4", "5"));
  EXPECT_THAT(split_with(gguf_pre_tokenizer("llama-bpe", "k").pre, "12345"),
              ElementsAre("123", "45"));
  EXPECT_THAT(split_with(gguf_pre_tokenizer("gpt-2", "k").pre, "a 12345"),
              ElementsAre("a", " 12345"));
  EXPECT_TRUE(gguf_pre_tokenizer("llama-bpe", "k").ignore_merges);
  EXPECT_TRUE(gguf_pre_tokenizer("qwen2", "k").nfc);
}

TEST(PreTokenizer, UnknownGgufNameNamesTheField) {
  try {
    gguf_pre_tokenizer("no-such-model", "model.gguf: tokenizer.ggml.pre");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr("tokenizer.ggml.pre"));
    EXPECT_THAT(e.what(), HasSubstr("no-such-model"));
    EXPECT_THAT(e.what(), HasSubstr("qwen2"));  // lists the known names
  }
}

// ---- BPE ----

TEST(Bpe, MergesLowestRankFirstAndLeftmostOnTies) {
  const Tokenizer t = load(tiny_tokenizer({{"a", "a"}, {"b", "c"}, {"aa", "bc"}, {"a", "b"}}));
  // "aaa": a+a merges leftmost first, leaving "aa" "a".
  EXPECT_THAT(pieces_of(t, t.encode("aaa")), ElementsAre("aa", "a"));
  // "aabc": rank 0 (a a) and rank 1 (b c) first, then rank 2 joins them; rank 3 (a b) never
  // gets its chance.
  EXPECT_THAT(pieces_of(t, t.encode("aabc")), ElementsAre("aabc"));
  // "abc": (b c) has a lower rank than (a b).
  EXPECT_THAT(pieces_of(t, t.encode("abc")), ElementsAre("a", "bc"));
}

TEST(Bpe, PairMergesAndIgnoreMerges) {
  Json j = tiny_tokenizer({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}});
  j["model"]["merges"] = Json::parse(R"([["h","e"],["l","l"],["he","ll"],["hell","o"]])");
  const Tokenizer pairs = load(j);
  EXPECT_THAT(pieces_of(pairs, pairs.encode("hello")), ElementsAre("hello"));
  // A whole word in the vocabulary that merges cannot reach.
  j["model"]["vocab"]["xyz"] = 9999;
  EXPECT_EQ(load(j).encode("xyz").size(), 3u);
  j["model"]["ignore_merges"] = true;
  EXPECT_THAT(load(j).encode("xyz"), ElementsAre(9999));
}

TEST(Bpe, LongWordsAndRunsStayFast) {
  const Tokenizer t = load(tiny_tokenizer({{"a", "b"}, {"ab", "ab"}, {"Ġ", "Ġ"}}));
  // 200k bytes in one pre-token each: the heap-based merge loop keeps this fast, the cache
  // skips words this long.
  const std::string word(200000, 'a');
  EXPECT_EQ(t.encode(word).size(), word.size());
  std::string ab;
  for (int i = 0; i < 100000; ++i) ab += "ab";
  const auto ids = t.encode(ab);
  EXPECT_EQ(ids.size(), 50000u);  // "abab" tokens
  EXPECT_EQ(t.decode(ids), ab);
  const std::string spaces(100001, ' ');
  EXPECT_EQ(t.decode(t.encode(spaces)), spaces);
}

// ---- added tokens ----

Tokenizer with_added_tokens() {
  Json j = tiny_tokenizer({{"i", "m"}});
  j["added_tokens"] =
      Json::array({added_token(1000, "<|im_start|>", true), added_token(1001, "<|im_end|>", true),
                   added_token(1002, "<think>", false), added_token(1003, "<|im", true)});
  return load(j);
}

TEST(AddedTokens, SpecialTokensOnlyWithSpecialParsing) {
  const Tokenizer t = with_added_tokens();
  EXPECT_THAT(t.encode("<|im_start|>x<|im_end|>", true), ElementsAre(1000, 'x', 1001));
  const auto plain = t.encode("<|im_start|>x<|im_end|>", false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1000), 0);
  EXPECT_EQ(t.decode(plain), "<|im_start|>x<|im_end|>");
  // Longest match first: "<|im" is a prefix of both.
  EXPECT_THAT(t.encode("<|im<|im_end|>"), ElementsAre(1003, 1001));
  // Non-special added tokens are always matched.
  EXPECT_THAT(t.encode("<think>", false), ElementsAre(1002));
  EXPECT_EQ(t.kind(1000), TokenKind::Special);
  EXPECT_EQ(t.kind(1002), TokenKind::Added);
  EXPECT_EQ(t.kind('x'), TokenKind::Normal);
  EXPECT_EQ(t.find("<|im_end|>"), 1001);
  EXPECT_EQ(t.find("im"), 256);
  EXPECT_FALSE(t.find("nope").has_value());
}

TEST(AddedTokens, DecodeCanSkipSpecialTokens) {
  const Tokenizer t = with_added_tokens();
  const std::vector<TokenId> ids = {1000, 'a', 1002, 1001};
  EXPECT_EQ(t.decode(ids), "<|im_start|>a<think><|im_end|>");
  EXPECT_EQ(t.decode(ids, true), "a<think>");
  EXPECT_THROW(t.decode(std::vector<TokenId>{5000}), UsageError);
  EXPECT_THROW(t.decode(std::vector<TokenId>{-1}), UsageError);
  EXPECT_THROW(t.decode(std::vector<TokenId>{500}), UsageError);  // a hole between 256 and 1000
}

TEST(AddedTokens, StripAndSingleWordFlags) {
  Json j = tiny_tokenizer({});
  Json strip = added_token(300, "<mask>", true);
  strip["lstrip"] = true;
  strip["rstrip"] = true;
  Json word = added_token(301, "cat", false);
  word["single_word"] = true;
  j["added_tokens"] = Json::array({strip, word});
  const Tokenizer t = load(j);
  EXPECT_THAT(t.encode("a  <mask>  b"), ElementsAre('a', 300, 'b'));
  EXPECT_THAT(t.encode("cat"), ElementsAre(301));
  EXPECT_THAT(t.encode("a cat!"), ElementsAre('a', ' ', 301, '!'));
  EXPECT_EQ(t.encode("concatenate").size(), 11u);  // inside a word: not matched
}

// ---- invalid UTF-8 and NUL ----

TEST(InvalidUtf8, EachBadByteIsItsOwnByteTokenAndRoundTrips) {
  const Tokenizer t = with_added_tokens();
  std::string text = "ab\xFF\xE4\xBD";
  text += "<|im_end|>";
  text += std::string("\x80\0z", 3);
  const auto ids = t.encode(text);
  EXPECT_EQ(t.decode(ids), text);
  // The bad bytes' ids are the byte tokens themselves.
  EXPECT_THAT(ids, testing::Contains(0xFF));
  EXPECT_THAT(ids, testing::Contains(0xE4));
  EXPECT_THAT(ids, testing::Contains(0xBD));
  EXPECT_THAT(ids, testing::Contains(0x80));
  EXPECT_THAT(ids, testing::Contains(0));  // NUL
  EXPECT_THAT(ids, testing::Contains(1001));
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_THAT(t.encode(one), ElementsAre(b));
  }
}

// ---- streaming decoder ----

TEST(StreamDecoder, NeverSplitsACharacter) {
  const Tokenizer t = with_added_tokens();
  const std::string text = "\xE2\x82\xAC \xF0\x9F\x98\x80 x";  // € 😀 x, one byte per token
  TokenStreamDecoder stream(t);
  std::vector<std::string> outputs;
  for (const TokenId id : t.encode(text)) outputs.push_back(stream.feed(id));
  outputs.push_back(stream.flush());
  EXPECT_THAT(outputs, ElementsAre("", "", "\xE2\x82\xAC", " ", "", "", "", "\xF0\x9F\x98\x80", " ",
                                   "x", ""));
}

TEST(StreamDecoder, BadBytesBecomeReplacementCharacters) {
  const Tokenizer t = with_added_tokens();
  TokenStreamDecoder stream(t);
  EXPECT_EQ(stream.feed(0xFF), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.feed(0xE2), "");
  EXPECT_EQ(stream.feed('a'),
            "\xEF\xBF\xBD"
            "a");  // the cut character can no longer finish
  EXPECT_EQ(stream.feed(0xF0), "");
  EXPECT_EQ(stream.feed(0x9F), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.flush(), "");
}

TEST(StreamDecoder, SkipsSpecialTokensWhenAsked) {
  const Tokenizer t = with_added_tokens();
  TokenStreamDecoder stream(t, true);
  EXPECT_EQ(stream.feed(1000), "");
  EXPECT_EQ(stream.feed(1002), "<think>");
  TokenStreamDecoder all(t);
  EXPECT_EQ(all.feed(1001), "<|im_end|>");
}

// ---- bad tokenizer.json ----

TEST(BadTokenizerJson, SyntaxError) {
  EXPECT_THAT(load_error(R"({"model": {"vocab": {"a": 0,}})"),
              HasSubstr("test.json: JSON syntax error at byte"));
  EXPECT_THAT(load_error(""), HasSubstr("JSON syntax error"));
  EXPECT_THAT(load_error("[1, 2]"), HasSubstr("not a JSON object"));
}

TEST(BadTokenizerJson, MissingFields) {
  Json j = tiny_tokenizer({});
  j.erase("model");
  EXPECT_THAT(load_error(j.dump()), HasSubstr("missing field model"));
  j = tiny_tokenizer({});
  j["model"].erase("vocab");
  EXPECT_THAT(load_error(j.dump()), HasSubstr("test.json: missing field model.vocab"));
  j = tiny_tokenizer({});
  j["model"].erase("merges");
  EXPECT_THAT(load_error(j.dump()), HasSubstr("test.json: missing field model.merges"));
  j = tiny_tokenizer({});
  j["model"]["vocab"] = Json::object();
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.vocab: is empty"));
}

TEST(BadTokenizerJson, MalformedVocabAndMerges) {
  Json j = tiny_tokenizer({});
  j["model"]["vocab"]["zz"] = "seven";
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.vocab[\"zz\"] must be a token id"));
  j["model"]["vocab"]["zz"] = Json::array({1});
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.vocab[\"zz\"] must be a token id"));
  j["model"]["vocab"]["zz"] = -3;
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.vocab[\"zz\"]"));
  j = tiny_tokenizer({{"a", "b"}});
  j["model"]["merges"].push_back("nospace");
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.merges[1]: expected \"left right\""));
  j["model"]["merges"][1] = 42;
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.merges[1]"));
  j["model"]["merges"][1] = Json::array({"a", "b", "c"});
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.merges[1]"));
  j["model"]["merges"][1] = Json::object();
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.merges[1]"));
  j["model"]["merges"] = "a b";
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.merges: must be an array"));
}

TEST(BadTokenizerJson, MergeNamingUnknownToken) {
  Json j = tiny_tokenizer({{"a", "b"}});
  j["model"]["merges"].push_back("ab zebra");
  const std::string message = load_error(j.dump());
  EXPECT_THAT(message, HasSubstr("test.json: model.merges[1]"));
  EXPECT_THAT(message, HasSubstr("'zebra'"));
  j = tiny_tokenizer({{"a", "b"}});
  j["model"]["merges"].push_back("b a");  // both sides exist, "ba" does not
  EXPECT_THAT(load_error(j.dump()), HasSubstr("gives 'ba', which is not in the vocabulary"));
}

TEST(BadTokenizerJson, UnsupportedParts) {
  Json j = tiny_tokenizer({});
  j["model"]["type"] = "WordPiece";
  EXPECT_THAT(load_error(j.dump()), HasSubstr("model.type: model 'WordPiece' is not supported"));
  j = tiny_tokenizer({});
  j["pre_tokenizer"] = Json{{"type", "Metaspace"}};
  EXPECT_THAT(load_error(j.dump()), HasSubstr("pre_tokenizer.type: pre-tokenizer 'Metaspace'"));
  j = tiny_tokenizer({});
  j["pre_tokenizer"]["pretokenizers"][1]["type"] = "Whitespace";
  EXPECT_THAT(load_error(j.dump()), HasSubstr("pre_tokenizer.pretokenizers[1].type"));
  j = tiny_tokenizer({});
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways";
  EXPECT_THAT(load_error(j.dump()),
              HasSubstr("pre_tokenizer.pretokenizers[0].behavior: unknown behavior 'Sideways'"));
  j = tiny_tokenizer({});
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  EXPECT_THAT(load_error(j.dump()), HasSubstr("pre_tokenizer.pretokenizers[0].pattern"));
  j = tiny_tokenizer({});
  j["pre_tokenizer"] =
      Json{{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Isolated"}};
  EXPECT_THAT(load_error(j.dump()), HasSubstr("has no ByteLevel step"));
  j = tiny_tokenizer({});
  j["normalizer"] = Json{{"type", "Lowercase"}};
  EXPECT_THAT(load_error(j.dump()), HasSubstr("normalizer.type: normalizer 'Lowercase'"));
  j = tiny_tokenizer({});
  j["added_tokens"] = Json::array({Json{{"id", 300}}});
  EXPECT_THAT(load_error(j.dump()), HasSubstr("missing field added_tokens[0].content"));
}

TEST(BadTokenizerJson, ModelPathErrors) {
  EXPECT_THROW(Tokenizer::load("/no/such/model"), UsageError);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("hh_tokenizer_empty_dir_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  try {
    Tokenizer::load(dir.string());
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no tokenizer.json"));
  }
  std::filesystem::remove_all(dir);
}

// ---- GGUF metadata ----

class GgufTokenizerFile : public testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }

  // A GGUF with the byte tokens, "ab", "<|im_end|>" (control) and the given overrides.
  void write(const std::vector<std::pair<std::string, GgufValue>>& overrides) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (int b = 0; b < 256; ++b) {
      std::string spelled;
      append_utf8(spelled, byte_level_char(static_cast<uint8_t>(b)));
      tokens.push_back(spelled);
      types.push_back(1);
    }
    tokens.push_back("ab");
    types.push_back(1);
    tokens.push_back("<|im_end|>");
    types.push_back(3);
    std::vector<std::pair<std::string, GgufValue>> kv = {
        {"tokenizer.ggml.model", gguf_string("gpt2")},
        {"tokenizer.ggml.pre", gguf_string("qwen2")},
        {"tokenizer.ggml.tokens", gguf_string_array(tokens)},
        {"tokenizer.ggml.token_type", gguf_i32_array(types)},
        {"tokenizer.ggml.merges", gguf_string_array({"a b"})},
        {"tokenizer.ggml.eos_token_id", gguf_u32(257)},
    };
    for (const auto& [key, value] : overrides) {
      bool replaced = false;
      for (auto& entry : kv) {
        if (entry.first == key) {
          entry.second = value;
          replaced = true;
        }
      }
      if (!replaced) kv.emplace_back(key, value);
    }
    GgufWriter writer;
    for (auto& [key, value] : kv) {
      if (!(value.type == GgufType::String && value.string_value == "<remove>")) {
        writer.add(key, value);
      }
    }
    writer.write(path_);
  }
  std::string error() {
    try {
      Tokenizer::from_gguf_file(path_);
    } catch (const FormatError& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::string path_ = (std::filesystem::temp_directory_path() /
                       ("hh_tokenizer_gguf_" + std::to_string(getpid()) + ".gguf"))
                          .string();
};

TEST_F(GgufTokenizerFile, LoadsTokensMergesAndSpecialIds) {
  write({});
  const Tokenizer t = Tokenizer::from_gguf_file(path_);
  EXPECT_EQ(t.vocab_size(), 258u);
  EXPECT_THAT(t.encode("ab<|im_end|>"), ElementsAre(256, 257));
  EXPECT_EQ(t.encode("ab<|im_end|>", false).size(), 1u + 10u);
  EXPECT_EQ(t.eos_id(), 257);
  EXPECT_EQ(t.kind(257), TokenKind::Special);
}

TEST_F(GgufTokenizerFile, UnknownPreNameNamesTheField) {
  write({{"tokenizer.ggml.pre", gguf_string("mystery-bpe")}});
  EXPECT_THAT(error(), HasSubstr("tokenizer.ggml.pre: unknown pre-tokenizer 'mystery-bpe'"));
}

TEST_F(GgufTokenizerFile, OtherBadMetadata) {
  write({{"tokenizer.ggml.model", gguf_string("llama")}});
  EXPECT_THAT(error(), HasSubstr("tokenizer.ggml.model is 'llama'"));
  write({{"tokenizer.ggml.merges", gguf_string_array({"a b", "ab zz"})}});
  EXPECT_THAT(error(), HasSubstr("tokenizer.ggml.merges[1]"));
  write({{"tokenizer.ggml.merges", gguf_string("<remove>")}});
  EXPECT_THAT(error(), HasSubstr("missing metadata tokenizer.ggml.merges"));
  write({{"tokenizer.ggml.token_type", gguf_i32_array({1, 1})}});
  EXPECT_THAT(error(), HasSubstr("tokenizer.ggml.token_type has 2 entries"));
  write({{"tokenizer.ggml.eos_token_id", gguf_u32(99999)}});
  EXPECT_THAT(error(), HasSubstr("tokenizer.ggml.eos_token_id is 99999"));
  write({{"tokenizer.ggml.tokens", gguf_string("not a list")}});
  EXPECT_THAT(error(), HasSubstr("tokenizer.ggml.tokens must be an array of strings"));
}

}  // namespace
}  // namespace hh
