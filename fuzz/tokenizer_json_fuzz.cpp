// libFuzzer target for the tokenizer. The first byte picks the mode:
//   even: the rest is text for a fixed small byte-level tokenizer (Qwen's pre-tokenizer, added
//         special and plain tokens, no normaliser); checks decode(encode(x)) == x with and
//         without special-token parsing, and that the streaming decoder emits valid UTF-8 that
//         adds up to the lossy decoding of x.
//   odd:  the rest is a tokenizer.json; loading either fails with hh::Error or gives a
//         tokenizer that then encodes and decodes a sample text and the input without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "text/tokenizer.h"
#include "text/utf8.h"
#include "util/error.h"

namespace {

std::string small_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) {
    std::string spelled;
    hh::append_utf8(spelled, hh::byte_level_char(static_cast<uint8_t>(b)));
    vocab[spelled] = b;
  }
  nlohmann::json merges = nlohmann::json::array();
  for (const char* m :
       {"\u0120 t", "h e", "i n", "\u0120t he", "e r", "\u0120 \u0120", "a n", "o n"}) {
    const std::string merge = m;
    const size_t space = merge.find(' ');
    vocab[merge.substr(0, space) + merge.substr(space + 1)] = static_cast<int>(vocab.size());
    merges.push_back(merge);
  }
  const auto added = [](int id, const char* content, bool special) {
    return nlohmann::json{
        {"id", id},        {"content", content}, {"special", special},  {"normalized", false},
        {"lstrip", false}, {"rstrip", false},    {"single_word", false}};
  };
  return nlohmann::json{
      {"added_tokens",
       {added(300, "<|im_start|>", true), added(301, "<|im_end|>", true),
        added(302, "<think>", false), added(303, "<|im", true)}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern",
            {{"Regex",
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
              "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
           {"behavior", "Isolated"}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}}
      .dump();
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer fuzz: %s\n", what);
    std::abort();
  }
}

void fuzz_text(const std::string& text) {
  static const hh::Tokenizer t = hh::Tokenizer::from_json(small_tokenizer_json(), "fuzz.json");
  for (const bool special : {true, false}) {
    const auto ids = t.encode(text, special);
    check(t.decode(ids) == text, "decode(encode(x)) != x");
    hh::TokenStreamDecoder stream(t);
    std::string streamed;
    for (const auto id : ids) {
      const std::string piece = stream.feed(id);
      check(hh::utf8_is_valid(piece), "the stream emitted invalid UTF-8");
      streamed += piece;
    }
    streamed += stream.flush();
    check(streamed == hh::utf8_make_valid(text), "the stream differs from the lossy text");
  }
}

void fuzz_json(const std::string& json) {
  try {
    const hh::Tokenizer t = hh::Tokenizer::from_json(json, "fuzz.json");
    for (const std::string& text :
         {std::string("Hello, <|im_end|> wörld 123 \xF0\x9F\x98\x80"), json.substr(0, 256)}) {
      for (const bool special : {true, false}) {
        const auto ids = t.encode(text, special);
        (void)t.decode(ids, !special);
      }
    }
  } catch (const hh::Error&) {
    // Rejected cleanly.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    fuzz_text(rest);
  } else {
    fuzz_json(rest);
  }
  return 0;
}
