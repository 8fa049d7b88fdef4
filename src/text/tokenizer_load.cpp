// Loading a Tokenizer: tokenizer.json (+ tokenizer_config.json), a model directory, or a GGUF
// file's tokenizer.ggml.* metadata. Every error names the file and the field.
#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "model/gguf.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace hh {

using Json = nlohmann::json;

namespace {

std::string read_whole_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail_errno(fmt::format("cannot open '{}'", path));
  std::string data;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) data.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) fail_format("cannot read '{}'", path);
  return data;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Json parse_json(std::string_view text, const std::string& name) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    fail_format("{}: JSON syntax error at byte {}: {}", name, e.byte, e.what());
  } catch (const Json::exception& e) {
    fail_format("{}: bad JSON: {}", name, e.what());
  }
}

// What parse_json_capturing takes out of model.vocab and model.merges.
struct Captured {
  struct Token {
    uint32_t offset;  // into vocab_text
    uint32_t length;
    TokenId id;
  };
  struct Merge {
    uint32_t left_offset;  // into merge_text; the whole "a b" string when !pair
    uint32_t left_length;
    uint32_t right_offset;
    uint32_t right_length;
    bool pair;  // written as ["a", "b"]
  };
  std::string vocab_text;
  std::vector<Token> vocab;
  std::string merge_text;
  std::vector<Merge> merges;
};

uint32_t append_text(std::string& arena, const std::string& text, const std::string& name) {
  if (arena.size() + text.size() > std::numeric_limits<uint32_t>::max()) {
    fail_format("{}: vocabulary or merges exceed 4 GiB", name);
  }
  const auto offset = static_cast<uint32_t>(arena.size());
  arena.append(text);
  return offset;
}

// Parses tokenizer.json, moving model.vocab entries and model.merges elements into `out` as
// they are read (the document keeps an empty vocab object and merges array). Uses nlohmann's
// parser callback, which reports each key and value with the nesting it is in.
Json parse_json_capturing(std::string_view text, const std::string& name, Captured& out) {
  struct Level {
    bool object;
    std::string key;  // the current key when `object`
  };
  std::vector<Level> stack;
  const auto in_model_field = [&](const char* field) {
    return stack.size() >= 3 && stack[0].object && stack[0].key == "model" && stack[1].object &&
           stack[1].key == field;
  };
  const Json::parser_callback_t callback = [&](int /*depth*/, Json::parse_event_t event,
                                               Json& parsed) -> bool {
    const bool in_vocab = stack.size() == 3 && in_model_field("vocab") && stack[2].object;
    const bool in_merges = stack.size() == 3 && in_model_field("merges") && !stack[2].object;
    const bool in_merge_pair = stack.size() == 4 && in_model_field("merges") && !stack[2].object;
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (in_vocab) {
          fail_format("{}: model.vocab[\"{}\"] must be a token id (an integer from 0 to {})", name,
                      stack[2].key, kMaxTokenId);
        }
        if ((in_merges && event == Json::parse_event_t::object_start) || in_merge_pair) {
          fail_format(
              "{}: model.merges[{}]: expected a string \"left right\" or a pair of "
              "strings",
              name, out.merges.size());
        }
        stack.push_back({event == Json::parse_event_t::object_start, {}});
        return true;
      case Json::parse_event_t::key:
        if (stack.empty()) return true;
        stack.back().key = parsed.get<std::string>();
        // A vocabulary key is not stored: its value is captured below.
        return !in_vocab;
      case Json::parse_event_t::object_end:
        if (!stack.empty()) stack.pop_back();
        return true;
      case Json::parse_event_t::array_end: {
        // Here the stack still has the ending array on top.
        const bool merge_pair = in_merge_pair;
        if (!stack.empty()) stack.pop_back();
        if (!merge_pair) return true;
        const size_t index = out.merges.size();
        if (parsed.size() != 2 || !parsed[0].is_string() || !parsed[1].is_string()) {
          fail_format(
              "{}: model.merges[{}]: expected a string \"left right\" or a pair of "
              "strings",
              name, index);
        }
        const auto& left = parsed[0].get_ref<const std::string&>();
        const auto& right = parsed[1].get_ref<const std::string&>();
        const uint32_t lo = append_text(out.merge_text, left, name);
        const uint32_t ro = append_text(out.merge_text, right, name);
        out.merges.push_back({lo, static_cast<uint32_t>(left.size()), ro,
                              static_cast<uint32_t>(right.size()), true});
        return false;
      }
      case Json::parse_event_t::value:
        if (in_vocab) {
          const std::string& token = stack[2].key;
          if (!parsed.is_number_integer() || parsed.get<int64_t>() < 0 ||
              parsed.get<int64_t>() > kMaxTokenId) {
            fail_format("{}: model.vocab[\"{}\"] must be a token id (an integer from 0 to {})",
                        name, token, kMaxTokenId);
          }
          const uint32_t offset = append_text(out.vocab_text, token, name);
          out.vocab.push_back({offset, static_cast<uint32_t>(token.size()),
                               static_cast<TokenId>(parsed.get<int64_t>())});
          return false;
        }
        if (in_merges) {
          if (!parsed.is_string()) {
            fail_format(
                "{}: model.merges[{}]: expected a string \"left right\" or a pair of "
                "strings",
                name, out.merges.size());
          }
          const auto& merge = parsed.get_ref<const std::string&>();
          const uint32_t offset = append_text(out.merge_text, merge, name);
          out.merges.push_back({offset, static_cast<uint32_t>(merge.size()), 0, 0, false});
          return false;
        }
        return true;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& e) {
    fail_format("{}: JSON syntax error at byte {}: {}", name, e.byte, e.what());
  } catch (const Json::exception& e) {
    fail_format("{}: bad JSON: {}", name, e.what());
  }
}

