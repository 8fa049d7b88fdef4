#pragma once
// Cost centres for profiling: every kernel or op kind records an event (name, start, end,
// details) while profiling is on. report_json() gives the Futhark report schema:
// {"memory": {space: bytes}, "events": [{"name", "start", "end", "details"}]} in microseconds.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace hh {

struct ProfileEvent {
  std::string name;
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::string details;
};

// Op-kind cost centres of the CPU engine (CUDA adds its kernels and host<->device copies).
namespace cost {
inline constexpr const char* kMatmul = "matmul";
inline constexpr const char* kAttention = "attention";
inline constexpr const char* kNorm = "norm";
inline constexpr const char* kRope = "rope";
inline constexpr const char* kActivation = "activation";
inline constexpr const char* kEmbedding = "embedding";
inline constexpr const char* kSampling = "sampling";
inline constexpr const char* kCopyHostToDev = "copy_host_to_dev";
inline constexpr const char* kCopyDevToHost = "copy_dev_to_host";
}  // namespace cost

class Profiler {
 public:
  // Microseconds on a monotonic clock.
  static int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Profiling is on when enabled (server --profile or unpause) and not paused.
  bool active() const { return active_; }
  void set_active(bool on) { active_ = on; }

  void record(const char* name, int64_t start_us, int64_t end_us, std::string details = {});
  std::vector<ProfileEvent> events() const;
  void clear();
  // The report JSON; also clears the recorded events, so each report covers what ran since
  // the previous one.
  std::string take_report_json();

 private:
  bool active_ = false;
  mutable std::mutex mutex_;
  std::vector<ProfileEvent> events_;
};

// Records one event for the enclosing scope when the profiler is active; costs one branch
// otherwise.
class ProfileScope {
 public:
  ProfileScope(Profiler* profiler, const char* name)
      : profiler_(profiler && profiler->active() ? profiler : nullptr), name_(name) {
    if (profiler_) start_ = Profiler::now_us();
  }
  ~ProfileScope() {
    if (profiler_) profiler_->record(name_, start_, Profiler::now_us());
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  Profiler* profiler_;
  const char* name_;
  int64_t start_ = 0;
};

}  // namespace hh
