#include "profile/html.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace hh::profile {
namespace {

// Bars shown in the chart; smaller cost centres are summed into one "other" bar.
constexpr size_t kMaxBars = 40;

constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr size_t kPaletteSize = sizeof kPalette / sizeof kPalette[0];

constexpr const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #555; margin: 0; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#timeline-wrap { position: relative; overflow-x: auto; border: 1px solid #ddd; }
#tip { position: absolute; display: none; pointer-events: none; background: rgba(30,30,30,.9);
       color: #fff; padding: 4px 8px; border-radius: 4px; font-size: 12px; white-space: pre; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
)";

// Draws the timeline from the JSON in #profile-data: one lane per cost centre, one rectangle
// per event; a tooltip names the event under the pointer. Sets data-drawn-events on the canvas
// so tests (and curious readers) can see that drawing finished.
constexpr const char* kScript = R"(
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('profile-data').textContent);
  var canvas = document.getElementById('timeline');
  var tip = document.getElementById('tip');
  var palette = PALETTE;
  var laneH = 20, left = 170, top = 24, n = data.start.length;
  var width = Math.max(700, (canvas.parentElement.clientWidth || 960) - 2);
  canvas.width = width;
  canvas.height = top + Math.max(1, data.names.length) * laneH + 8;
  var ctx = canvas.getContext('2d');
  var span = Math.max(data.span, 1);
  var scale = (width - left - 12) / span;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '12px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  // Time axis: about eight ticks at round values.
  var step = Math.pow(10, Math.floor(Math.log10(span / 8)));
  if (span / step > 16) step *= 5; else if (span / step > 8) step *= 2;
  ctx.strokeStyle = '#e4e4e4';
  ctx.fillStyle = '#555';
  for (var t = 0; t <= span; t += step) {
    var x = left + t * scale;
    ctx.beginPath(); ctx.moveTo(x, top - 4); ctx.lineTo(x, canvas.height); ctx.stroke();
    ctx.fillText(t >= 1000 ? (t / 1000).toFixed(t % 1000 ? 1 : 0) + ' ms' : t + ' µs', x + 2, 10);
  }
  for (var l = 0; l < data.names.length; ++l) {
    ctx.fillStyle = '#222';
    ctx.fillText(data.names[l].slice(0, 24), 6, top + l * laneH + laneH / 2);
  }
  var lanes = data.names.map(function () { return []; });
  for (var i = 0; i < n; ++i) {
    var lane = data.lane[i];
    lanes[lane].push(i);
    ctx.fillStyle = palette[lane % palette.length];
    ctx.fillRect(left + data.start[i] * scale, top + lane * laneH + 2,
                 Math.max(1, data.dur[i] * scale), laneH - 4);
  }
  canvas.setAttribute('data-drawn-events', String(n));
  canvas.addEventListener('mousemove', function (ev) {
    var r = canvas.getBoundingClientRect();
    var x = ev.clientX - r.left, y = ev.clientY - r.top;
    var lane = Math.floor((y - top) / laneH), t = (x - left) / scale, hit = -1;
    if (lane >= 0 && lane < lanes.length && t >= 0) {
      var ids = lanes[lane], lo = 0, hi = ids.length - 1, slack = 2 / scale;
      while (lo <= hi) {  // last event starting at or before t
        var mid = (lo + hi) >> 1;
        if (data.start[ids[mid]] <= t + slack) lo = mid + 1; else hi = mid - 1;
      }
      for (var k = hi; k >= 0 && k > hi - 64; --k) {
        var e = ids[k];
        if (data.start[e] + data.dur[e] + slack >= t) { hit = e; break; }
      }
    }
    if (hit < 0) { tip.style.display = 'none'; return; }
    tip.textContent = data.names[data.lane[hit]] + ': ' + data.dur[hit].toFixed(1) +
        ' µs at +' + data.start[hit].toFixed(1) + ' µs' +
        (data.details[hit] ? '\n' + data.details[hit] : '');
    tip.style.left = (x + 12) + 'px';
    tip.style.top = (y + 12) + 'px';
    tip.style.display = 'block';
  });
  canvas.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
})();
)";