// Typed access to tokenizer.json fields with the field's path in every message.
class Fields {
 public:
  explicit Fields(std::string name) : name_(std::move(name)) {}

  const Json& require(const Json& object, const char* key, const std::string& path) const {
    if (!object.is_object()) fail_format("{}: {} is not an object", name_, parent(path));
    const auto it = object.find(key);
    if (it == object.end()) fail_format("{}: missing field {}", name_, path);
    return *it;
  }
  const Json* optional(const Json& object, const char* key) const {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string(const Json& value, const std::string& path) const {
    if (!value.is_string()) fail_format("{}: {} must be a string", name_, path);
    return value.get<std::string>();
  }
  bool boolean(const Json& object, const char* key, bool fallback, const std::string& path) const {
    const Json* v = optional(object, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail_format("{}: {} must be true or false", name_, path);
    return v->get<bool>();
  }
  TokenId id(const Json& value, const std::string& path) const {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > kMaxTokenId) {
      fail_format("{}: {} must be a token id (an integer from 0 to {})", name_, path, kMaxTokenId);
    }
    return static_cast<TokenId>(value.get<int64_t>());
  }
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    fail_format("{}: {}: {}", name_, path, what);
  }
  const std::string& name() const { return name_; }

 private:
  static std::string parent(const std::string& path) {
    const auto dot = path.rfind('.');
    return dot == std::string::npos ? "the document" : path.substr(0, dot);
  }
  std::string name_;
};

void add_normalizer(const Fields& f, const Json& node, const std::string& path, Normalizer& out) {
  const std::string type = f.string(f.require(node, "type", path + ".type"), path + ".type");
  if (type == "NFC") {
    out.add(NormalForm::NFC);
  } else if (type == "NFD") {
    out.add(NormalForm::NFD);
  } else if (type == "NFKC") {
    out.add(NormalForm::NFKC);
  } else if (type == "NFKD") {
    out.add(NormalForm::NFKD);
  } else if (type == "Sequence") {
    const Json& list = f.require(node, "normalizers", path + ".normalizers");
    if (!list.is_array()) f.fail(path + ".normalizers", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      add_normalizer(f, list[i], fmt::format("{}.normalizers[{}]", path, i), out);
    }
  } else {
    f.fail(path + ".type", fmt::format("normalizer '{}' is not supported (NFC, NFD, NFKC, NFKD, "
                                       "Sequence are)",
                                       type));
  }
}

