#include "ezone/report/junit_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "ezone/report/sanitize.h"

namespace ezone::report {
namespace {

// One-line texts (messages) are capped too: an attribute is not the place
// for a 1 MiB panic trace.
constexpr std::size_t kMaxMessageBytes = 4096;

// JUnit times are seconds with a dot, whatever the locale (fmt ignores it).
std::string FormatSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  return fmt::format("{:.3f}", seconds);
}

std::string OneLine(std::string_view raw) {
  return SanitizeOneLine(CapBytes(raw, kMaxMessageBytes));
}

std::string DefaultMessage(const CheckRecord& record) {
  switch (record.verdict) {
    case Verdict::kFailure:
      return fmt::format("isolation violated: effect '{}' under policy '{}'",
                         record.effect.empty() ? "unknown" : record.effect,
                         record.policy.empty() ? "unknown" : record.policy);
    case Verdict::kError:
      return "the check could not be carried out";
    case Verdict::kSkipped:
      return "skipped";
    case Verdict::kPass:
      break;
  }
  return "";
}

// Body of <failure>/<error>/<skipped>: message, detail, evidence.
std::string VerdictBody(const CheckRecord& record, const std::string& message) {
  std::string body = message;
  if (!record.detail.empty()) {
    body += "\n\n";
    body += SanitizeForXml(CapBytes(record.detail));
  }
  if (!record.evidence.empty()) {
    body += "\n\nevidence:";
    for (const Evidence& e : record.evidence) {
      body += "\n  ";
      body += OneLine(e.text);
    }
  }
  return body;
}

void AppendKeyValue(std::string& out, std::string_view key,
                    std::string_view value) {
  if (value.empty()) return;
  out += OneLine(key);
  out += '=';
  out += OneLine(value);
  out += '\n';
}

void AppendTiming(std::string& out, std::string_view key,
                  const std::optional<double>& ms) {
  if (ms && std::isfinite(*ms)) {
    out += fmt::format("timing.{}_ms={:.1f}\n", key, *ms);
  }
}

std::string SystemOut(const CheckRecord& record) {
  std::string out;
  if (!record.console_excerpt.empty()) {
    out = SanitizeForXml(CapBytes(record.console_excerpt));
    // An excerpt of escape sequences alone sanitises to nothing.
    if (!out.empty() && out.back() != '\n') out += '\n';
  }
  // Jenkins' junit-attachments plugin picks these lines up; GitLab shows the
  // first as the case's attachment.
  if (!record.console_log_path.empty()) {
    out += fmt::format("[[ATTACHMENT|{}]]\n", OneLine(record.console_log_path));
  }
  for (const auto& [key, value] : record.properties) {
    if (IsConsoleLogProperty(key) && !value.empty()) {
      out += fmt::format("[[ATTACHMENT|{}]]\n", OneLine(value));
    }
  }
  AppendKeyValue(out, "zone", record.zone);
  AppendKeyValue(out, "vmm", record.vmm);
  AppendKeyValue(out, "fault", record.fault);
  AppendKeyValue(out, "variant", record.variant);
  AppendKeyValue(out, "policy", record.policy);
  AppendKeyValue(out, "effect", record.effect);
  AppendKeyValue(out, "crash_title", record.crash_title);
  AppendKeyValue(out, "verdict", VerdictName(record.verdict));
  AppendTiming(out, "boot", record.timing.boot);
  AppendTiming(out, "ready", record.timing.ready);
  AppendTiming(out, "detection", record.timing.detection);
  AppendTiming(out, "teardown", record.timing.teardown);
  AppendTiming(out, "total", record.timing.total);
  AppendTiming(out, "probe", record.timing.probe);
  for (const auto& [key, value] : record.properties) {
    AppendKeyValue(out, key, value);
  }
  for (const KernelReport& k : record.kernel_reports) {
    AppendKeyValue(out, "kernel_report",
                   fmt::format("{} {}{}{}: {} (console lines {}-{}){}", k.vm, k.kind,
                               k.fatal ? " fatal" : "", k.corrupted ? " corrupted" : "",
                               k.title, k.first_line, k.last_line,
                               k.corrupted ? " [" + k.corrupted_reason + "]" : ""));
  }
  for (const auto& [role, times] : record.heartbeats_ms) {
    std::string beats;
    for (double t : times) {
      if (!std::isfinite(t)) continue;
      beats += fmt::format("{}{:.0f}", beats.empty() ? "" : " ", t);
    }
    AppendKeyValue(out, "heartbeat." + role, beats);
  }
  // A passing check has no verdict element to carry its evidence.
  if (record.verdict == Verdict::kPass && !record.evidence.empty()) {
    out += "evidence:\n";
    for (const Evidence& e : record.evidence) {
      out += "  " + OneLine(e.text) + "\n";
    }
  }
  return out;
}

// Consumers add case times up into suite and run totals and rank the
// slowest tests: a check that was skipped did not run, so the time its VMM's
// probe took to say so is not charged to it (it stays in timing.probe_ms).
double CaseSeconds(const CheckRecord& record) {
  if (record.verdict == Verdict::kSkipped && record.timing.probe &&
      std::isfinite(*record.timing.probe) && std::isfinite(record.seconds)) {
    return std::max(0.0, record.seconds - *record.timing.probe / 1000.0);
  }
  return record.seconds;
}

// Makes (classname, name) unique within one file: the n-th repeat of a pair
// is named "<name> #n".
class UniqueNames {
 public:
  std::string Take(const std::string& classname, const std::string& name) {
    std::string unique = name;
    for (int n = 2; !seen_.emplace(classname, unique).second; ++n) {
      unique = fmt::format("{} #{}", name, n);
    }
    return unique;
  }

