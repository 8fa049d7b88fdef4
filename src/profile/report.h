#pragma once
// Profiling reports in Futhark's schema, as the protocol's `report` command prints them:
//   {"memory": {space: bytes}, "events": [{"name", "start", "end", "details"}]}
// with times in microseconds. Here they are read, grouped into cost centres (one per event
// name) and printed as a summary table and an event log; html.h draws them.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hh::profile {

struct Event {
  std::string name;
  double start_us = 0;
  double end_us = 0;
  std::string details;
  double duration_us() const { return end_us - start_us; }
};

struct Report {
  std::map<std::string, int64_t> memory;
  std::vector<Event> events;  // sorted by start time
};

// FormatError naming `where` and the offending field when `json` is not a report.
Report parse_report(const nlohmann::ordered_json& json, const std::string& where);

struct CostCentre {
  std::string name;
  int64_t count = 0;
  double total_us = 0;
  double share = 0;  // of the total over all cost centres, 0..1
  double mean_us() const { return count > 0 ? total_us / static_cast<double>(count) : 0; }
};
// Sorted by total time, largest first (ties by name).
std::vector<CostCentre> cost_centres(const Report& report);

// "1.50 GiB".
std::string human_bytes(int64_t bytes);

// The cost-centre table and the memory in use, as text.
std::string summary_text(const Report& report, const std::string& title);
// One line per event in start order: offset from the first event, duration, name, details.
std::string log_text(const Report& report, const std::string& title);

}  // namespace hh::profile