std::string bar_chart_svg(const std::vector<CostCentre>& centres) {
  std::vector<CostCentre> bars(centres.begin(),
                               centres.begin() + std::min(centres.size(), kMaxBars));
  if (centres.size() > kMaxBars) {
    CostCentre other;
    other.name = fmt::format("other ({} cost centres)", centres.size() - kMaxBars);
    for (size_t i = kMaxBars; i < centres.size(); ++i) {
      other.count += centres[i].count;
      other.total_us += centres[i].total_us;
      other.share += centres[i].share;
    }
    bars.push_back(other);
  }
  constexpr int kLabel = 190, kBar = 520, kRow = 24, kWidth = 900;
  double top = 0;
  for (const auto& b : bars) top = std::max(top, b.total_us);
  const int height = static_cast<int>(bars.size()) * kRow + 8;
  std::string svg = fmt::format(
      "<svg id=\"cost-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"time per cost centre\">\n",
      kWidth, height, kWidth, height);
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    const int y = static_cast<int>(i) * kRow + 4;
    const double w = top > 0 ? std::max(1.0, kBar * b.total_us / top) : 1.0;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", kLabel - 8, y + 15,
                       html_escape(b.name));
    svg += fmt::format(
        "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\">"
        "<title>{}: {:.1f} µs in {} events ({:.1f}%)</title></rect>",
        kLabel, y, w, kRow - 6, kPalette[i % kPaletteSize], html_escape(b.name), b.total_us,
        b.count, 100 * b.share);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{:.1f} µs ({:.1f}%)</text>\n", kLabel + w + 6,
                       y + 15, b.total_us, 100 * b.share);
  }
  return svg + "</svg>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string html_page(const Report& report, const std::string& title) {
  const auto centres = cost_centres(report);
  double total = 0;
  for (const auto& c : centres) total += c.total_us;
  double t0 = 0, t1 = 0;
  if (!report.events.empty()) {
    t0 = report.events.front().start_us;
    for (const auto& e : report.events) t1 = std::max(t1, e.end_us);
  }

  // Timeline data: lanes follow the cost-centre order of the chart, so colours match.
  std::map<std::string, size_t> lane_of;
  nlohmann::json names = nlohmann::json::array();
  for (const auto& c : centres) {
    lane_of[c.name] = names.size();
    names.push_back(c.name);
  }
  const size_t shown = std::min(report.events.size(), kMaxTimelineEvents);
  nlohmann::json lane = nlohmann::json::array(), start = nlohmann::json::array(),
                 dur = nlohmann::json::array(), details = nlohmann::json::array();
  for (size_t i = 0; i < shown; ++i) {
    const auto& e = report.events[i];
    lane.push_back(lane_of[e.name]);
    start.push_back(e.start_us - t0);
    dur.push_back(e.duration_us());
    details.push_back(e.details);
  }
  nlohmann::json data = {{"names", names}, {"lane", lane},       {"start", start},
                         {"dur", dur},     {"details", details}, {"span", t1 - t0}};
  // "</" inside a script element would end it early; JSON allows "<\/" for the same text.
  std::string data_text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (size_t p = 0; (p = data_text.find("</", p)) != std::string::npos; p += 3) {
    data_text.replace(p, 2, "<\\/");
  }
  std::string palette = "[";
  for (size_t i = 0; i < kPaletteSize; ++i)
    palette += fmt::format("{}'{}'", i ? "," : "", kPalette[i]);
  palette += "]";
  std::string script = kScript;
  script.replace(script.find("PALETTE"), 7, palette);

  std::string html;
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += fmt::format("<title>Profile: {}</title>\n<style>{}</style>\n</head>\n<body>\n",
                      html_escape(title), kStyle);
  html += fmt::format("<h1>Profile of {}</h1>\n", html_escape(title));
  html += fmt::format(
      "<p class=\"meta\">{} events in {} cost centres; {:.1f} µs in events over "
      "a span of {:.1f} µs.</p>\n",
      report.events.size(), centres.size(), total, t1 - t0);
  html += "<h2>Time per cost centre</h2>\n";
  html += centres.empty() ? "<p>No events were recorded.</p>\n" : bar_chart_svg(centres);
  html += "<h2>Timeline</h2>\n";
  if (shown < report.events.size()) {
    html += fmt::format("<p class=\"meta\">The first {} of {} events are shown.</p>\n", shown,
                        report.events.size());
  }
  html +=
      "<div id=\"timeline-wrap\"><canvas id=\"timeline\" width=\"960\" height=\"60\">"
      "</canvas><div id=\"tip\"></div></div>\n";
  html +=
      "<h2>Cost centres</h2>\n<table id=\"cost-table\">\n<tr><th>Cost centre</th><th>Count"
      "</th><th>Total (µs)</th><th>Mean (µs)</th><th>Share</th></tr>\n";
  for (const auto& c : centres) {
    html += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1f}</td>"
        "<td class=\"num\">{:.2f}</td><td class=\"num\">{:.1f}%</td></tr>\n",
        html_escape(c.name), c.count, c.total_us, c.mean_us(), 100 * c.share);
  }
  html +=
      "</table>\n<h2>Memory in use</h2>\n<table id=\"memory-table\">\n"
      "<tr><th>Space</th><th>Bytes</th><th></th></tr>\n";
  for (const auto& [space, bytes] : report.memory) {
    html += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                        html_escape(space), bytes, human_bytes(bytes));
  }
  html += "</table>\n";
  html += "<script type=\"application/json\" id=\"profile-data\">" + data_text + "</script>\n";
  html += "<script>" + script + "</script>\n</body>\n</html>\n";
  return html;
}

}  // namespace hh::profile