 private:
  std::set<std::pair<std::string, std::string>> seen_;
};

void AddTestcase(pugi::xml_node suite, const CheckRecord& record,
                 UniqueNames& names) {
  pugi::xml_node testcase = suite.append_child("testcase");
  const std::string classname = OneLine(JUnitClassname(record));
  testcase.append_attribute("classname") = classname.c_str();
  testcase.append_attribute("name") =
      names.Take(classname, OneLine(record.name.empty() ? "unnamed" : record.name))
          .c_str();
  testcase.append_attribute("time") = FormatSeconds(CaseSeconds(record)).c_str();
  if (!record.timestamp.empty()) {
    testcase.append_attribute("timestamp") = OneLine(record.timestamp).c_str();
  }

  const char* element = nullptr;
  const char* type = nullptr;
  switch (record.verdict) {
    case Verdict::kFailure:
      element = "failure";
      type = "isolation-violated";
      break;
    case Verdict::kError:
      element = "error";
      type = "check-error";
      break;
    case Verdict::kSkipped:
      element = "skipped";
      break;
    case Verdict::kPass:
      break;
  }
  if (element != nullptr) {
    // The default names effect and policy, which come from outside too.
    std::string message = OneLine(
        record.message.empty() ? DefaultMessage(record) : record.message);
    // The crash's title names the bug: CI views group and search by it.
    const std::string title = OneLine(record.crash_title);
    std::string typed = type != nullptr ? type : "";
    if (!title.empty() && type != nullptr) {
      typed += ": " + title;
      message += " [crash: " + title + "]";
    }
    pugi::xml_node node = testcase.append_child(element);
    if (type != nullptr) node.append_attribute("type") = typed.c_str();
    node.append_attribute("message") = message.c_str();
    node.text() = VerdictBody(record, message).c_str();
  }

  if (const std::string out = SystemOut(record); !out.empty()) {
    testcase.append_child("system-out").text() = out.c_str();
  }
}

void AddProperties(pugi::xml_node suite, const RunInfo& run) {
  if (run.properties.empty()) return;
  pugi::xml_node properties = suite.append_child("properties");
  for (const auto& [key, value] : run.properties) {
    pugi::xml_node property = properties.append_child("property");
    property.append_attribute("name") = OneLine(key).c_str();
    property.append_attribute("value") = OneLine(value).c_str();
  }
}

std::string Serialise(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return std::move(out).str();
}

pugi::xml_node AddDeclaration(pugi::xml_document& doc) {
  pugi::xml_node declaration = doc.append_child(pugi::node_declaration);
  declaration.append_attribute("version") = "1.0";
  declaration.append_attribute("encoding") = "UTF-8";
  return declaration;
}

// Counts of one suite, derived from the testcases so that they can never
// disagree with the content (also used when merging).
struct Counts {
  std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
  double time = 0;
};

double ParseSeconds(const char* text) {
  double value = 0;
  const std::string_view view(text);
  const auto [ptr, ec] =
      std::from_chars(view.data(), view.data() + view.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) return 0;
  return value;
}

Counts CountTestcases(pugi::xml_node suite) {
  Counts counts;
  for (pugi::xml_node testcase : suite.children("testcase")) {
    ++counts.tests;
    // One verdict per testcase, worst first, as JUnit consumers count them.
    if (testcase.child("error")) {
      ++counts.errors;
    } else if (testcase.child("failure")) {
      ++counts.failures;
    } else if (testcase.child("skipped")) {
      ++counts.skipped;
    }
    counts.time += ParseSeconds(testcase.attribute("time").as_string("0"));
  }
  return counts;
}

// Sets the count attributes of a suite, in the conventional order after
// `name`.
void SetSuiteCounts(pugi::xml_node suite, const Counts& counts) {
  suite.append_attribute("tests") = counts.tests;
  suite.append_attribute("failures") = counts.failures;
  suite.append_attribute("errors") = counts.errors;
  suite.append_attribute("skipped") = counts.skipped;
  suite.append_attribute("time") = FormatSeconds(counts.time).c_str();
}

void SetTotals(pugi::xml_node root, const Counts& totals) {
  // junit-10 has no `skipped` on <testsuites>; the suites carry it.
  root.append_attribute("tests") = totals.tests;
  root.append_attribute("failures") = totals.failures;
  root.append_attribute("errors") = totals.errors;
  root.append_attribute("time") = FormatSeconds(totals.time).c_str();
}

void Accumulate(Counts& totals, const Counts& counts) {
  totals.tests += counts.tests;
  totals.failures += counts.failures;
  totals.errors += counts.errors;
  totals.skipped += counts.skipped;
  totals.time += counts.time;
}

}  // namespace

