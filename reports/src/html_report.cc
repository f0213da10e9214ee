#include "ezone/report/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atomic_file.h"
#include "ezone/report/attachments.h"
#include "ezone/report/performance.h"
#include "ezone/report/sanitize.h"
#include "node_view.h"

namespace ezone::report {
namespace {

// ---------------------------------------------------------------------------
// Aggregation shared by the HTML and Markdown renderers.

// Observed effects from least to most severe; the index is the severity.
constexpr std::array<std::string_view, 4> kEffects = {"none", "limited",
                                                      "varied", "global"};

std::optional<std::size_t> EffectSeverity(std::string_view effect) {
  for (std::size_t i = 0; i < kEffects.size(); ++i) {
    if (kEffects[i] == effect) return i;
  }
  return std::nullopt;
}

struct Totals {
  std::size_t checks = 0, pass = 0, failure = 0, error = 0, skipped = 0;
};

void Count(Totals& totals, Verdict verdict) {
  ++totals.checks;
  switch (verdict) {
    case Verdict::kPass:
      ++totals.pass;
      break;
    case Verdict::kFailure:
      ++totals.failure;
      break;
    case Verdict::kError:
      ++totals.error;
      break;
    case Verdict::kSkipped:
      ++totals.skipped;
      break;
  }
}

// All checks of one VMM x fault/variant pair.
struct Cell {
  Totals totals;
  std::optional<std::size_t> worst_effect;  // index into kEffects
  std::map<std::string, std::size_t> effect_counts;
  std::vector<std::size_t> checks;  // indexes into the record vector

