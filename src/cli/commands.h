#pragma once
// One function per subcommand (cli/<name>.cpp); main.cpp holds the table that maps names to
// them. Each takes the arguments after the subcommand name and returns the exit code; errors
// are thrown as hh::Error and turned into a message and exit code 1 by main().
#include <string>
#include <vector>

namespace hh::cli {

using Args = std::vector<std::string>;  // argv without the program and subcommand names

int run_chat(const Args& args);
int run_server(const Args& args);
int run_make_model(const Args& args);
int run_bench(const Args& args);
int run_profile(const Args& args);
int run_benchcmp(const Args& args);
int run_dataset(const Args& args);
int run_template(const Args& args);
int run_tokenize(const Args& args);
int run_download(const Args& args);

}  // namespace hh::cli