std::string JUnitClassname(const CheckRecord& record) {
  const std::string suite = record.suite.empty() ? "ezone" : record.suite;
  if (record.classname.empty()) return suite;
  return suite + "." + record.classname;
}

std::string RenderJUnit(const RunInfo& run,
                        const std::vector<CheckRecord>& records) {
  // Group by suite, keeping the order in which suites first appear.
  std::vector<std::string> suite_names;
  std::map<std::string, std::vector<const CheckRecord*>> by_suite;
  for (const CheckRecord& record : records) {
    const std::string suite = record.suite.empty() ? "ezone" : record.suite;
    auto [it, inserted] = by_suite.try_emplace(suite);
    if (inserted) suite_names.push_back(suite);
    it->second.push_back(&record);
  }

  // Build the testcases in a scratch document first: the suite attributes
  // (counts) come before the children but are derived from them.
  pugi::xml_document doc;
  AddDeclaration(doc);
  pugi::xml_node root = doc.append_child("testsuites");
  root.append_attribute("name") = OneLine(RunTitle(run, records)).c_str();
  Counts totals;
  std::vector<pugi::xml_node> suites;
  pugi::xml_document scratch;
  UniqueNames names;
  for (const std::string& name : suite_names) {
    pugi::xml_node staged = scratch.append_child("testsuite");
    for (const CheckRecord* record : by_suite[name]) {
      AddTestcase(staged, *record, names);
    }
    Accumulate(totals, CountTestcases(staged));
    suites.push_back(staged);
  }
  SetTotals(root, totals);

  std::string timestamp = run.timestamp;
  for (std::size_t i = 0; i < suite_names.size(); ++i) {
    pugi::xml_node suite = root.append_child("testsuite");
    suite.append_attribute("name") = OneLine(suite_names[i]).c_str();
    SetSuiteCounts(suite, CountTestcases(suites[i]));
    std::string suite_timestamp = timestamp;
    if (suite_timestamp.empty()) {  // fall back to the earliest check
      for (const CheckRecord* record : by_suite[suite_names[i]]) {
        if (!record->timestamp.empty() &&
            (suite_timestamp.empty() || record->timestamp < suite_timestamp)) {
          suite_timestamp = record->timestamp;
        }
      }
    }
    if (!suite_timestamp.empty()) {
      suite.append_attribute("timestamp") = OneLine(suite_timestamp).c_str();
    }
    if (!run.hostname.empty()) {
      suite.append_attribute("hostname") = OneLine(run.hostname).c_str();
    }
    suite.append_attribute("id") = i;
    AddProperties(suite, run);
    for (pugi::xml_node testcase : suites[i].children("testcase")) {
      suite.append_copy(testcase);
    }
  }
  return Serialise(doc);
}