// Adds the steps of one pre_tokenizer node; returns whether a ByteLevel step was among them.
bool add_pre_tokenizer(const Fields& f, const Json& node, const std::string& path,
                       PreTokenizer& out) {
  const std::string type = f.string(f.require(node, "type", path + ".type"), path + ".type");
  if (type == "Sequence") {
    const Json& list = f.require(node, "pretokenizers", path + ".pretokenizers");
    if (!list.is_array()) f.fail(path + ".pretokenizers", "must be an array");
    bool byte_level = false;
    for (size_t i = 0; i < list.size(); ++i) {
      byte_level |=
          add_pre_tokenizer(f, list[i], fmt::format("{}.pretokenizers[{}]", path, i), out);
    }
    return byte_level;
  }
  if (type == "ByteLevel") {
    out.add_byte_level(f.boolean(node, "add_prefix_space", false, path + ".add_prefix_space"),
                       f.boolean(node, "use_regex", true, path + ".use_regex"),
                       f.name() + ": " + path);
    return true;
  }
  if (type == "Split") {
    const Json& pattern = f.require(node, "pattern", path + ".pattern");
    std::string text;
    bool literal = false;
    if (const Json* regex = f.optional(pattern, "Regex")) {
      text = f.string(*regex, path + ".pattern.Regex");
    } else if (const Json* string = f.optional(pattern, "String")) {
      text = f.string(*string, path + ".pattern.String");
      literal = true;
    } else {
      f.fail(path + ".pattern", "must be {\"Regex\": ...} or {\"String\": ...}");
    }
    const std::string behavior_name =
        f.string(f.require(node, "behavior", path + ".behavior"), path + ".behavior");
    const auto behavior = parse_split_behavior(behavior_name);
    if (!behavior) f.fail(path + ".behavior", fmt::format("unknown behavior '{}'", behavior_name));
    out.add_split(TokenizerRegex(text, literal, f.name() + ": " + path + ".pattern"), *behavior,
                  f.boolean(node, "invert", false, path + ".invert"));
    return false;
  }
  if (type == "Digits") {
    out.add_digits(f.boolean(node, "individual_digits", false, path + ".individual_digits"),
                   f.name() + ": " + path);
    return false;
  }
  f.fail(path + ".type", fmt::format("pre-tokenizer '{}' is not supported (ByteLevel, Split, "
                                     "Digits, Sequence are)",
                                     type));
}

// "a b" (tokenizers' older format; llama.cpp's GGUF format) into its two sides. The space is
// searched from the second byte on, so a side may itself begin with a space.
bool split_merge(std::string_view merge, std::string_view* left, std::string_view* right) {
  const size_t space = merge.find(' ', 1);
  if (space == std::string_view::npos) return false;
  *left = merge.substr(0, space);
  *right = merge.substr(space + 1);
  return !right->empty() && right->find(' ') == std::string_view::npos;
}

