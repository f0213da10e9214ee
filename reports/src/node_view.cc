#include "node_view.h"

#include <algorithm>
#include <map>
#include <utility>

namespace ezone::report {
namespace {

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
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

// What a cell shows, and what nodes are compared on.
std::string Outcome(const CheckRecord& r) {
  if (r.verdict == Verdict::kSkipped || r.verdict == Verdict::kError || r.effect.empty()) {
    return std::string(VerdictName(r.verdict));
  }
  return std::string(VerdictName(r.verdict)) + ", " + r.effect;
}

std::string CellClass(const CheckRecord& r) {
  if (r.verdict == Verdict::kSkipped) return "cell-skipped";
  if (r.verdict == Verdict::kError || r.effect.empty()) return "cell-error";
  if (r.effect == "none" || r.effect == "limited" || r.effect == "varied" || r.effect == "global") {
    return "effect-" + r.effect;
  }
  return "effect-unknown";
}

}  // namespace

std::string RenderNodeView(const std::vector<CheckRecord>& records) {
  std::vector<std::string> nodes, columns;
  std::map<std::pair<std::string, std::string>, std::size_t> cells;  // (node, column) -> record
  for (std::size_t i = 0; i < records.size(); ++i) {
    const CheckRecord& r = records[i];
    auto it = r.properties.find(std::string(kNodeProperty));
    if (it == r.properties.end() || it->second.empty()) continue;
    const std::string& node = it->second;
    std::string name = r.name;
    const std::string suffix = "@" + node;
    if (name.size() > suffix.size() && name.ends_with(suffix)) name.resize(name.size() - suffix.size());
    const std::string column = r.classname + "/" + name;
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) nodes.push_back(node);
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) columns.push_back(column);
    cells.emplace(std::make_pair(node, column), i);
  }
  if (nodes.size() < 2) return "";

  // Per column, the outcome most nodes had; a cell differs when it has
  // another one and most nodes agree (no majority: nothing stands out).
  std::map<std::string, std::string> usual;
  for (const auto& column : columns) {
    std::map<std::string, std::size_t> votes;
    std::size_t present = 0;
    for (const auto& node : nodes) {
      auto it = cells.find({node, column});
      if (it == cells.end()) continue;
      ++votes[Outcome(records[it->second])];
      ++present;
    }
    for (const auto& [outcome, n] : votes) {
      if (2 * n > present) usual[column] = outcome;
    }
  }
  std::map<std::string, std::size_t> differing;
  for (const auto& node : nodes) {
    for (const auto& column : columns) {
      auto it = cells.find({node, column});
      if (it != cells.end() && usual.count(column) &&
          Outcome(records[it->second]) != usual[column]) {
        ++differing[node];
      }
    }
  }

  std::string out = "<h2 id=\"per-node\">Per node</h2>\n";
  out += "<style>td.differs { outline: 3px solid #8250df; outline-offset: -3px; }</style>\n";
  std::string standouts;
  for (const auto& node : nodes) {
    if (differing[node] == 0) continue;
    standouts += (standouts.empty() ? "" : ", ") + std::string("<b>") + Escape(node) + "</b> (" +
                 std::to_string(differing[node]) + " of " + std::to_string(columns.size()) + ")";
  }
  out += "<p>" + std::to_string(nodes.size()) + " nodes ran " + std::to_string(columns.size()) +
         " checks each. " +
         (standouts.empty() ? std::string("Every node gave the same results.")
                            : "Nodes whose results differ from most nodes': " + standouts + ".") +
         "</p>\n";
  out += "<div class=\"scroll\"><table class=\"matrix per-node\">\n<tr><th>node \\ check</th>";
  for (const auto& column : columns) out += "<th>" + Escape(column) + "</th>";
  out += "</tr>\n";
  for (const auto& node : nodes) {
    out += "<tr><th class=\"row\">" + Escape(node);
    if (differing[node] > 0) {
      out += " <span class=\"tag bad\">differs in " + std::to_string(differing[node]) + "</span>";
    }
    out += "</th>";
    for (const auto& column : columns) {
      auto it = cells.find({node, column});
      if (it == cells.end()) {
        out += "<td class=\"cell cell-empty\">—</td>";
        continue;
      }
      const CheckRecord& r = records[it->second];
      const bool differs = usual.count(column) && Outcome(r) != usual[column];
      out += "<td class=\"cell " + CellClass(r) + (differs ? " differs" : "") + "\" title=\"" +
             Escape(r.message) + "\"><a href=\"#check-" + std::to_string(it->second) + "\">" +
             Escape(Outcome(r)) + (differs ? " ≠" : "") + "</a></td>";
    }
    out += "</tr>\n";
  }
  out += "</table></div>\n";
  return out;
}

}  // namespace ezone::report