void WriteJUnit(const RunInfo& run, const std::vector<CheckRecord>& records,
                const std::filesystem::path& out,
                const AttachmentOptions& attachments) {
  internal::WriteFileAtomically(
      out, RenderJUnit(run, PlaceAttachments(records, out, attachments)));
}

namespace {

// Everything collected for one suite name across all inputs.
struct MergedSuite {
  std::string timestamp, hostname;
  std::vector<std::pair<std::string, std::string>> properties;
  std::set<std::pair<std::string, std::string>> seen_properties;
  pugi::xml_node staging;  // holds copies of testcases and suite output
};

// Nested suites (allowed by the schema, not written by us) are flattened,
// in document order; a suite without a name takes its parent's. A loop, not
// recursion: an input may nest suites 60,000 deep.
void CollectSuites(pugi::xml_node top, std::vector<pugi::xml_node>& out,
                   std::vector<std::string>& suite_names) {
  std::vector<std::pair<pugi::xml_node, std::string>> stack = {{top, ""}};
  while (!stack.empty()) {
    auto [node, parent_name] = std::move(stack.back());
    stack.pop_back();
    std::string name = node.attribute("name").as_string();
    if (name.empty()) name = parent_name.empty() ? "ezone" : parent_name;
    out.push_back(node);
    suite_names.push_back(name);
    const std::size_t first = stack.size();
    for (pugi::xml_node child : node.children("testsuite")) {
      stack.emplace_back(child, name);
    }
    std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(first), stack.end());
  }
}

// Decodes one strict UTF-8 sequence at name[pos] (no overlongs, surrogates
// or code points above U+10FFFF). Returns its length, 0 when invalid.
std::size_t DecodeNameChar(std::string_view name, std::size_t pos,
                           std::uint32_t* cp) {
  const auto byte = [&](std::size_t i) {
    return static_cast<unsigned char>(name[i]);
  };
  const unsigned char lead = byte(pos);
  std::size_t length = 0;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    *cp = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, *cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, *cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, *cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (pos + length > name.size()) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (byte(pos + i) & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return length;
}

// XML 1.0 (fifth edition) NameStartChar and NameChar.
bool IsNameStartChar(std::uint32_t c) {
  return c == ':' || c == '_' || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0xD6) ||
         (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF) ||
         (c >= 0x370 && c <= 0x37D) || (c >= 0x37F && c <= 0x1FFF) ||
         (c >= 0x200C && c <= 0x200D) || (c >= 0x2070 && c <= 0x218F) ||
         (c >= 0x2C00 && c <= 0x2FEF) || (c >= 0x3001 && c <= 0xD7FF) ||
         (c >= 0xF900 && c <= 0xFDCF) || (c >= 0xFDF0 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0xEFFFF);
}

bool IsNameChar(std::uint32_t c) {
  return IsNameStartChar(c) || c == '-' || c == '.' ||
         (c >= '0' && c <= '9') || c == 0xB7 || (c >= 0x300 && c <= 0x36F) ||
         (c >= 0x203F && c <= 0x2040);
}

// pugixml takes any byte >= 0x80 as part of a name, so a name in an input
// may be invalid UTF-8 or hold characters XML forbids in names (issue 20:
// `a\x91="1"` made the merged file ill-formed). Such a name cannot be
// mended into the one its writer meant, so its attribute or element goes.
bool IsXmlName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t pos = 0; pos < name.size();) {
    std::uint32_t cp = 0;
    const std::size_t length = DecodeNameChar(name, pos, &cp);
    if (length == 0 || !(pos == 0 ? IsNameStartChar(cp) : IsNameChar(cp))) {
      return false;
    }
    pos += length;
  }
  return true;
}