// eos_token and friends in tokenizer_config.json: a string or {"content": ...}.
std::optional<std::string> config_token(const Json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

// Builds Tokenizers; a friend, so the loaders can fill the private fields.
class TokenizerBuilder {
 public:
  static Tokenizer from_json(std::string_view json, const std::string& name,
                             std::string_view config_json, const std::string& config_name);
  static Tokenizer from_gguf(const GgufFile& gguf);

 private:
  // An added token's content and flags, as tokenizer.json's added_tokens and
  // tokenizer_config.json's added_tokens_decoder both write them (with transformers' defaults).
  static Tokenizer::AddedToken added_token(const Fields& f, const Json& a, TokenId id,
                                           const std::string& path) {
    Tokenizer::AddedToken token;
    token.id = id;
    token.content = f.string(f.require(a, "content", path + ".content"), path + ".content");
    if (token.content.empty()) f.fail(path + ".content", "is empty");
    token.special = f.boolean(a, "special", false, path + ".special");
    token.normalized = f.boolean(a, "normalized", !token.special, path + ".normalized");
    token.lstrip = f.boolean(a, "lstrip", false, path + ".lstrip");
    token.rstrip = f.boolean(a, "rstrip", false, path + ".rstrip");
    token.single_word = f.boolean(a, "single_word", false, path + ".single_word");
    return token;
  }

  static void add_added(Tokenizer& t, Tokenizer::AddedToken token) {
    for (auto& existing : t.added_) {
      if (existing.id == token.id) {
        existing = std::move(token);
        return;
      }
    }
    t.added_.push_back(std::move(token));
  }
};

Tokenizer TokenizerBuilder::from_json(std::string_view json, const std::string& name,
                                      std::string_view config_json,
                                      const std::string& config_name) {
  // model.vocab and model.merges (150k entries each) are taken out while parsing instead of
  // being built into the document: that halves the load time.
  Captured captured;
  const Json root = parse_json_capturing(json, name, captured);
  const Fields f(name);
  if (!root.is_object()) fail_format("{}: the document is not a JSON object", name);
  Tokenizer t;
  t.source_ = name;

  const Json& model = f.require(root, "model", "model");
  if (const Json* type = f.optional(model, "type")) {
    const std::string model_type = f.string(*type, "model.type");
    if (model_type != "BPE") {
      f.fail("model.type",
             fmt::format("model '{}' is not supported (only byte-level BPE)", model_type));
    }
  }
  if (f.boolean(model, "byte_fallback", false, "model.byte_fallback")) {
    f.fail("model.byte_fallback", "byte fallback is not supported (only byte-level BPE)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json* v = f.optional(model, key);
    if (v != nullptr && !(v->is_string() && v->get<std::string>().empty())) {
      f.fail(fmt::format("model.{}", key), "is not supported (must be empty or null)");
    }
  }
  if (const Json* dropout = f.optional(model, "dropout")) {
    if (!dropout->is_number() || dropout->get<double>() != 0.0) {
      f.fail("model.dropout", "BPE dropout is not supported (must be null)");
    }
  }
  t.bpe_.set_ignore_merges(f.boolean(model, "ignore_merges", false, "model.ignore_merges"));

  const Json& vocab = f.require(model, "vocab", "model.vocab");
  if (!vocab.is_object()) f.fail("model.vocab", "must be an object of token: id");
  // Whatever the capture left in the document was not a token id or a merge.
  if (!vocab.empty()) f.fail("model.vocab", "values must be token ids (integers)");
  if (captured.vocab.empty()) f.fail("model.vocab", "is empty");
  const Json& merges = f.require(model, "merges", "model.merges");
  if (!merges.is_array()) f.fail("model.merges", "must be an array");
  if (!merges.empty()) {
    f.fail("model.merges", "elements must be strings \"left right\" or pairs of strings");
  }

  t.bpe_.reserve(captured.vocab.size(), captured.merges.size());
  t.entries_.reserve(captured.vocab.size() + 1024);
  t.text_arena_.reserve(captured.vocab_text.size());
  for (const auto& [offset, length, id] : captured.vocab) {
    const std::string_view text = std::string_view(captured.vocab_text).substr(offset, length);
    t.bpe_.add_token(text, id);
    t.set_entry(id, text, TokenKind::Normal);
  }
  const std::string_view merge_text = captured.merge_text;
  const std::string merge_list = name + ": model.merges";
  for (size_t i = 0; i < captured.merges.size(); ++i) {
    const Captured::Merge& m = captured.merges[i];
    std::string_view left = merge_text.substr(m.left_offset, m.left_length);
    std::string_view right = merge_text.substr(m.right_offset, m.right_length);
    if (!m.pair && !split_merge(left, &left, &right)) {
      fail_format("{}[{}]: expected \"left right\", got \"{}\"", merge_list, i, left);
    }
    t.bpe_.add_merge(left, right, merge_list, i);
  }

  if (const Json* added = f.optional(root, "added_tokens")) {
    if (!added->is_array()) f.fail("added_tokens", "must be an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const Json& a = (*added)[i];
      const std::string path = fmt::format("added_tokens[{}]", i);
      add_added(t, added_token(f, a, f.id(f.require(a, "id", path + ".id"), path + ".id"), path));
    }
  }

  if (const Json* normalizer = f.optional(root, "normalizer")) {
    add_normalizer(f, *normalizer, "normalizer", t.normalizer_);
  }
  bool byte_level = false;
  if (const Json* pre = f.optional(root, "pre_tokenizer")) {
    byte_level = add_pre_tokenizer(f, *pre, "pre_tokenizer", t.pre_);
  }
  if (!byte_level) {
    f.fail("pre_tokenizer", "has no ByteLevel step: not a byte-level BPE tokenizer");
  }

  Json config;
  const Fields c(config_name);
  if (!config_json.empty()) {
    config = parse_json(config_json, config_name);
    if (!config.is_object()) fail_format("{}: the document is not a JSON object", config_name);
    // transformers takes the added tokens' flags from here when both files have them.
    if (const Json* decoder = c.optional(config, "added_tokens_decoder")) {
      if (!decoder->is_object()) c.fail("added_tokens_decoder", "must be an object");
      for (const auto& [key, a] : decoder->items()) {
        const std::string path = fmt::format("added_tokens_decoder[\"{}\"]", key);
        int64_t id = -1;
        const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), id);
        if (error != std::errc() || end != key.data() + key.size() || id < 0 || id > kMaxTokenId) {
          c.fail(path, "the key must be a token id");
        }
        add_added(t, added_token(c, a, static_cast<TokenId>(id), path));
      }
    }
  }
  for (const auto& a : t.added_) {
    if (static_cast<size_t>(a.id) >= t.entries_.size()) t.entries_.resize(a.id + size_t{1});
  }
  t.finish();
  if (config.is_object()) {
    const auto resolve = [&](const char* key) -> std::optional<TokenId> {
      const auto text = config_token(config, key);
      if (!text) return std::nullopt;
      const auto id = t.find(*text);
      if (!id) c.fail(key, fmt::format("'{}' is not a token of {}", *text, name));
      return id;
    };
    t.bos_id_ = resolve("bos_token");
    t.eos_id_ = resolve("eos_token");
    t.pad_id_ = resolve("pad_token");
  }
  return t;
}

