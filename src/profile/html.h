#pragma once
// A self-contained HTML page for one profiling report: a bar chart of time per cost centre
// (inline SVG), a timeline of every event (a canvas drawn by inline script from data embedded
// in the page), and the cost-centre and memory tables. Nothing is fetched from the network, so
// the file can be opened anywhere, mailed, or attached to an issue.
#include <string>

#include "profile/report.h"

namespace hh::profile {

// Events beyond this many are left out of the timeline (the page says so); the bar chart and
// tables always cover every event.
inline constexpr size_t kMaxTimelineEvents = 500000;

std::string html_page(const Report& report, const std::string& title);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string html_escape(std::string_view text);

}  // namespace hh::profile