// What an input holds may be anything a parser accepts, control characters
// as character references included: every text and attribute is sanitised
// again, and comments and processing instructions go, as do attributes and
// elements whose names are not XML names. A loop over the tree, not
// recursion.
void SanitiseTree(pugi::xml_node top) {
  pugi::xml_node node = top;
  while (node) {
    const bool bad_element = node != top &&
                             node.type() == pugi::node_element &&
                             !IsXmlName(node.name());
    // A removed element's children are not visited.
    pugi::xml_node next = bad_element ? pugi::xml_node() : node.first_child();
    if (node.type() == pugi::node_element && !bad_element) {
      for (pugi::xml_attribute attribute = node.first_attribute(); attribute;) {
        const pugi::xml_attribute following = attribute.next_attribute();
        if (IsXmlName(attribute.name())) {
          attribute.set_value(SanitizeOneLine(attribute.value()).c_str());
        } else {
          node.remove_attribute(attribute);
        }
        attribute = following;
      }
    } else if (node.type() == pugi::node_pcdata ||
               node.type() == pugi::node_cdata) {
      node.set_value(SanitizeForXml(node.value()).c_str());
    }
    if (!next) {
      // Up until a node has a next sibling, without leaving `top`.
      for (pugi::xml_node up = node; up && up != top; up = up.parent()) {
        if ((next = up.next_sibling())) break;
      }
    }
    if (node != top && (bad_element || (node.type() != pugi::node_element &&
                                        node.type() != pugi::node_pcdata &&
                                        node.type() != pugi::node_cdata))) {
      node.parent().remove_child(node);
    }
    node = next;
  }
}

// Rebases the attachments named in a testcase's <system-out>: the
// ATTACHMENT lines and the console log properties, relative to the input's
// directory, become paths for the merged file (or go, when the file is
// nowhere).
void PlaceTestcaseAttachments(pugi::xml_node testcase,
                              const std::filesystem::path& origin,
                              const AttachmentPlacer& placer) {
  for (pugi::xml_node out : testcase.children("system-out")) {
    std::istringstream lines(out.text().as_string());
    std::string rewritten, line;
    while (std::getline(lines, line)) {
      constexpr std::string_view kOpen = "[[ATTACHMENT|", kClose = "]]";
      const std::size_t equals = line.find('=');
      if (line.starts_with(kOpen) && line.ends_with(kClose) &&
          line.size() > kOpen.size() + kClose.size()) {
        const std::string path = line.substr(
            kOpen.size(), line.size() - kOpen.size() - kClose.size());
        if (auto where = placer.Place(path, origin)) {
          rewritten += fmt::format("{}{}{}\n", kOpen, *where, kClose);
        }
        continue;
      }
      if (equals != std::string::npos &&
          IsConsoleLogProperty(std::string_view(line).substr(0, equals))) {
        const std::string key = line.substr(0, equals);
        const std::string path = line.substr(equals + 1);
        if (auto where = placer.Place(path, origin)) {
          rewritten += key + "=" + *where + "\n";
        } else {
          rewritten += key + ".missing=" + path + "\n";
        }
        continue;
      }
      rewritten += line + "\n";
    }
    out.text().set(rewritten.c_str());
  }
}

void Warn(const std::filesystem::path& input, const std::string& why) {
  std::cerr << "ezone: warning: skipping JUnit input " << input << ": " << why
            << '\n';
}

}  // namespace

