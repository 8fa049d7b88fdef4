#pragma once
// A small Futhark-protocol server for the client and runner tests, independent of the engine:
// the test binary re-executes itself with HH_FAKE_SERVER=MODE set and becomes this server
// (fake_server_test.cpp holds the hook). It knows i64 and []i64 values and these entry points:
//   sum (n: i64) : i64            n(n+1)/2
//   spin (us: i64) : i64          busy-waits `us` microseconds, returns us
//   consume (xs: *[]i64) : i64    the sum of xs; consumes it
//   mk (n: i64) : []i64           [0, 1, ..., n-1]
//   fail (n: i64) : i64           always fails
//   die (n: i64) : i64            the process exits with status 3 mid-call
//   hang (n: i64) : i64           never answers
//   dieafter (n: i64) : i64       returns n for the first 5 calls of the process, then dies
// MODE "normal" serves; "nostart" exits at once with status 7 and a message on stderr;
// "silent" never prints the start-up %%% OK.
#include <string>
#include <vector>

namespace hh::testing {

inline constexpr const char* kFakeServerEnv = "HH_FAKE_SERVER";

// The argv that starts the fake server in `mode` (through /usr/bin/env, which sets the
// variable).
std::vector<std::string> fake_server_argv(const std::string& mode = "normal");
// The same as one shell command line, for --server.
std::string fake_server_command(const std::string& mode = "normal");

}  // namespace hh::testing
