#pragma once
// Shared CLI11 plumbing for subcommands.
#include <CLI/CLI.hpp>
#include <optional>

#include "cli/commands.h"

namespace hh::cli {

// Parses `args` into `app`. Returns an exit code when the command should stop here (--help
// printed: 0; a usage error printed: 2), or nullopt to go on.
inline std::optional<int> parse_args(CLI::App& app, const Args& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace hh::cli
