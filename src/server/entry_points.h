#pragma once
// The entry-point registry: name, inputs (with their types and which are consumed), output type
// and handler, one row per entry point of DESIGN.md. `entry_points`, `inputs`, `output`,
// `attributes` and `call` all read this table. Handlers check every input's value (shapes,
// ranges, cache against model) before the engine runs, so bad input fails without touching a
// cache; the engine's own time is measured around the Backend call alone.
#include <chrono>
#include <span>
#include <string_view>
#include <vector>

#include "engine/backend.h"
#include "server/value.h"

namespace hh::server {

struct EntryInput {
  std::string_view name;  // as in DESIGN.md: used in messages
  std::string_view type;
  bool consumed = false;
};

struct CallContext {
  Backend& backend;
  int64_t runtime_us = 0;
  // Set once the Backend has been entered: a failure after that point may have left a consumed
  // input (the cache) half-written.
  bool engine_entered = false;

  // Runs `f` as the timed part of the call.
  template <typename F>
  auto timed(F&& f) {
    engine_entered = true;
    const auto start = std::chrono::steady_clock::now();
    struct Stop {
      CallContext& ctx;
      std::chrono::steady_clock::time_point start;
      ~Stop() {
        ctx.runtime_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count();
      }
    } stop{*this, start};
    return f();
  }
};

struct EntryPoint {
  std::string_view name;
  std::vector<EntryInput> inputs;
  std::string_view output;
  // Inputs arrive type-checked, in order; consumed inputs are exclusively owned by the call.
  Value (*run)(CallContext& ctx, std::span<const Value> inputs);
};

const std::vector<EntryPoint>& entry_points();
const EntryPoint* find_entry_point(std::string_view name);

// The tools' arithmetic, exposed for tests: sum of 1..n and of squares 1..n in i64; UsageError
// for n < 0 or when the result overflows.
int64_t sum_of_first_n(int64_t n);
int64_t sum_of_squares(int64_t n);

}  // namespace hh::server