  // "limited", "global", ..., or "skipped"/"error"/"unknown" when no effect
  // was observed: the cell's colour.
  std::string Kind() const {
    if (worst_effect) return std::string(kEffects[*worst_effect]);
    if (totals.checks > 0 && totals.skipped == totals.checks) return "skipped";
    if (totals.error > 0) return "error";
    return "unknown";
  }
  // The check a click on the cell should lead to: a violation first, then an
  // error, else the first check.
  std::size_t FirstToLookAt(const std::vector<CheckRecord>& records) const {
    for (const Verdict wanted : {Verdict::kFailure, Verdict::kError}) {
      for (const std::size_t i : checks) {
        if (records[i].verdict == wanted) return i;
      }
    }
    return checks.front();
  }
  // "5/5 pass", counted over the checks that ran.
  std::string PassText() const {
    const std::size_t ran = totals.checks - totals.skipped;
    if (ran == 0) return fmt::format("{} skipped", totals.skipped);
    return fmt::format("{}/{} pass", totals.pass, ran);
  }
};

struct Matrix {
  std::vector<std::string> rows;     // VMMs, order of first appearance
  std::vector<std::string> columns;  // fault[/variant]
  std::map<std::pair<std::string, std::string>, Cell> cells;
};

std::string ColumnLabel(const CheckRecord& record) {
  std::string label = record.fault.empty() ? "(no fault)" : record.fault;
  if (!record.variant.empty()) label += "/" + record.variant;
  return label;
}

std::string RowLabel(const CheckRecord& record) {
  return record.vmm.empty() ? "(no VMM)" : record.vmm;
}

Matrix BuildMatrix(const std::vector<CheckRecord>& records) {
  Matrix matrix;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const CheckRecord& record = records[i];
    const std::string row = RowLabel(record);
    const std::string column = ColumnLabel(record);
    if (std::find(matrix.rows.begin(), matrix.rows.end(), row) ==
        matrix.rows.end()) {
      matrix.rows.push_back(row);
    }
    if (std::find(matrix.columns.begin(), matrix.columns.end(), column) ==
        matrix.columns.end()) {
      matrix.columns.push_back(column);
    }
    Cell& cell = matrix.cells[{row, column}];
    Count(cell.totals, record.verdict);
    cell.checks.push_back(i);
    // A skipped check observed nothing, whatever its record says.
    if (record.verdict == Verdict::kSkipped) continue;
    if (const auto severity = EffectSeverity(record.effect)) {
      ++cell.effect_counts[record.effect];
      if (!cell.worst_effect || *severity > *cell.worst_effect) {
        cell.worst_effect = severity;
      }
    }
  }
  return matrix;
}

Totals CountAll(const std::vector<CheckRecord>& records) {
  Totals totals;
  for (const CheckRecord& record : records) Count(totals, record.verdict);
  return totals;
}

std::string FormatMs(const std::optional<double>& ms) {
  if (!ms || !std::isfinite(*ms)) return "–";
  if (std::fabs(*ms) < 1000) return fmt::format("{:.0f} ms", *ms);
  return fmt::format("{:.2f} s", *ms / 1000);
}

std::string CheckName(const CheckRecord& record) {
  if (record.classname.empty()) return record.name;
  return record.classname + "/" + record.name;
}

// ---------------------------------------------------------------------------
// HTML

// Untrusted text -> HTML text.
std::string H(std::string_view raw) { return EscapeHtml(SanitizeForXml(raw)); }
std::string H1(std::string_view raw) {
  return EscapeHtml(SanitizeOneLine(CapBytes(raw, 4096)));
}

// Percent-encodes a path for an href: only unreserved characters and '/'
// stay, so no scheme ("javascript:") or markup can sneak in.
std::string EncodePathForHref(const std::string& path) {
  std::string out;
  for (const unsigned char c : path) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The continuum chart's x range, in speed relative to native: wider than
// any real VMM (a millionth of native is no longer a VMM that runs).
constexpr double kMinPlottedPerformance = 1e-6;
constexpr double kMaxPlottedPerformance = 1e6;

std::string LogHref(const std::string& log_path,
                    const std::filesystem::path& link_base) {
  std::filesystem::path path(log_path);
  if (!link_base.empty() && path.is_absolute()) {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::absolute(link_base, ec);
    if (!ec) {
      const std::filesystem::path relative = path.lexically_relative(base);
      if (!relative.empty()) path = relative;
    }
  }
  return EncodePathForHref(path.generic_string());
}

constexpr std::string_view kCss = R"css(
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#ffffff;
  --none:#e1e4e8; --limited:#b7e4c7; --varied:#ffd98e; --global:#f4a3a3;
  --error:#d9c8f0; --skip:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); margin: 0 auto; padding: 24px;
  max-width: 1400px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.summary span { padding: 4px 10px; border-radius: 12px; background: var(--skip);
  border: 1px solid var(--line); }
.banner { padding: 8px 12px; border-radius: 6px; margin: 12px 0;
  font-weight: 600; }
.banner.bad { background: #ffebe9; border: 1px solid #ff8182; }
.banner.good { background: #dafbe1; border: 1px solid #4ac26b; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--skip); font-weight: 600; }
table.props td:first-child { font-family: ui-monospace, monospace;
  color: var(--muted); }
table.matrix td.cell { min-width: 120px; text-align: center; }
table.matrix th.row { white-space: nowrap; }
table.matrix td.cell a { color: inherit; text-decoration: none;
  display: block; }
.cell .effect { display: block; font-weight: 600; }
.cell .count { display: block; font-size: 12px; }
.cell .extra { display: block; font-size: 11px; color: var(--muted); }
.effect-none { background: var(--none); }
.effect-limited { background: var(--limited); }
.effect-varied { background: var(--varied); }
.effect-global { background: var(--global); }
.effect-unknown { background: var(--bg); }
.cell-error { background: var(--error); }
.cell-skipped { background: repeating-linear-gradient(45deg, var(--skip),
  var(--skip) 6px, #eaeef2 6px, #eaeef2 12px); color: var(--muted); }
.cell-empty { background: var(--bg); color: var(--muted); }
td.violated { outline: 3px solid #cf222e; outline-offset: -3px; }
.marker { display: block; color: #a40e26; font-weight: 700; font-size: 12px; }
.legend { display: flex; gap: 8px; flex-wrap: wrap; margin: 8px 0;
  font-size: 12px; }
.legend span { padding: 2px 8px; border: 1px solid var(--line);
  border-radius: 4px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px;
  font-size: 12px; font-weight: 600; border: 1px solid transparent; }
.verdict-pass { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.verdict-failure { background: #ffebe9; color: #a40e26; border-color: #ff8182; }
.verdict-error { background: #fbefff; color: #6e40c9; border-color: #c297ff; }
.verdict-skipped { background: var(--skip); color: var(--muted);
  border-color: var(--line); }
.scroll { overflow-x: auto; }
table.checks td.name a { font-weight: 600; }
table.checks .context { display: block; font-size: 12px; color: var(--muted); }
td.nowrap { white-space: nowrap; }
td.muted { color: var(--muted); }
.tag { display: inline-block; margin-left: 6px; padding: 0 6px;
  border-radius: 4px; font-size: 11px; background: #eaeef2; color: var(--fg); }
.tag.bad { background: #cf222e; color: #fff; }
.summary span.verdict-pass, .summary span.verdict-failure,
.summary span.verdict-error { font-weight: 600; }
table.checks td.num { text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0;
  padding: 0 12px; }
details[open] { padding-bottom: 12px; }
summary { cursor: pointer; padding: 8px 0; font-weight: 600; }
summary code { font-weight: 400; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px;
  margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; }
.message { white-space: pre-wrap; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px;
  padding: 8px; overflow: auto; max-height: 480px; font-size: 12px;
  white-space: pre-wrap; word-break: break-all; }
ul.evidence { margin: 4px 0; padding-left: 20px;
  font-family: ui-monospace, monospace; font-size: 12px; }
details.check { border-left-width: 4px; }
details.verdict-border-pass { border-left-color: #4ac26b; }
details.verdict-border-failure { border-left-color: #cf222e; }
details.verdict-border-error { border-left-color: #8250df; }
details.verdict-border-skipped { border-left-color: var(--line); }
h4 { margin: 14px 0 4px; font-size: 13px; }
.detail { white-space: pre-wrap; color: var(--muted); margin: 4px 0; }
.facts { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
.facts dl { margin: 4px 0; align-content: start; }
dl.properties { font-size: 12px; }
dl.properties dt { font-family: ui-monospace, monospace; }
dl.properties dd { word-break: break-all; }
svg.timeline { display: block; max-width: 100%; height: auto;
  font: 11px system-ui, sans-serif; fill: var(--muted); }
.timeline-legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px;
  color: var(--muted); margin: 2px 0 4px 130px; }
.timeline-legend i { display: inline-block; width: 10px; height: 10px;
  margin-right: 4px; border: 1px solid #0002; vertical-align: -1px; }
.timeline-legend i.tick { width: 3px; }
ul.evidence.host li.bad { color: #a40e26; font-weight: 600; }
ul.evidence.host li.good::marker { content: "✓ "; color: #116329; }
p.log { font-size: 12px; }
figure.continuum { margin: 8px 0; }
svg.continuum { display: block; max-width: 100%; height: auto;
  font: 11px system-ui, sans-serif; fill: var(--muted); }
svg.continuum text.point-label { fill: var(--fg); font-size: 12px;
  font-weight: 600; }
svg.continuum text.point-label tspan { fill: var(--muted); font-weight: 400; }
svg.continuum text.corner { font-style: italic; fill: #8c959f; }
figure.continuum figcaption { color: var(--muted); font-size: 12px;
  max-width: 780px; }
table.continuum td.num { text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
p.continuum-none { color: var(--muted); }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
)css";

std::string VerdictBadge(Verdict verdict) {
  return fmt::format(R"(<span class="badge verdict-{0}">{0}</span>)",
                     VerdictName(verdict));
}

std::string EffectClass(std::string_view kind) {
  if (kind == "skipped") return "cell-skipped";
  if (kind == "error") return "cell-error";
  if (EffectSeverity(kind)) return fmt::format("effect-{}", kind);
  return "effect-unknown";
}

void RenderHeader(std::string& out, const RunInfo& run, const Totals& totals) {
  const std::string title = run.name.empty() ? "ezone run" : run.name;
  out += fmt::format("<h1>{}</h1>\n", H1(title));
  std::string meta;
  if (!run.hostname.empty()) meta += "host <b>" + H1(run.hostname) + "</b>";
  if (!run.timestamp.empty()) {
    if (!meta.empty()) meta += " · ";
    meta += "started " + H1(run.timestamp);
  }
  if (!meta.empty()) out += "<p class=\"meta\">" + meta + "</p>\n";
  const auto plural = [](std::size_t n) { return n == 1 ? "" : "s"; };
  if (totals.failure > 0 || totals.error > 0) {
    std::string text;
    if (totals.failure > 0) {
      text = fmt::format("Isolation violated in {} check{}.", totals.failure,
                         plural(totals.failure));
    }
    if (totals.error > 0) {
      if (!text.empty()) text += " ";
      text += fmt::format("{} check{} could not be carried out.", totals.error,
                          plural(totals.error));
    }
    out += "<div class=\"banner bad\">" + text + "</div>\n";
  } else if (totals.pass > 0) {
    out +=
        "<div class=\"banner good\">Every check that ran kept its "
        "isolation policy.</div>\n";
  }
  out += fmt::format(
      "<div class=\"summary\"><span>{} check{}</span>"
      "<span class=\"verdict-pass\">{} pass</span>"
      "<span class=\"verdict-failure\">{} failure{}</span>"
      "<span class=\"verdict-error\">{} error{}</span>"
      "<span class=\"verdict-skipped\">{} skipped</span></div>\n",
      totals.checks, plural(totals.checks), totals.pass, totals.failure,
      plural(totals.failure), totals.error, plural(totals.error),
      totals.skipped);
  if (!run.properties.empty()) {
    out += "<table class=\"props\">\n";
    for (const auto& [key, value] : run.properties) {
      out +=
          fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", H1(key), H1(value));
    }
    out += "</table>\n";
  }
}

void RenderMatrix(std::string& out, const Matrix& matrix,
                  const std::vector<CheckRecord>& records) {
  out += "<h2>Isolation matrix</h2>\n";
  out +=
      "<div class=\"legend\">Observed effect: "
      "<span class=\"effect-none\">none</span>"
      "<span class=\"effect-limited\">limited</span>"
      "<span class=\"effect-varied\">varied</span>"
      "<span class=\"effect-global\">global</span>"
      "<span class=\"cell-skipped\">skipped</span>"
      "<span class=\"cell-error\">error</span>"
      "<span class=\"marker\">✗ policy violated</span></div>\n";
  out += "<table class=\"matrix\">\n<tr><th>VMM \\ fault</th>";
  for (const std::string& column : matrix.columns) {
    out += "<th>" + H1(column) + "</th>";
  }
  out += "</tr>\n";
  for (const std::string& row : matrix.rows) {
    out += "<tr><th class=\"row\">" + H1(row) + "</th>";
    for (const std::string& column : matrix.columns) {
      const auto it = matrix.cells.find({row, column});
      if (it == matrix.cells.end()) {
        out += "<td class=\"cell cell-empty\">—</td>";
        continue;
      }
      const Cell& cell = it->second;
      const std::string kind = cell.Kind();
      std::string title;
      for (const auto& [effect, count] : cell.effect_counts) {
        if (!title.empty()) title += ", ";
        title += fmt::format("{} ×{}", effect, count);
      }
      out += fmt::format(
          "<td class=\"cell {}{}\" title=\"{}\"><a href=\"#check-{}\">"
          "<span class=\"effect\">{}</span><span class=\"count\">{}</span>",
          EffectClass(kind), cell.totals.failure > 0 ? " violated" : "",
          H1(title), cell.FirstToLookAt(records), H1(kind), cell.PassText());
      if (cell.totals.failure > 0) {
        out += fmt::format("<span class=\"marker\">✗ {} violated</span>",
                           cell.totals.failure);
      }
      std::string extra;
      if (cell.totals.error > 0)
        extra += fmt::format("{} error", cell.totals.error);
      if (cell.totals.skipped > 0 && cell.totals.skipped < cell.totals.checks) {
        if (!extra.empty()) extra += ", ";
        extra += fmt::format("{} skipped", cell.totals.skipped);
      }
      if (!extra.empty()) out += "<span class=\"extra\">" + extra + "</span>";
      out += "</a></td>";
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
}

// A check the journal had to finish: "host rebooted" or "interrupted".
std::string InterruptedTag(const CheckRecord& r) {
  if (r.properties.find("journal.interrupted") == r.properties.end()) return "";
  return r.effect == "global" ? " <span class=\"tag bad\">host rebooted</span>"
                              : " <span class=\"tag\">interrupted</span>";
}

void RenderCheckTable(std::string& out,
                      const std::vector<CheckRecord>& records) {
  out +=
      "<h2>Checks</h2>\n<div class=\"scroll\"><table class=\"checks\">\n"
      "<tr><th>Check</th><th>VMM</th><th>Fault</th><th>Zone</th>"
      "<th>Policy</th><th>Effect</th><th>Verdict</th><th>Boot</th>"
      "<th>Ready</th><th>Detection</th><th>Teardown</th><th>Total</th></tr>\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const CheckRecord& r = records[i];
    // A skipped or failed-to-run check observed nothing: no colour.
    const bool observed = r.verdict != Verdict::kSkipped && !r.effect.empty();
    std::string context = r.classname;
    if (!r.suite.empty()) {
      context +=
          (context.empty() ? "" : " · ") + std::string("suite ") + r.suite;
    }
    out += fmt::format(
        "<tr><td class=\"name\"><a href=\"#check-{}\">{}</a>{}"
        "<span class=\"context\">{}</span></td><td>{}</td><td>{}</td>"
        "<td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td>"
        "<td class=\"{}\">{}</td><td>{}</td>",
        i, H1(r.name.empty() ? CheckName(r) : r.name), InterruptedTag(r),
        H1(context), H1(r.vmm), H1(ColumnLabel(r)), H1(r.zone), H1(r.policy),
        observed ? EffectClass(r.effect) : "muted",
        observed ? H1(r.effect) : "—", VerdictBadge(r.verdict));
    for (const auto& ms : {r.timing.boot, r.timing.ready, r.timing.detection,
                           r.timing.teardown, r.timing.total}) {
      out += "<td class=\"num\">" + FormatMs(ms) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</table></div>\n";
}

// ---------------------------------------------------------------------------
// Per-check timeline: an inline SVG drawn from TimingMs (and heartbeat
// properties when the runner recorded them). No script, no fonts to load.

// Old reports carried heartbeats as properties "heartbeat.<role>"; the
// journal reader turns those into CheckRecord::heartbeats_ms, and these
// keys stay out of the property list.
constexpr std::string_view kHeartbeatPrefix = "heartbeat.";

struct Segment {
  double from, to;
  std::string_view label, colour;
};

constexpr std::string_view kColourVmm = "#8fb8de";
constexpr std::string_view kColourBoot = "#c6dcf2";
constexpr std::string_view kColourDetect = "#e5534b";
constexpr std::string_view kColourObserve = "#e6e9ed";
constexpr std::string_view kColourTeardown = "#9aa3ad";
constexpr std::string_view kColourNoReady = "#d9c8f0";

std::string Num(double value) { return fmt::format("{:.1f}", value); }

// Empty when the check has no timings and no heartbeats.
std::string RenderTimeline(const CheckRecord& r) {
  const auto finite = [](const std::optional<double>& v) {
    return v && std::isfinite(*v) && *v >= 0;
  };
  const TimingMs& t = r.timing;
  std::vector<Segment> segments;
  // Phases as check_runner.cc measures them: boot = VMM started, ready =
  // READY seen (both from the start of the boot), detection = fault fired
  // (right after READY) to its first sign, teardown at the end.
  double end = finite(t.total) ? *t.total : 0;
  double cursor = 0;
  if (finite(t.boot)) {
    segments.push_back({0, *t.boot, "VMM start", kColourVmm});
    cursor = *t.boot;
  }
  std::optional<double> fired, detected;
  if (finite(t.ready) && *t.ready >= cursor) {
    segments.push_back({cursor, *t.ready, "guest boot to READY", kColourBoot});
    cursor = *t.ready;
    fired = cursor;
  } else if (finite(t.boot) && end > cursor) {
    // Started but never READY: the wait is most of the check.
    const double until =
        finite(t.teardown) ? std::max(cursor, end - *t.teardown) : end;
    segments.push_back(
        {cursor, until, "waiting for READY (never came)", kColourNoReady});
    cursor = until;
  }
  if (finite(t.detection) && fired) {
    segments.push_back(
        {cursor, cursor + *t.detection, "fault to detection", kColourDetect});
    cursor += *t.detection;
    detected = cursor;
  }
  end = std::max(end, cursor);
  std::vector<std::pair<std::string, std::vector<double>>> heartbeats;
  for (const auto& [role, times] : r.heartbeats_ms) {
    std::vector<double> beats;
    for (double t : times) {
      if (std::isfinite(t) && t >= 0) beats.push_back(t);
    }
    if (beats.empty()) continue;
    std::sort(beats.begin(), beats.end());
    end = std::max(end, beats.back());
    heartbeats.emplace_back(role, std::move(beats));
  }
  if (finite(t.teardown)) {
    const double from = std::max(cursor, end - *t.teardown);
    end = std::max(end, from + *t.teardown);
    if (fired && from > cursor) {
      segments.push_back({cursor, from, "observing", kColourObserve});
    }
    segments.push_back({from, from + *t.teardown, "teardown", kColourTeardown});
  } else if (fired && end > cursor) {
    segments.push_back({cursor, end, "observing", kColourObserve});
  }
  if (segments.empty() && heartbeats.empty()) return "";
  if (end <= 0) end = 1;

  constexpr double kLeft = 130, kWidth = 860, kBarY = 6, kBarH = 18, kRowH = 16;
  const double scale = kWidth / end;
  const auto x = [&](double ms) {
    return kLeft + std::clamp(ms, 0.0, end) * scale;
  };
  const double rows_y = kBarY + kBarH + 8;
  const double axis_y =
      rows_y + kRowH * static_cast<double>(heartbeats.size()) + 4;
  const double height = axis_y + 16;
  std::string svg = fmt::format(
      "<svg class=\"timeline\" "
      "width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
      "aria-label=\"timeline of the check\">\n",
      Num(kLeft + kWidth + 40), Num(height));
  svg +=
      fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">phases</text>\n",
                  Num(kLeft - 8), Num(kBarY + 13));
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f6f8fa\" "
      "stroke=\"#d0d7de\"/>\n",
      Num(kLeft), Num(kBarY), Num(kWidth), Num(kBarH));
  for (const Segment& s : segments) {
    const double w = std::max(1.0, x(s.to) - x(s.from));
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">"
        "<title>{}: {}</title></rect>\n",
        Num(x(s.from)), Num(kBarY), Num(w), Num(kBarH), s.colour, s.label,
        FormatMs(s.to - s.from));
  }
  // READY/fault and detection as ticks over the bar.
  for (const auto& [at, colour] :
       {std::pair{fired, "#1f6feb"}, std::pair{detected, "#a40e26"}}) {
    if (!at) continue;
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{3}\" "
        "stroke-width=\"2\"/>\n",
        Num(x(*at)), Num(kBarY - 4), Num(kBarY + kBarH + 4), colour);
  }
  double y = rows_y;
  for (const auto& [role, beats] : heartbeats) {
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{} heartbeat</text>\n",
        Num(kLeft - 8), Num(y + 10), H1(role));
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" "
        "stroke=\"#d0d7de\"/>\n",
        Num(kLeft), Num(kLeft + kWidth), Num(y + 6));
    // A gap much longer than the usual rhythm is where the heartbeat was
    // lost: red, with its length.
    std::vector<double> gaps;
    for (std::size_t i = 1; i < beats.size(); ++i) {
      gaps.push_back(beats[i] - beats[i - 1]);
    }
    std::vector<double> sorted = gaps;
    std::sort(sorted.begin(), sorted.end());
    const double usual = sorted.empty() ? 0 : sorted[sorted.size() / 2];
    for (std::size_t i = 0; i < gaps.size(); ++i) {
      if (usual > 0 && gaps[i] > 3 * usual) {
        svg += fmt::format(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\" "
            "fill=\"#ffd6d3\"><title>no heartbeat for {}</title></rect>\n",
            Num(x(beats[i])), Num(y + 1), Num(x(beats[i + 1]) - x(beats[i])),
            FormatMs(gaps[i]));
      }
    }
    // The gap after the last beat, up to the end of the check.
    if (usual > 0 && end - beats.back() > 3 * usual) {
      svg += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\" "
          "fill=\"#ffd6d3\"><title>no heartbeat for the last {}</title>"
          "</rect>\n",
          Num(x(beats.back())), Num(y + 1), Num(x(end) - x(beats.back())),
          FormatMs(end - beats.back()));
    }
    for (const double beat : beats) {
      svg += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"2\" height=\"12\" "
          "fill=\"#116329\"/>\n",
          Num(x(beat) - 1), Num(y));
    }
    y += kRowH;
  }
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\">0</text><text x=\"{}\" y=\"{}\" "
      "text-anchor=\"end\">{}</text>\n",
      Num(kLeft), Num(axis_y + 10), Num(kLeft + kWidth), Num(axis_y + 10),
      FormatMs(end));
  svg += "</svg>\n";

  // The numbers, readable without hovering.
  std::string legend = "<div class=\"timeline-legend\">";
  for (const Segment& s : segments) {
    legend += fmt::format("<span><i style=\"background:{}\"></i>{} {}</span>",
                          s.colour, s.label, FormatMs(s.to - s.from));
  }
  if (fired) {
    legend += fmt::format(
        "<span><i class=\"tick\" style=\"background:#1f6feb\"></i>READY, "
        "fault fired at {}</span>",
        FormatMs(*fired));
  }
  if (detected) {
    legend += fmt::format(
        "<span><i class=\"tick\" style=\"background:#a40e26\"></i>fault seen "
        "at {}</span>",
        FormatMs(*detected));
  }
  legend += "</div>\n";
  return svg + legend;
}

// ---------------------------------------------------------------------------
// The isolation/performance continuum (the paper's Figure 4): one point per
// VMM label, x = speed relative to native (performance.json, log scale),
// y = share of its checks whose fault stayed contained (the records).

std::string Percent(double share) { return fmt::format("{:.0f}%", share * 100); }

std::string Factor(double value) {
  return value >= 10 ? fmt::format("{:.0f}×", value)
                     : value >= 0.095 ? fmt::format("{:.2f}×", value)
                                      : fmt::format("{:.3f}×", value);
}

// A point's colour on the effect scale: contained = limited's green, none
// contained = global's red, in between varied's amber.
std::string_view IsolationColour(double share) {
  if (share >= 0.999) return "#4ac26b";
  if (share <= 0.001) return "#cf222e";
  return "#d4a72c";
}

void RenderContinuum(std::string& out, const std::vector<CheckRecord>& records,
                     const PerformanceData* perf) {
  out += "<h2 id=\"continuum\">Isolation vs performance</h2>\n";
  const std::map<std::string, Isolation> isolation = IsolationByVmm(records);
  if (perf == nullptr) {
    out +=
        "<p class=\"continuum-none\">No performance figures for this run: its "
        "report directory has no <code>performance.json</code>, so the "
        "continuum chart (the paper's Figure 4) is not drawn. "
        "<code>ezone bench --workload --json &lt;report dir&gt;/performance.json"
        "</code> measures them; <code>ezone report</code> then draws it.</p>\n";
    return;
  }
  if (!perf->error.empty()) {
    out += "<p class=\"continuum-none\">The performance figures could not be "
           "read, so the continuum chart is not drawn: " +
           H1(perf->error) + "</p>\n";
    return;
  }

  struct Point {
    std::string label;
    double x, y;  // performance (relative speed), isolation share
    const VmmPerformance* vmm;
    Isolation iso;
  };
  std::vector<Point> points;
  std::vector<std::string> not_plotted;
  std::vector<std::string> labels;  // every VMM of either side, in order
  for (const VmmPerformance& v : perf->vmms) labels.push_back(v.label);
  for (const CheckRecord& r : records) {
    const std::string label = RowLabel(r);
    if (std::find(labels.begin(), labels.end(), label) == labels.end()) {
      labels.push_back(label);
    }
  }
  for (const std::string& label : labels) {
    const VmmPerformance* vmm = nullptr;
    for (const VmmPerformance& v : perf->vmms) {
      if (v.label == label) vmm = &v;
    }
    const auto it = isolation.find(label);
    const std::optional<double> share =
        it == isolation.end() ? std::nullopt : it->second.Share();
    std::string why;
    if (vmm == nullptr) {
      why = "no performance figures for it in the performance file";
    } else if (vmm->status != "ran" || !vmm->performance) {
      why = "workload " + (vmm->status.empty() ? "not run" : vmm->status) +
            (vmm->reason.empty() ? "" : ": " + vmm->reason);
    } else if (!(*vmm->performance >= kMinPlottedPerformance &&
                 *vmm->performance <= kMaxPlottedPerformance)) {
      // The axis spans whole decades from log10 of the figures: a figure
      // near 1e308 would make it infinite.
      why = fmt::format(
          "its performance figure {:g} is outside what the chart draws ({:g} "
          "to {:g} times native)",
          *vmm->performance, kMinPlottedPerformance, kMaxPlottedPerformance);
    }
    if (!share) {
      if (!why.empty()) why += "; ";
      why += "no check of it was carried out in this report";
    }
    if (!why.empty()) {
      not_plotted.push_back("<li><b>" + H1(label) + "</b>: " + H1(why) + "</li>");
      continue;
    }
    points.push_back({label, *vmm->performance, *share, vmm, it->second});
  }

  // Axes. x: log10, whole decades around the points and native (1).
  double lo = 1, hi = 1;
  for (const Point& p : points) {
    lo = std::min(lo, p.x);
    hi = std::max(hi, p.x);
  }
  // From the decade below the slowest point to twice the fastest (at least
  // twice native), so native's line never sits on the edge.
  const double log_lo = std::floor(std::log10(lo) - 0.05);
  const double log_hi = std::log10(2 * hi);
  constexpr double kLeft = 70, kTop = 24, kWidth = 560, kHeight = 300;
  constexpr double kPad = 14;  // points at 0% and 100% stay off the frame
  const auto px = [&](double v) {
    return kLeft + (std::log10(v) - log_lo) / (log_hi - log_lo) * kWidth;
  };
  const auto py = [&](double share) {
    return kTop + kPad + (1 - share) * (kHeight - 2 * kPad);
  };
  std::string svg = fmt::format(
      "<svg class=\"continuum\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"isolation versus "
      "performance per VMM\">\n",
      Num(kLeft + kWidth + 150), Num(kTop + kHeight + 52));
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f6f8fa\" "
      "stroke=\"#d0d7de\"/>\n",
      Num(kLeft), Num(kTop), Num(kWidth), Num(kHeight));
  // Where the continuum's ends lie, faintly.
  svg += fmt::format(
      "<text class=\"corner\" x=\"{}\" y=\"{}\">isolated, slow</text>"
      "<text class=\"corner\" x=\"{}\" y=\"{}\" text-anchor=\"end\">fast, "
      "not isolated</text>\n",
      Num(kLeft + 6), Num(kTop + 14), Num(kLeft + kWidth - 6),
      Num(kTop + kHeight - 6));
  for (int i = 0; i <= 4; ++i) {
    const double share = i / 4.0, y = py(share);
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#d0d7de\" "
        "stroke-dasharray=\"2 3\"/><text x=\"{3}\" y=\"{4}\" "
        "text-anchor=\"end\">{5}</text>\n",
        Num(kLeft), Num(kLeft + kWidth), Num(y), Num(kLeft - 6), Num(y + 4),
        Percent(share));
  }
  for (int d = static_cast<int>(log_lo); d <= static_cast<int>(log_hi); ++d) {
    for (const double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, d);
      const double l = std::log10(v);
      if (l < log_lo - 1e-9 || l > log_hi + 1e-9) continue;
      const double x = px(v);
      svg += fmt::format(
          "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#d0d7de\" "
          "stroke-dasharray=\"{3}\"/><text x=\"{0}\" y=\"{4}\" "
          "text-anchor=\"middle\">{5}</text>\n",
          Num(x), Num(kTop), Num(kTop + kHeight), m == 1 ? "2 3" : "1 5",
          Num(kTop + kHeight + 14), fmt::format("{:g}", v));
    }
  }
  // Native: the right end of the performance axis that matters.
  svg += fmt::format(
      "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#1f6feb\" "
      "stroke-dasharray=\"5 3\"/><text x=\"{3}\" y=\"{4}\" "
      "fill=\"#1f6feb\">native</text>\n",
      Num(px(1)), Num(kTop), Num(kTop + kHeight), Num(px(1) + 4),
      Num(kTop + kHeight / 2));
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">performance: speed "
      "relative to native (geometric mean of the workloads, log scale)</text>\n",
      Num(kLeft + kWidth / 2), Num(kTop + kHeight + 34));
  svg += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 {0} {1})\">isolation: faults contained</text>\n",
      Num(18), Num(kTop + kHeight / 2));
  // Points, and labels pushed down where they would overlap an earlier one.
  std::vector<std::pair<double, double>> placed;
  std::vector<std::size_t> order(points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return points[a].y != points[b].y ? points[a].y > points[b].y
                                      : points[a].x < points[b].x;
  });
  for (const std::size_t i : order) {
    const Point& p = points[i];
    const double x = px(p.x), y = py(p.y);
    double ly = y + 4;
    for (bool moved = true; moved;) {
      moved = false;
      for (const auto& [ox, oy] : placed) {
        if (std::fabs(ox - x) < 120 && std::fabs(oy - ly) < 13) {
          ly = oy + 13;
          moved = true;
        }
      }
    }
    placed.emplace_back(x, ly);
    const std::string tip = fmt::format(
        "{}: {} native speed (overhead {:+.0f}%), {} of {} checks contained",
        p.label, Factor(p.x),
        p.vmm->overhead ? *p.vmm->overhead * 100 : (1 / p.x - 1) * 100,
        p.iso.contained, p.iso.judged);
    svg += fmt::format(
        "<circle class=\"point\" data-vmm=\"{}\" cx=\"{}\" cy=\"{}\" r=\"6\" "
        "fill=\"{}\" fill-opacity=\"0.85\" stroke=\"#1f2328\"><title>{}</title>"
        "</circle>\n",
        H1(p.label), Num(x), Num(y), IsolationColour(p.y), H1(tip));
    svg += fmt::format(
        "<text class=\"point-label\" x=\"{}\" y=\"{}\">{} <tspan>{}, {}</tspan>"
        "</text>\n",
        Num(x + 10), Num(ly), H1(p.label), Factor(p.x), Percent(p.y));
  }
  svg += "</svg>\n";

  out += "<figure class=\"continuum\">\n" + svg;
  out += fmt::format(
      "<figcaption>One point per VMM. <b>x, performance</b>: the workload's "
      "speed in a guest on that VMM relative to the same program run natively "
      "on the host (1 = native), the geometric mean over its {} figures "
      "(<code>ezone bench --workload</code>, {}{}). <b>y, isolation</b>: of "
      "that VMM's checks in this report that were carried out, the share whose "
      "fault was contained: passed with effect <i>none</i> or <i>limited</i>, "
      "against failed checks and checks with effect <i>varied</i> or "
      "<i>global</i>; skipped checks and errors (the check could not be "
      "carried out) are not counted.</figcaption>\n</figure>\n",
      perf->metrics.empty() ? std::size_t{4} : perf->metrics.size(),
      perf->created.empty() ? "undated" : "measured " + H1(perf->created),
      perf->host.empty() ? "" : " on " + H1(perf->host));

  // The numbers behind the points.
  out += "<div class=\"scroll\"><table class=\"continuum\">\n<tr><th>VMM</th>"
         "<th>isolation</th><th>performance</th><th>overhead</th>";
  for (const PerformanceMetric& m : perf->metrics) {
    out += fmt::format("<th>{}</th>", H1(m.label.empty() ? m.key : m.label));
  }
  out += "</tr>\n";
  for (const std::string& label : labels) {
    const VmmPerformance* vmm = nullptr;
    for (const VmmPerformance& v : perf->vmms) {
      if (v.label == label) vmm = &v;
    }
    const auto it = isolation.find(label);
    std::string iso = "–";
    if (it != isolation.end() && it->second.Share()) {
      iso = fmt::format("{} ({}/{})", Percent(*it->second.Share()),
                        it->second.contained, it->second.judged);
    }
    out += "<tr><th class=\"row\">" + H1(label) + "</th><td class=\"num\">" + iso +
           "</td>";
    if (vmm != nullptr && vmm->performance) {
      out += "<td class=\"num\">" + Factor(*vmm->performance) + "</td>";
      out += "<td class=\"num\">" +
             (vmm->overhead ? fmt::format("{:+.0f}%", *vmm->overhead * 100)
                            : std::string("–")) +
             "</td>";
      for (const PerformanceMetric& m : perf->metrics) {
        const auto rel = vmm->relative.find(m.key);
        out += "<td class=\"num\">" +
               (rel == vmm->relative.end() ? std::string("–")
                                           : Factor(rel->second)) +
               "</td>";
      }
    } else {
      const std::string why =
          vmm == nullptr ? "not measured"
                         : (vmm->status.empty() ? "not run" : vmm->status) +
                               (vmm->reason.empty() ? "" : ": " + vmm->reason);
      out += fmt::format("<td class=\"muted\" colspan=\"{}\">{}</td>",
                         2 + perf->metrics.size(), H1(why));
    }
    out += "</tr>\n";
  }
  std::string native;
  for (const PerformanceMetric& m : perf->metrics) {
    const auto it = perf->native_run.median.find(m.key);
    if (it == perf->native_run.median.end()) continue;
    native += fmt::format("{}{} {:.4g} {}", native.empty() ? "" : ", ",
                          H1(m.label.empty() ? m.key : m.label), it->second,
                          H1(m.unit));
  }
  out += "</table></div>\n";
  out += "<p class=\"meta\">Per workload: speed relative to native (×). "
         "Native medians" +
         (native.empty() ? std::string(": none recorded") : ": " + native) +
         (perf->workload_args.empty()
              ? std::string()
              : " (ezone-workload " + H1(perf->workload_args) + ")") +
         ".</p>\n";
  if (!not_plotted.empty()) {
    out += "<p class=\"meta\">Not plotted:</p><ul class=\"not-plotted\">\n";
    for (const std::string& line : not_plotted) out += line + "\n";
    out += "</ul>\n";
  }
}

// Checks grouped by the crash they hit (CheckRecord::crash_title): how many
// checks met the same bug, and which, linked to their details.
std::vector<std::pair<std::string, std::vector<std::size_t>>> GroupByTitle(
    const std::vector<CheckRecord>& records) {
  std::vector<std::pair<std::string, std::vector<std::size_t>>> groups;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::string& title = records[i].crash_title;
    if (title.empty()) continue;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return g.first == title; });
    if (it == groups.end()) {
      groups.push_back({title, {i}});
    } else {
      it->second.push_back(i);
    }
  }
  std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
    return a.second.size() > b.second.size();
  });
  return groups;
}

void RenderCrashTitles(std::string& out, const std::vector<CheckRecord>& records) {
  const auto groups = GroupByTitle(records);
  if (groups.empty()) return;
  out += "<h2>Crashes by title</h2>\n<table class=\"titles\">\n"
         "<tr><th>crash</th><th>checks</th><th>which</th></tr>\n";
  for (const auto& [title, indices] : groups) {
    std::string which;
    for (std::size_t i : indices) {
      if (!which.empty()) which += ", ";
      which += fmt::format("<a href=\"#check-{}\">{}</a>", i, H1(CheckName(records[i])));
    }
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n", H1(title),
                       indices.size(), which);
  }
  out += "</table>\n";
}

// The CSS class of a host reading: "bad" when the host suffered, "good"
// for an all-clear, "" otherwise (the oracle typed it; no wording is read).
std::string_view HostReadingClass(const Evidence& e) {
  switch (e.severity) {
    case Severity::kBad:
    case Severity::kWarning:
      return "bad";
    case Severity::kGood:
      return "good";
    case Severity::kInfo:
      break;
  }
  return "";
}

// Properties shown in their own places, not in the generic list.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5>
    kVersionProperties = {{{"guest_kernel_release", "guest kernel"},
                           {"guest_image_sha256", "guest image sha256"},
                           {"vmm_version", "VMM"},
                           {"vmm_plugin", "VMM plugin"},
                           {"fault_plugin", "fault plugin"}}};

bool IsShownElsewhere(std::string_view key) {
  if (key.rfind(kHeartbeatPrefix, 0) == 0) return true;
  if (IsConsoleLogProperty(key)) return true;  // linked under the excerpt
  for (const auto& [property, label] : kVersionProperties) {
    if (property == key) return true;
  }
  return false;
}

void RenderCheckDetails(std::string& out,
                        const std::vector<CheckRecord>& records,
                        const std::filesystem::path& link_base) {
  out += "<h2>Details</h2>\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const CheckRecord& r = records[i];
    // Open what needs attention; passes and skips stay folded.
    const bool open =
        r.verdict == Verdict::kFailure || r.verdict == Verdict::kError;
    out += fmt::format(
        "<details id=\"check-{}\" class=\"check verdict-border-{}\"{}>\n"
        "<summary>{} <code>{}</code>{}{}</summary>\n",
        i, VerdictName(r.verdict), open ? " open" : "", VerdictBadge(r.verdict),
        H1(CheckName(r)), r.effect.empty() ? "" : " — effect " + H1(r.effect),
        InterruptedTag(r));
    if (!r.message.empty()) {
      out += "<p class=\"message\">" + H1(r.message) + "</p>\n";
    }
    if (!r.crash_title.empty()) {
      out += "<p class=\"crash-title\">crash: <code>" + H1(r.crash_title) + "</code></p>\n";
    }
    if (!r.detail.empty()) {
      out += "<p class=\"detail\">" + H(CapBytes(r.detail)) + "</p>\n";
    }

    // What was checked, its timings and the versions involved, side by side.
    out += "<div class=\"facts\">\n<dl>";
    auto field = [&](std::string_view key, const std::string& value) {
      if (!value.empty()) {
        out += fmt::format("<dt>{}</dt><dd>{}</dd>", key, H1(value));
      }
    };
    field("suite", r.suite);
    field("zone", r.zone);
    field("vmm", r.vmm);
    field("fault", r.fault);
    field("variant", r.variant);
    field("policy", r.policy);
    field("effect", r.effect);
    field("started", r.timestamp);
    if (std::isfinite(r.seconds) && r.seconds > 0) {
      field("wall time", FormatMs(r.seconds * 1000));
    }
    out += "</dl>\n<dl>";
    const std::pair<std::string_view, const std::optional<double>*> timings[] =
        {{"boot", &r.timing.boot},
         {"ready", &r.timing.ready},
         {"detection", &r.timing.detection},
         {"teardown", &r.timing.teardown},
         {"total", &r.timing.total},
         {"VMM probe", &r.timing.probe}};
    for (const auto& [label, value] : timings) {
      if (*value) field(label, FormatMs(*value));
    }
    out += "</dl>\n<dl>";
    for (const auto& [key, label] : kVersionProperties) {
      const auto it = r.properties.find(std::string(key));
      if (it == r.properties.end() || it->second.empty()) continue;
      if (key == "guest_image_sha256" && it->second.size() > 16) {
        // The full hash is in the tooltip and the JUnit file.
        out += fmt::format("<dt>{}</dt><dd title=\"{}\"><code>{}…</code></dd>",
                           label, H1(it->second), H1(it->second.substr(0, 16)));
      } else {
        field(label, it->second);
      }
    }
    out += "</dl>\n</div>\n";

    if (const std::string timeline = RenderTimeline(r); !timeline.empty()) {
      out += "<h4>Timeline</h4>\n" + timeline;
    }
    std::vector<const Evidence*> host, other;
    for (const Evidence& e : r.evidence) {
      (IsHostReading(e) ? host : other).push_back(&e);
    }
    if (!host.empty()) {
      out += "<h4>Host oracle</h4>\n<ul class=\"evidence host\">\n";
      for (const Evidence* e : host) {
        out += fmt::format("<li class=\"{}\">{}</li>\n", HostReadingClass(*e),
                           H1(e->text));
      }
      out += "</ul>\n";
    }
    if (!other.empty()) {
      out += "<h4>Evidence</h4>\n<ul class=\"evidence\">\n";
      for (const Evidence* e : other)
        out += "<li>" + H1(e->text) + "</li>\n";
      out += "</ul>\n";
    }
    if (!r.kernel_reports.empty()) {
      out += "<h4>Kernel reports</h4>\n<ul class=\"evidence\">\n";
      for (const KernelReport& k : r.kernel_reports) {
        out += fmt::format("<li>{} {}{}{}: <code>{}</code> (console lines {}–{}){}</li>\n",
                           H1(k.vm), H1(k.kind), k.fatal ? " (fatal)" : "",
                           k.corrupted ? " (corrupted)" : "", H1(k.title), k.first_line,
                           k.last_line,
                           k.corrupted ? " — " + H1(k.corrupted_reason) : std::string());
      }
      out += "</ul>\n";
    }
    if (!r.console_excerpt.empty()) {
      out += "<h4>Console excerpt</h4>\n<pre class=\"console\">" +
             H(CapBytes(r.console_excerpt)) + "</pre>\n";
    }
    if (!r.console_log_path.empty()) {
      out += fmt::format(
          "<p class=\"log\">Full console log: <a href=\"{}\">{}</a></p>\n",
          LogHref(r.console_log_path, link_base), H1(r.console_log_path));
    }
    for (const auto& [key, value] : r.properties) {
      if (!IsConsoleLogProperty(key) || value.empty()) continue;
      const std::string_view role = std::string_view(key).substr(
          0, key.size() - kConsoleLogPropertySuffix.size());
      out += fmt::format(
          "<p class=\"log\">Console log of the {}: <a href=\"{}\">{}</a></p>\n",
          H1(role), LogHref(value, link_base), H1(value));
    }
    bool any_property = false;
    for (const auto& [key, value] : r.properties) {
      if (IsShownElsewhere(key)) continue;
      if (!any_property) {
        out += "<h4>Properties</h4>\n<dl class=\"properties\">";
        any_property = true;
      }
      out += fmt::format("<dt>{}</dt><dd>{}</dd>", H1(key), H1(value));
    }
    if (any_property) out += "</dl>\n";
    out += "</details>\n";
  }
}