Tokenizer TokenizerBuilder::from_gguf(const GgufFile& gguf) {
  const std::string& name = gguf.path();
  const auto require = [&](const char* key) -> const GgufValue& {
    const GgufValue* v = gguf.find(key);
    if (v == nullptr) fail_format("{}: missing metadata {}", name, key);
    return *v;
  };
  const char* model_key = "tokenizer.ggml.model";
  const std::string& model = require(model_key).as_string(model_key);
  if (model != "gpt2") {
    fail_format("{}: {} is '{}': only byte-level BPE ('gpt2') is supported", name, model_key,
                model);
  }
  Tokenizer t;
  t.source_ = name;

  const char* pre_key = "tokenizer.ggml.pre";
  const GgufValue* pre_value = gguf.find(pre_key);
  // llama.cpp treats a missing name as "default"; so do we.
  const std::string pre_name = pre_value ? pre_value->as_string(pre_key) : "default";
  GgufPreset preset = gguf_pre_tokenizer(pre_name, fmt::format("{}: {}", name, pre_key));
  t.pre_ = std::move(preset.pre);
  t.bpe_.set_ignore_merges(preset.ignore_merges);
  if (preset.nfc) t.normalizer_.add(NormalForm::NFC);

  const char* tokens_key = "tokenizer.ggml.tokens";
  const GgufValue& tokens = require(tokens_key);
  if (tokens.type != GgufType::Array || tokens.array_type != GgufType::String) {
    fail_format("{}: {} must be an array of strings", name, tokens_key);
  }
  const size_t n = tokens.array.size();
  if (n == 0) fail_format("{}: {} is empty", name, tokens_key);
  if (n > static_cast<size_t>(kMaxTokenId) + 1) {
    fail_format("{}: {} has {} entries, too many", name, tokens_key, n);
  }
  std::vector<int64_t> types(n, 1);
  const char* types_key = "tokenizer.ggml.token_type";
  if (const GgufValue* v = gguf.find(types_key)) {
    types = v->as_ints(types_key);
    if (types.size() != n) {
      fail_format("{}: {} has {} entries but {} has {}", name, types_key, types.size(), tokens_key,
                  n);
    }
  }
  t.entries_.resize(n);
  t.text_arena_.reserve(n * 8);
  if (const GgufValue* m = gguf.find("tokenizer.ggml.merges")) t.bpe_.reserve(n, m->array.size());
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<TokenId>(i);
    const std::string& text = tokens.array[i].string_value;
    // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    switch (types[i]) {
      case 3:
      case 4: {
        if (text.empty()) {  // cannot be matched; keep the id decodable
          t.set_entry(id, text, types[i] == 3 ? TokenKind::Special : TokenKind::Added);
          break;
        }
        Tokenizer::AddedToken token;
        token.id = id;
        token.content = text;
        token.special = types[i] == 3;
        t.added_.push_back(std::move(token));
        break;
      }
      case 5:
        t.set_entry(id, text, TokenKind::Unused);
        break;
      default:
        t.set_entry(id, text, TokenKind::Normal);
        t.bpe_.add_token(text, id);
        break;
    }
  }

  const char* merges_key = "tokenizer.ggml.merges";
  const GgufValue& merges = require(merges_key);
  if (merges.type != GgufType::Array || merges.array_type != GgufType::String) {
    fail_format("{}: {} must be an array of strings", name, merges_key);
  }
  const std::string merge_list = fmt::format("{}: {}", name, merges_key);
  for (size_t i = 0; i < merges.array.size(); ++i) {
    const std::string& m = merges.array[i].string_value;
    std::string_view left;
    std::string_view right;
    if (!split_merge(m, &left, &right)) {
      fail_format("{}[{}]: expected \"left right\", got \"{}\"", merge_list, i, m);
    }
    t.bpe_.add_merge(left, right, merge_list, i);
  }
  t.finish();

  const auto special_id = [&](const char* key) -> std::optional<TokenId> {
    const GgufValue* v = gguf.find(key);
    if (v == nullptr) return std::nullopt;
    const int64_t id = v->as_int(key);
    if (id < 0 || static_cast<size_t>(id) >= n) {
      fail_format("{}: {} is {}, outside the vocabulary of {} tokens", name, key, id, n);
    }
    return static_cast<TokenId>(id);
  };
  t.bos_id_ = special_id("tokenizer.ggml.bos_token_id");
  t.eos_id_ = special_id("tokenizer.ggml.eos_token_id");
  t.pad_id_ = special_id("tokenizer.ggml.padding_token_id");
  return t;
}

