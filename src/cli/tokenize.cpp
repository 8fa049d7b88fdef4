// `hedgehog tokenize`: the ids (and pieces) the model's tokenizer gives a text; a debugging aid
// for prompts and chat templates.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/cli_util.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "util/error.h"

namespace hh::cli {

int run_tokenize(const Args& args) {
  CLI::App app{
      "Tokenize a text: one line per token, its id, a tab and its piece (the bytes it "
      "stands for, as a JSON string; bytes that are not UTF-8 as \\xNN)",
      "hedgehog tokenize"};
  std::string model, file;
  std::optional<std::string> text;
  bool ids_only = false, no_special = false;
  app.add_option("-m,--model", model, "GGUF file, Hugging Face model directory or tokenizer.json")
      ->required();
  app.add_flag("--ids", ids_only, "print only the ids, space-separated on one line");
  auto* file_option = app.add_option("--file", file, "tokenize the bytes of this file");
  app.add_flag("--no-special", no_special,
               "treat special tokens written in the text (<|im_start|>) as plain text");
  auto* text_option = app.add_option("TEXT", text, "the text to tokenize");
  file_option->excludes(text_option);
  if (auto code = parse_args(app, args)) return *code;

  std::string input;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) fail_errno(fmt::format("cannot open '{}'", file));
    std::ostringstream s;
    s << in.rdbuf();
    input = s.str();
  } else if (text) {
    input = *text;
  } else {
    fail_usage("give a TEXT or --file F");
  }

  const Tokenizer tokenizer = Tokenizer::load(model);
  const std::vector<TokenId> ids = tokenizer.encode(input, !no_special);
  std::string out;
  if (ids_only) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) out += ' ';
      out += std::to_string(ids[i]);
    }
    out += '\n';
  } else {
    for (const TokenId id : ids) {
      out += std::to_string(id);
      out += '\t';
      out += quote_bytes(tokenizer.token_bytes(id));
      out += '\n';
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) fail_errno("cannot write the output");
  return 0;
}

}  // namespace hh::cli