// ---------------------------------------------------------------------------
// Markdown

// One-line text safe inside a GFM table cell.
std::string Md(std::string_view raw) {
  std::string out;
  for (const char c : SanitizeOneLine(CapBytes(raw, 1024))) {
    switch (c) {
      case '|':
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
        out += '\\';
        out += c;
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string_view EffectEmoji(std::string_view kind) {
  if (kind == "none") return "⬜";
  if (kind == "limited") return "🟩";
  if (kind == "varied") return "🟧";
  if (kind == "global") return "🟥";
  if (kind == "skipped") return "⏭️";
  if (kind == "error") return "🟪";
  return "❔";
}

std::string_view VerdictEmoji(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "✅";
    case Verdict::kFailure:
      return "❌";
    case Verdict::kError:
      return "⚠️";
    case Verdict::kSkipped:
      return "⏭️";
  }
  return "❔";
}

// Long campaigns: the step summary should stay short; the HTML has the rest.
constexpr std::size_t kMaxMarkdownProblems = 50;

}  // namespace

std::string RenderHtml(const RunInfo& run,
                       const std::vector<CheckRecord>& records,
                       const std::filesystem::path& link_base,
                       const PerformanceData* performance) {
  const Totals totals = CountAll(records);
  std::string out;
  out.reserve(16 * 1024 + records.size() * 2048);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // Belt and braces: even if some text escaped our escaping, nothing may run
  // or load from elsewhere.
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
      "'none'; style-src 'unsafe-inline'\">\n";
  out +=
      "<meta name=\"viewport\" content=\"width=device-width, "
      "initial-scale=1\">\n";
  out += fmt::format("<title>{} — ezone</title>\n",
                     H1(run.name.empty() ? "ezone run" : run.name));
  out += "<style>";
  out += kCss;
  out += "</style>\n</head>\n<body>\n";
  RenderHeader(out, run, totals);
  if (records.empty()) {
    out += "<p>No checks were recorded.</p>\n";
  } else {
    RenderMatrix(out, BuildMatrix(records), records);
    out += RenderNodeView(records);  // campaigns over several nodes only
    RenderContinuum(out, records, performance);
    RenderCheckTable(out, records);
    RenderCrashTitles(out, records);
    RenderCheckDetails(out, records, link_base);
  }
  out +=
      "<footer>Generated by ezone. Effects: none = the fault did not show; "
      "limited = victim only; varied = host or witness degraded but alive; "
      "global = host or witness crashed, hung or oopsed.</footer>\n";
  out += "</body>\n</html>\n";
  return out;
}

void WriteHtml(const RunInfo& run, const std::vector<CheckRecord>& records,
               const std::filesystem::path& out,
               const std::filesystem::path& performance_file,
               const std::filesystem::path& report_dir) {
  std::filesystem::path base = out.parent_path();
  if (base.empty()) base = ".";
  const std::optional<PerformanceData> performance = ReadPerformance(
      performance_file.empty() ? base / kPerformanceFileName : performance_file);
  // The same files as the JUnit file's attachments, linked from the page.
  internal::WriteFileAtomically(
      out, RenderHtml(run, PlaceAttachments(records, out, {report_dir, {}}),
                      base, performance ? &*performance : nullptr));
}

std::string RenderMarkdownSummary(const RunInfo& run,
                                  const std::vector<CheckRecord>& records) {
  const Totals totals = CountAll(records);
  std::string out = fmt::format("## ezone: {}\n\n",
                                Md(run.name.empty() ? "ezone run" : run.name));
  out += fmt::format(
      "**{} checks**: ✅ {} pass · ❌ {} failures · ⚠️ {} errors · "
      "⏭️ "
      "{} "
      "skipped",
      totals.checks, totals.pass, totals.failure, totals.error, totals.skipped);
  if (!run.hostname.empty()) out += " · host " + Md(run.hostname);
  if (!run.timestamp.empty()) out += " · " + Md(run.timestamp);
  out += "\n\n";
  if (records.empty()) return out;

  const Matrix matrix = BuildMatrix(records);
  out += "| VMM \\\\ fault |";
  for (const std::string& column : matrix.columns)
    out += " " + Md(column) + " |";
  out += "\n|---|";
  for (std::size_t i = 0; i < matrix.columns.size(); ++i) out += "---|";
  out += "\n";
  for (const std::string& row : matrix.rows) {
    out += "| **" + Md(row) + "** |";
    for (const std::string& column : matrix.columns) {
      const auto it = matrix.cells.find({row, column});
      if (it == matrix.cells.end()) {
        out += " — |";
        continue;
      }
      const Cell& cell = it->second;
      const std::string kind = cell.Kind();
      out += fmt::format(" {} {} {}", EffectEmoji(kind), kind, cell.PassText());
      if (cell.totals.failure > 0) {
        out += fmt::format(" ❌ {} violated", cell.totals.failure);
      }
      if (cell.totals.error > 0)
        out += fmt::format(" ⚠️ {} error", cell.totals.error);
      out += " |";
    }
    out += "\n";
  }
  out +=
      "\nLegend: ⬜ none · 🟩 limited · 🟧 varied · 🟥 global · "
      "⏭️ "
      "skipped · "
      "🟪 error\n";

  if (const auto groups = GroupByTitle(records); !groups.empty()) {
    out += "\n### Crashes by title\n\n";
    std::size_t listed = 0;
    for (const auto& [title, indices] : groups) {
      if (listed++ == kMaxMarkdownProblems) {
        out += fmt::format("- … and {} more titles (see the HTML report)\n",
                           groups.size() - kMaxMarkdownProblems);
        break;
      }
      out += fmt::format("- `{}`: {} check{}\n", Md(title), indices.size(),
                         indices.size() == 1 ? "" : "s");
    }
  }

  std::size_t shown = 0, problems = 0;
  for (const CheckRecord& r : records) {
    if (r.verdict != Verdict::kFailure && r.verdict != Verdict::kError)
      continue;
    if (problems++ == 0) out += "\n### Not passing\n\n";
    if (shown >= kMaxMarkdownProblems) continue;
    ++shown;
    out += fmt::format("- {} **{}** {}", VerdictEmoji(r.verdict),
                       VerdictName(r.verdict), Md(CheckName(r)));
    if (!r.effect.empty()) out += " effect " + Md(r.effect);
    if (!r.message.empty()) out += ": " + Md(r.message);
    out += "\n";
  }
  if (problems > shown) {
    out += fmt::format("- … and {} more (see the HTML report)\n",
                       problems - shown);
  }
  return out;
}

void WriteMarkdownSummary(const RunInfo& run,
                          const std::vector<CheckRecord>& records,
                          const std::filesystem::path& out) {
  internal::WriteFileAtomically(out, RenderMarkdownSummary(run, records));
}

}  // namespace ezone::report
