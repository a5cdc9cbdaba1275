// One self-contained page: inline CSS and SVG, no scripts, no external URLs, so it can be mailed
// or attached to a ticket and opened anywhere.
#include <algorithm>

#include <fmt/format.h>

#include "fleet/fleet_report.h"

namespace ut::fleet {

namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Bar {
  std::string label;
  double value = 0;
  double low = 0, high = 0;  // whiskers; equal to value when there is no interval
  bool highlight = false;
};

// Horizontal bars, one per row, with optional interval whiskers.
std::string svg_bars(const std::string& title, const std::vector<Bar>& bars, const std::string& unit) {
  constexpr int kLabelWidth = 330, kPlotWidth = 420, kRow = 22, kTop = 28;
  double top = 0;
  for (const Bar& b : bars) top = std::max({top, b.value, b.high});
  if (top <= 0) top = 1;
  int height = kTop + kRow * static_cast<int>(bars.size()) + 24;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">"
      "<text x=\"0\" y=\"16\" class=\"t\">{}</text>",
      kLabelWidth + kPlotWidth + 90, height, escape(title), escape(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    int y = kTop + kRow * static_cast<int>(i);
    double w = b.value / top * kPlotWidth;
    std::string label = b.label.size() > 48 ? b.label.substr(0, 47) + "…" : b.label;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", kLabelWidth - 6, y + 14, escape(label));
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" class=\"{}\"><title>{}: {:.4g} {}</title></rect>",
                       kLabelWidth, y + 3, std::max(w, 1.0), kRow - 6, b.highlight ? "hot" : "bar", escape(b.label),
                       b.value, escape(unit));
    if (b.high > b.low) {
      double x1 = kLabelWidth + b.low / top * kPlotWidth, x2 = kLabelWidth + b.high / top * kPlotWidth;
      svg += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" class=\"ci\"/>", x1, x2, y + 11, y + 11);
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{:.3g}</text>",
                       kLabelWidth + std::max(w, b.high / top * kPlotWidth) + 6, y + 14, b.value);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"u\">{}</text></svg>", kLabelWidth, height - 6, escape(unit));
  return svg;
}

// A chart of thousands of hosts helps nobody: the first rows (the groups come sorted), and the
// title says how many were left out.
constexpr size_t kMaxBars = 30;

std::string chart_title(const std::string& title, size_t shown, size_t total) {
  return shown < total ? fmt::format("{} (first {} of {})", title, shown, total) : title;
}

std::vector<Bar> forecast_bars(const std::vector<ExposureGroup>& groups) {
  std::vector<Bar> bars;
  for (size_t i = 0; i < groups.size() && i < kMaxBars; ++i)
    bars.push_back({groups[i].key, groups[i].predicted.per_day, groups[i].predicted.interval.low,
                    groups[i].predicted.interval.high, false});
  return bars;
}

std::string group_table(const char* title, const std::vector<ExposureGroup>& groups) {
  std::string html = fmt::format("<h3>{}</h3><table><tr><th></th><th>processes</th><th>exposed</th><th>hosts</th>"
                                 "<th>resumes/s</th><th>interrupt signals/s</th><th>hits</th><th>stuck threads</th>"
                                 "<th>predicted crashes/day [interval]</th><th>source</th>"
                                 "<th>observed crashes/day [interval]</th></tr>", title);
  for (const ExposureGroup& g : groups)
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4g}</td><td>{:.4g}</td><td>{}</td>"
                        "<td>{}</td><td>{:.3g} [{:.3g}, {:.3g}]</td><td>{}</td><td>{:.3g} [{:.3g}, {:.3g}]</td></tr>",
                        escape(g.key), g.processes, g.exposed, g.hosts, g.resumes_per_s, g.interrupt_signals_per_s,
                        g.hits, g.stuck_threads, g.predicted.per_day, g.predicted.interval.low, g.predicted.interval.high,
                        g.predicted.source(), g.observed.per_day, g.observed.interval.low, g.observed.interval.high);
  return html + "</table>";
}

}  // namespace

