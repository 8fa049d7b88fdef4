#include "engine/profiler.h"

#include <nlohmann/json.hpp>

#include "values/storage.h"

namespace hh {

void Profiler::record(const char* name, int64_t start_us, int64_t end_us, std::string details) {
  std::lock_guard lock(mutex_);
  events_.push_back({name, start_us, end_us, std::move(details)});
}

std::vector<ProfileEvent> Profiler::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

void Profiler::clear() {
  std::lock_guard lock(mutex_);
  events_.clear();
}

std::string Profiler::take_report_json() {
  nlohmann::ordered_json report;
  nlohmann::ordered_json memory = nlohmann::ordered_json::object();
  for (const auto& [space, bytes] : memory_in_use()) memory[space] = bytes;
  report["memory"] = std::move(memory);
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  {
    std::lock_guard lock(mutex_);
    for (const auto& e : events_) {
      events.push_back(
          {{"name", e.name}, {"start", e.start_us}, {"end", e.end_us}, {"details", e.details}});
    }
    events_.clear();
  }
  report["events"] = std::move(events);
  return report.dump();
}

}  // namespace hh
