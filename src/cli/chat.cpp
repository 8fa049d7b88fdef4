// `hedgehog chat`: the interactive chat over the engine's protocol (in-process by default, or a
// protocol server subprocess with --server).
#include <unistd.h>

#include <cstdio>

#include "chat/chat_engine.h"
#include "chat/repl.h"
#include "chat/session.h"
#include "cli/cli_util.h"
#include "engine/backend.h"
#include "hub/resolve.h"
#include "server/server.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace hh::cli {

namespace {

std::string resolve_model(const std::string& model, const std::string& hf_file) {
  try {
    return resolve_model_argument(model, hf_file);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.find("HF_HUB_OFFLINE") != std::string::npos) throw;
    throw UsageError(fmt::format(
        "{}\n(to chat without the network, give a local GGUF file or Hugging Face folder with "
        "-m, or set HF_HUB_OFFLINE=1 to use only models already in the Hub cache)",
        message));
  }
}

}  // namespace

int run_chat(const Args& args) {
  CLI::App app{"Chat with a Qwen3 model", "hedgehog chat"};
  std::string model = kDefaultModel;
  std::string hf_file, dtype_name = "f16", backend_name = "cpu", server_command, system, prompt;
  std::string capture_file = "capture.in";
  int64_t context = 4096, tokens_per_call = 16, capture_call = 0;
  bool tools = false, think = false, profile = false;
  int threads = 0;
  app.add_option("-m,--model", model, "Hub repo id, GGUF file or Hugging Face model folder")
      ->capture_default_str();
  app.add_option("--hf-file", hf_file, "the GGUF file of a Hub repository");
  app.add_option("--dtype", dtype_name, "weights and KV cache type: f32, f16 or bf16")
      ->capture_default_str();
  app.add_option("--backend", backend_name, "cpu or cuda")->capture_default_str();
  app.add_option("--ctx", context, "context size (capped by the model's maximum)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--cnt", tokens_per_call, "tokens per gen call (how often Ctrl-C is looked at)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--tools", tools, "offer the server's tool_* entry points as tools");
  app.add_flag("--think", think, "start with thinking on");
  app.add_option("--system", system, "system message");
  app.add_option("-p,--prompt", prompt, "answer this one message and exit");
  auto* capture = app.add_option("--capture", capture_call,
                                 "store the inputs of the Nth gen call (1-based) with `store`")
                      ->check(CLI::PositiveNumber);
  app.add_option("--capture-file", capture_file, "where --capture stores them")
      ->capture_default_str()
      ->needs(capture);
  app.add_flag("--profile", profile, "start the engine with profiling on (see `report`)");
  app.add_option("--server", server_command,
                 "run this protocol server (a shell command) instead of the in-process one");
  app.add_option("-t,--threads", threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  if (auto code = parse_args(app, args)) return *code;

  const std::string path = resolve_model(model, hf_file);
  const Tokenizer tokenizer = Tokenizer::load(path);
  const ModelChatTemplate model_template = load_model_chat_template(path);
  const ChatTemplate chat_template(model_template.source, model_template.origin);

  const bool colour = isatty(STDOUT_FILENO) != 0;
  chat::TerminalOutput output(stdout, stderr, colour);

  chat::ProtocolEngineOptions engine_options;
  engine_options.model_path = path;
  engine_options.context = context;
  engine_options.model_max_context = chat::model_max_context(path);
  engine_options.capture_call = capture_call;
  engine_options.capture_file = capture_file;
  engine_options.notice = [&](const std::string& line) { output.notice(line); };

  // The in-process engine lives here, so that src/chat/ sees only the protocol.
  Profiler profiler;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<server::Server> in_process;
  std::unique_ptr<chat::EngineLink> link;
  if (server_command.empty()) {
    profiler.set_active(profile);
    EngineOptions options;
    options.dtype = parse_model_dtype(dtype_name);
    options.threads = threads;
    options.profiler = &profiler;
    backend = make_backend(parse_backend_kind(backend_name), options);
    in_process = std::make_unique<server::Server>(*backend, server::ServerOptions{&profiler});
    link = chat::make_in_process_link(*in_process);
  } else {
    link = chat::make_subprocess_link(server_command);
    if (profile) link->command({"unpause_profiling"});
  }
  chat::ProtocolChatEngine engine(std::move(link), engine_options);

  chat::SessionOptions session_options;
  session_options.tokens_per_call = tokens_per_call;
  session_options.thinking = think;
  session_options.tools = tools;
  session_options.system = system;
  chat::ChatSession session(engine, tokenizer, chat_template, model_template, session_options,
                            output);

  std::atomic<bool> interrupt{false};
  chat::InterruptHandler handler(interrupt);
  if (!prompt.empty()) return session.send(prompt, &interrupt) ? 0 : 1;
  if (isatty(STDIN_FILENO)) {
    output.notice(fmt::format("hedgehog chat: {} ({} context tokens); type help for commands", path,
                              engine.context()));
  }
  chat::run_repl(session, engine, output, interrupt, chat::ReplOptions{});
  return 0;
}

}  // namespace hh::cli