Tokenizer Tokenizer::from_json(std::string_view json, const std::string& name,
                               std::string_view config_json, const std::string& config_name) {
  return TokenizerBuilder::from_json(json, name, config_json, config_name);
}

Tokenizer Tokenizer::from_json_file(const std::string& path) {
  return from_json(read_whole_file(path), path);
}

Tokenizer Tokenizer::from_hf_dir(const std::string& dir) {
  const std::string json_path = dir + "/tokenizer.json";
  if (!file_exists(json_path)) {
    fail_usage("{}: no tokenizer.json in this model directory", dir);
  }
  const std::string config_path = dir + "/tokenizer_config.json";
  const std::string config = file_exists(config_path) ? read_whole_file(config_path) : "";
  return from_json(read_whole_file(json_path), json_path, config, config_path);
}

Tokenizer Tokenizer::from_gguf(const GgufFile& gguf) { return TokenizerBuilder::from_gguf(gguf); }

Tokenizer Tokenizer::from_gguf_file(const std::string& path) {
  return from_gguf(GgufFile::open(path));
}

Tokenizer Tokenizer::load(const std::string& model) {
  if (is_directory(model)) return from_hf_dir(model);
  if (!file_exists(model)) fail_usage("{}: no such model file or directory", model);
  char magic[4] = {};
  FILE* f = std::fopen(model.c_str(), "rb");
  if (f == nullptr) fail_errno(fmt::format("cannot open '{}'", model));
  const size_t got = std::fread(magic, 1, 4, f);
  std::fclose(f);
  if (got == 4 && std::memcmp(magic, "GGUF", 4) == 0) return from_gguf_file(model);
  return from_json_file(model);
}

}  // namespace hh