std::size_t MergeJUnit(const std::vector<std::filesystem::path>& inputs,
                       const std::filesystem::path& out,
                       const AttachmentOptions& attachments) {
  const AttachmentPlacer placer(out, attachments);
  pugi::xml_document scratch;
  std::vector<std::string> order;
  std::map<std::string, MergedSuite> merged;
  std::vector<std::string> run_names;
  std::size_t merged_inputs = 0;
  UniqueNames names;

  for (const std::filesystem::path& input : inputs) {
    pugi::xml_document doc;
    const pugi::xml_parse_result result =
        doc.load_file(input.c_str(), pugi::parse_default, pugi::encoding_auto);
    if (!result) {
      Warn(input,
           fmt::format("{} at offset {}", result.description(), result.offset));
      continue;
    }
    const pugi::xml_node root = doc.document_element();
    std::vector<pugi::xml_node> suites;
    std::vector<std::string> suite_names;
    if (std::string_view(root.name()) == "testsuites") {
      for (pugi::xml_node suite : root.children("testsuite")) {
        CollectSuites(suite, suites, suite_names);
      }
      if (const std::string name = OneLine(root.attribute("name").as_string());
          !name.empty() &&
          std::find(run_names.begin(), run_names.end(), name) == run_names.end()) {
        run_names.push_back(name);
      }
    } else if (std::string_view(root.name()) == "testsuite") {
      CollectSuites(root, suites, suite_names);
    } else {
      Warn(input, fmt::format("root element <{}> is not JUnit",
                              OneLine(root.name())));
      continue;
    }
    ++merged_inputs;
    std::filesystem::path origin = input.parent_path();
    if (origin.empty()) origin = ".";

    for (std::size_t i = 0; i < suites.size(); ++i) {
      const pugi::xml_node suite = suites[i];
      const std::string suite_name = OneLine(suite_names[i]);
      auto [it, inserted] = merged.try_emplace(suite_name);
      MergedSuite& target = it->second;
      if (inserted) {
        order.push_back(suite_name);
        target.staging = scratch.append_child("testsuite");
      }
      const std::string timestamp =
          OneLine(suite.attribute("timestamp").as_string());
      if (!timestamp.empty() &&
          (target.timestamp.empty() || timestamp < target.timestamp)) {
        target.timestamp = timestamp;  // ISO 8601 sorts as text
      }
      if (target.hostname.empty()) {
        target.hostname = OneLine(suite.attribute("hostname").as_string());
      }
      for (pugi::xml_node property :
           suite.child("properties").children("property")) {
        std::pair<std::string, std::string> entry(
            OneLine(property.attribute("name").as_string()),
            OneLine(property.attribute("value").as_string()));
        if (target.seen_properties.insert(entry).second) {
          target.properties.push_back(std::move(entry));
        }
      }
      for (pugi::xml_node child : suite.children()) {
        const std::string_view name = child.name();
        if (name != "testcase" && name != "system-out" && name != "system-err") {
          continue;
        }
        pugi::xml_node copy = target.staging.append_copy(child);
        SanitiseTree(copy);
        if (name == "testcase") {
          const std::string classname = copy.attribute("classname").as_string();
          const std::string unique =
              names.Take(classname, copy.attribute("name").as_string());
          if (!copy.attribute("name")) copy.append_attribute("name");
          copy.attribute("name").set_value(unique.c_str());
          PlaceTestcaseAttachments(copy, origin, placer);
        }
      }
    }
  }

  pugi::xml_document doc;
  AddDeclaration(doc);
  pugi::xml_node root = doc.append_child("testsuites");
  // One run merged from several files keeps its name; several runs (or one
  // named after one of several suites) are named after the suites.
  RunInfo run;
  if (run_names.size() == 1) run.name = run_names.front();
  std::vector<CheckRecord> suite_stand_ins(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) suite_stand_ins[i].suite = order[i];
  root.append_attribute("name") = RunTitle(run, suite_stand_ins).c_str();
  Counts totals;
  for (const std::string& name : order) {
    Accumulate(totals, CountTestcases(merged[name].staging));
  }
  SetTotals(root, totals);
  std::size_t id = 0;
  for (const std::string& name : order) {
    const MergedSuite& source = merged[name];
    pugi::xml_node suite = root.append_child("testsuite");
    suite.append_attribute("name") = name.c_str();
    SetSuiteCounts(suite, CountTestcases(source.staging));
    if (!source.timestamp.empty()) {
      suite.append_attribute("timestamp") = source.timestamp.c_str();
    }
    if (!source.hostname.empty()) {
      suite.append_attribute("hostname") = source.hostname.c_str();
    }
    suite.append_attribute("id") = id++;
    if (!source.properties.empty()) {
      pugi::xml_node properties = suite.append_child("properties");
      for (const auto& [key, value] : source.properties) {
        pugi::xml_node property = properties.append_child("property");
        property.append_attribute("name") = key.c_str();
        property.append_attribute("value") = value.c_str();
      }
    }
    for (pugi::xml_node child : source.staging.children()) {
      suite.append_copy(child);
    }
  }
  internal::WriteFileAtomically(out, Serialise(doc));
  return merged_inputs;
}

}  // namespace ezone::report
