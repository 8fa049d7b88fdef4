// `hedgehog server`: the engine behind the Futhark server protocol on stdin/stdout.
#include <iostream>

#include "cli/cli_util.h"
#include "engine/backend.h"
#include "server/records.h"
#include "server/server.h"

namespace hh::cli {

int run_server(const Args& args) {
  CLI::App app{"Serve the engine's entry points over the Futhark server protocol (stdin/stdout)",
               "hedgehog server"};
  std::string dtype_name = "f32";
  std::string backend_name = "cpu";
  std::string model;
  bool profile = false;
  int threads = 0;
  app.add_option("--dtype", dtype_name, "weights and KV cache type: f32, f16 or bf16")
      ->capture_default_str();
  app.add_option("--backend", backend_name, "cpu or cuda")->capture_default_str();
  app.add_option("--model", model, "preload this model (GGUF file or HF directory) as `params`");
  app.add_flag("--profile", profile, "start with profiling on (see `report`)");
  app.add_option("-t,--threads", threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  if (auto code = parse_args(app, args)) return *code;

  Profiler profiler;
  profiler.set_active(profile);
  EngineOptions options;
  options.dtype = parse_model_dtype(dtype_name);
  options.threads = threads;
  options.profiler = &profiler;
  std::unique_ptr<Backend> backend = make_backend(parse_backend_kind(backend_name), options);

  server::Server server(*backend, server::ServerOptions{&profiler});
  if (!model.empty()) {
    // As a client would do it: the path as a []u8 variable, then `call load params ...`. A
    // failure here ends the server before its first "%%% OK", as the protocol prescribes.
    server.put_array("hh_model_path", server::string_array(model));
    std::string response;
    std::string ignored;
    const bool ok = server.handle_line("call load params hh_model_path", response);
    server.handle_line("free hh_model_path", ignored);
    if (!ok) {
      std::string message = response.substr(server::kFailureLine.size());
      message.resize(message.rfind(server::kOkLine));
      while (!message.empty() && message.back() == '\n') message.pop_back();
      fail_usage("cannot load --model '{}': {}", model, message);
    }
  }
  std::ios::sync_with_stdio(false);
  server.run(std::cin, std::cout);
  return 0;
}

}  // namespace hh::cli