std::string render_fleet_html(const FleetReport& report) {
  const FleetSummary& e = report.exposure;
  std::string html =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>unwindtrace fleet report</title>"
      "<style>body{font:14px sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
      "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}"
      "svg text{font:12px sans-serif}svg .t{font-weight:bold}svg .u{fill:#666}.bar{fill:#4a7ab5}.hot{fill:#c0392b}"
      ".ci{stroke:#222;stroke-width:2}.outlier{color:#c0392b;font-weight:bold}</style></head><body>"
      "<h1>unwindtrace fleet report</h1>";
  html += fmt::format("<p>{} host(s), {} process(es) traced, {} exposed, {:.0f} process-seconds observed. "
                      "{} record line(s) from {} file(s), {} bad line(s) left out; {} event(s) lost, {} record(s) dropped.</p>",
                      e.hosts, e.processes, e.exposed, e.observed_s, report.lines, report.files, report.bad_lines,
                      e.lost_events, e.records_dropped);
  if (e.stuck_threads)
    html += fmt::format("<p class=\"outlier\">Stuck: {} thread(s) in {} process(es) loop in the unwinder, sent back "
                        "by an earlier window hit: they spin and never resume.</p>",
                        e.stuck_threads, e.stuck_processes);
  html += fmt::format("<h2>Predicted window crashes per day, fleet-wide: {:.3g} [{:.3g}, {:.3g}]</h2>"
                      "<p>Source {}: the exposure model of {} process(es), the observed rate of {} without one. "
                      "Observed: {:.3g} [{:.3g}, {:.3g}], the {:.0f}% interval from {} corrupting window hit(s) "
                      "(exact Poisson).</p>",
                      e.predicted.per_day, e.predicted.interval.low, e.predicted.interval.high, e.predicted.source(),
                      e.predicted.modelled, e.predicted.observed_only, e.observed.per_day, e.observed.interval.low,
                      e.observed.interval.high, e.observed.confidence * 100, e.observed.corrupting_hits);
  html += svg_bars(chart_title("Predicted crashes per day by unwinder build", std::min(kMaxBars, e.by_unwinder.size()),
                               e.by_unwinder.size()),
                   forecast_bars(e.by_unwinder), "crashes per day");
  html += svg_bars(chart_title("Predicted crashes per day by host", std::min(kMaxBars, e.by_host.size()), e.by_host.size()),
                   forecast_bars(e.by_host), "crashes per day");
  html += group_table("Exposure by unwinder build", e.by_unwinder);
  html += group_table("Exposure by executable", e.by_executable);
  html += group_table("Exposure by host", e.by_host);
  html += group_table("Exposure by CPU model", e.by_cpu_model);

  html += fmt::format("<h2>Crashes by signature and host</h2><p>A host is an outlier when the probability of "
                      "seeing its count or more, were the signature spread evenly over the {} hosts, is under "
                      "{:.2g} (binomial tail, Bonferroni-corrected).</p>",
                      report.crashes.hosts, report.crashes.threshold);
  if (report.crashes.clusters.empty()) html += "<p>No crash records.</p>";
  for (const CrashCluster& c : report.crashes.clusters) {
    html += fmt::format("<h3>{}: {} crash(es)</h3><p class=\"{}\">{}</p>", escape(c.signature), c.crashes,
                        c.concentrated ? "outlier" : "", escape(c.reading));
    std::vector<Bar> bars;
    for (size_t i = 0; i < c.hosts.size() && i < kMaxBars; ++i)  // most crashes first: outliers lead
      bars.push_back({c.hosts[i].host, static_cast<double>(c.hosts[i].crashes), 0, 0, c.hosts[i].outlier});
    html += svg_bars(chart_title(c.signature + " by host (red: outlier)", bars.size(), c.hosts.size()), bars, "crashes");
  }
  return html + "</body></html>\n";
}

}  // namespace ut::fleet
