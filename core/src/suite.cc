#include "suite.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <pugixml.hpp>
#include <set>
#include <sstream>

namespace ezone {
namespace {

namespace fs = std::filesystem;

// Appends code point `cp` as UTF-8 (as pugixml's own conversion does).
void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The text as pugixml parses it: its offsets (node.offset_debug(),
// xml_parse_result::offset) count bytes of its UTF-8 copy of the document,
// not of the file (a Latin-1 file's é is one byte there, two here). Only the
// length of each character matters for line numbers; invalid sequences may
// be off by a few bytes, never by a line's worth of them.
std::string AsPugixmlSeesIt(const std::string& raw, pugi::xml_encoding encoding) {
  std::string out;
  auto unit = [&](size_t i, size_t size, bool big_endian) {
    uint32_t v = 0;
    for (size_t k = 0; k < size; ++k) {
      uint32_t byte = static_cast<unsigned char>(raw[i + (big_endian ? k : size - 1 - k)]);
      v = (v << 8) | byte;
    }
    return v;
  };
  switch (encoding) {
    case pugi::encoding_latin1:
      out.reserve(raw.size() * 2);
      for (unsigned char c : raw) AppendUtf8(out, c);
      return out;
    case pugi::encoding_utf16_le:
    case pugi::encoding_utf16_be: {
      bool be = encoding == pugi::encoding_utf16_be;
      for (size_t i = 0; i + 1 < raw.size(); i += 2) {
        uint32_t u = unit(i, 2, be);
        if (u >= 0xD800 && u < 0xDC00 && i + 3 < raw.size()) {
          uint32_t next = unit(i + 2, 2, be);
          if (next >= 0xDC00 && next < 0xE000) {
            AppendUtf8(out, 0x10000 + ((u - 0xD800) << 10) + (next - 0xDC00));
            i += 2;
            continue;
          }
        }
        AppendUtf8(out, u);
      }
      return out;
    }
    case pugi::encoding_utf32_le:
    case pugi::encoding_utf32_be:
    case pugi::encoding_wchar: {  // wchar_t is UTF-32 on Linux, little-endian on x86
      bool be = encoding == pugi::encoding_utf32_be;
      for (size_t i = 0; i + 3 < raw.size(); i += 4) AppendUtf8(out, std::min(unit(i, 4, be), 0x10FFFFu));
      return out;
    }
    default:
      return raw;
  }
}

// Maps pugixml byte offsets to line numbers for error messages.
class LineIndex {
 public:
  explicit LineIndex(const std::string& text) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') newlines_.push_back(i);
    }
  }
  int LineOf(ptrdiff_t offset) const {
    if (offset < 0) return 0;
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(),
                                                 newlines_.end(),
                                                 static_cast<size_t>(offset)) -
                                newlines_.begin());
  }

 private:
  std::vector<size_t> newlines_;
};

// A whole number made of digits only, in [lo, hi]; nullopt otherwise (no
// sign, no spaces, no hex, no overflow: a number from a file is checked, not
// guessed at).
std::optional<uint64_t> WholeNumber(const std::string& text, uint64_t lo, uint64_t hi) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t v = std::stoull(text);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

bool IsIdentifier(const std::string& s, bool allow_dash) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           (allow_dash && c == '-');
  });
}

// Test names become gtest and ctest names: keep them to [A-Za-z0-9_].
std::string TestToken(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

std::vector<std::string> SplitLabels(const std::string& text) {
  std::vector<std::string> labels;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) labels.push_back(item);
  }
  return labels;
}

class Parser {
 public:
  Parser(fs::path file, const std::string& parsed_text)
      : file_(std::move(file)), lines_(parsed_text) {}

  [[noreturn]] void Fail(pugi::xml_node node, const std::string& what) const {
    throw SuiteError(file_.string() + ":" +
                     std::to_string(lines_.LineOf(node.offset_debug())) + ": " +
                     what);
  }

  void CheckAttributes(pugi::xml_node node,
                       const std::set<std::string>& allowed) const {
    for (pugi::xml_attribute a : node.attributes()) {
      if (!allowed.count(a.name())) {
        std::string list;
        for (const auto& name : allowed) list += (list.empty() ? "" : ", ") + name;
        Fail(node, "unknown attribute '" + std::string(a.name()) + "' on <" +
                       node.name() + "> (allowed: " + list + ")");
      }
    }
  }

  std::string Required(pugi::xml_node node, const char* name) const {
    pugi::xml_attribute a = node.attribute(name);
    if (!a || std::string(a.value()).empty()) {
      Fail(node, "<" + std::string(node.name()) + "> needs attribute '" + name + "'");
    }
    return a.value();
  }

  std::chrono::milliseconds Duration(pugi::xml_node node, const char* name,
                                     std::chrono::milliseconds fallback) const {
    pugi::xml_attribute a = node.attribute(name);
    if (!a) return fallback;
    try {
      return ParseDuration(a.value());
    } catch (const std::invalid_argument&) {
      Fail(node, std::string("attribute '") + name + "': '" + a.value() +
                     "' is not a duration from 0 to 24h (use e.g. 30s, 500ms or 2m)");
    }
  }

  // A whole number of `unit` in [lo, hi], or `fallback` when absent.
  uint32_t Number(pugi::xml_node node, const char* name, uint32_t fallback, uint32_t lo,
                  uint32_t hi, const char* unit) const {
    pugi::xml_attribute a = node.attribute(name);
    if (!a) return fallback;
    std::optional<uint64_t> v = WholeNumber(a.value(), lo, hi);
    if (!v) {
      Fail(node, std::string(name) + " must be a whole number of " + unit + " from " +
                     std::to_string(lo) + " to " + std::to_string(hi) + ", not '" + a.value() + "'");
    }
    return static_cast<uint32_t>(*v);
  }

  std::vector<std::string> CheckedLabels(pugi::xml_node node) const {
    std::vector<std::string> labels = SplitLabels(node.attribute("labels").value());
    for (const auto& l : labels) {
      if (!IsIdentifier(l, true)) {
        Fail(node, "label '" + l + "' must be letters, digits, '_' or '-' (it becomes a ctest label)");
      }
    }
    return labels;
  }

  report::Policy Policy(pugi::xml_node node, report::Policy fallback) const {
    pugi::xml_attribute a = node.attribute("policy");
    if (!a) return fallback;
    if (auto policy = report::ParsePolicy(a.value())) return *policy;
    std::string known;
    for (auto p : {report::Policy::kStrongIsolation, report::Policy::kPerformance,
                   report::Policy::kGuestSurvives, report::Policy::kDetected}) {
      known += (known.empty() ? "" : ", ") + std::string(report::PolicyName(p));
    }
    Fail(node, "unknown policy '" + std::string(a.value()) + "' (known: " + known + ")");
  }

  Suite Parse(const pugi::xml_document& doc) {
    pugi::xml_node root = doc.document_element();
    if (std::string(root.name()) != "suite") {
      Fail(root, "the root element must be <suite>, not <" +
                     std::string(root.name()) + ">");
    }
    CheckAttributes(root, {"name", "policy", "labels", "boot-timeout",
                           "observe-timeout", "memory"});
    Suite suite;
    suite.file = file_;
    suite.name = Required(root, "name");
    if (!IsIdentifier(suite.name, true)) {
      Fail(root, "suite name '" + suite.name + "' must be letters, digits, '_' or '-'");
    }
    report::Policy policy = Policy(root, report::Policy::kStrongIsolation);
    std::vector<std::string> suite_labels = CheckedLabels(root);
    auto boot = Duration(root, "boot-timeout", std::chrono::seconds(30));
    auto observe = Duration(root, "observe-timeout", std::chrono::seconds(20));
    uint32_t memory = Number(root, "memory", 256, kMinMemoryMib, kMaxMemoryMib, "MiB");

    std::set<std::string> ids;
    for (pugi::xml_node node : root.children()) {
      if (node.type() != pugi::node_element) continue;
      std::string element = node.name();
      if (element == "description") continue;
      if (element != "check") {
        Fail(node, "unknown element <" + element + "> (expected <check> or <description>)");
      }
      CheckAttributes(node, {"name", "vmm", "vmm-label", "vmm-options", "fault",
                             "variant", "fault-options", "policy", "repeat",
                             "labels", "boot-timeout", "observe-timeout",
                             "memory", "kernel-args", "witness", "settle", "mode",
                             "host"});
      CheckSpec spec;
      spec.suite = suite.name;
      spec.file = file_;
      spec.line = lines_.LineOf(node.offset_debug());
      spec.classname = Required(node, "name");
      if (!IsIdentifier(spec.classname, false)) {
        Fail(node, "check name '" + spec.classname +
                       "' must be letters, digits and '_' (it becomes a test name)");
      }
      spec.vmm = Required(node, "vmm");
      spec.fault = Required(node, "fault");
      spec.variant = Required(node, "variant");
      spec.vmm_options = node.attribute("vmm-options").value();
      spec.fault_options = node.attribute("fault-options").value();
      spec.kernel_args = node.attribute("kernel-args").value();
      std::string witness = node.attribute("witness").as_string("false");
      if (witness != "true" && witness != "false") {
        Fail(node, "witness must be true or false, not '" + witness + "'");
      }
      spec.witness = witness == "true";
      std::string mode = node.attribute("mode").as_string("boot");
      if (mode != "boot" && mode != "snapshot") {
        Fail(node, "mode must be boot or snapshot, not '" + mode + "'");
      }
      spec.mode = mode == "snapshot" ? BootMode::kSnapshot : BootMode::kBoot;
      std::string host = node.attribute("host").as_string("local");
      if (host != "local" && host != "nested") {
        Fail(node, "host must be local or nested, not '" + host + "'");
      }
      spec.host = host == "nested" ? HostKind::kNested : HostKind::kLocal;
      spec.policy = Policy(node, policy);
      spec.boot_timeout = Duration(node, "boot-timeout", boot);
      spec.observe_timeout = Duration(node, "observe-timeout", observe);
      spec.settle = Duration(node, "settle", std::chrono::seconds(2));
      spec.memory_mib = Number(node, "memory", memory, kMinMemoryMib, kMaxMemoryMib, "MiB");
      spec.labels = suite_labels;
      for (auto& l : CheckedLabels(node)) spec.labels.push_back(l);
      std::string repeat_text = node.attribute("repeat").value();
      int repeat = 1;
      if (node.attribute("repeat")) {
        std::optional<uint64_t> n = WholeNumber(repeat_text, 1, kMaxRepeat);
        if (!n) {
          Fail(node, "repeat must be a whole number from 1 to " + std::to_string(kMaxRepeat) +
                         ", not '" + repeat_text + "'");
        }
        repeat = static_cast<int>(*n);
      }
      // Each repetition is a check, a test the runner registers and ctest
      // lists: a few bytes of XML must not make millions of them.
      if (suite.checks.size() + static_cast<size_t>(repeat) > kMaxChecks) {
        Fail(node, "the suite has more than " + std::to_string(kMaxChecks) +
                       " checks with this one (repetitions count; split it into several suites)");
      }
      // A check on the nested host is never reported as a bare-metal one.
      std::string default_label = spec.vmm + (spec.nested() ? "@nested" : "");
      std::string vmm_label = node.attribute("vmm-label").as_string(default_label.c_str());
      // '@' names where it ran: kvm@nested.
      std::string label_chars = vmm_label;
      std::replace(label_chars.begin(), label_chars.end(), '@', '_');
      if (!IsIdentifier(label_chars, true)) {
        Fail(node, "vmm-label '" + vmm_label + "' must be letters, digits, '_', '-' or '@'");
      }
      spec.vmm_label = vmm_label;
      for (int r = 1; r <= repeat; ++r) {
        CheckSpec one = spec;
        one.repetition = r;
        one.name = TestToken(vmm_label + "_" + spec.fault + "_" + spec.variant +
                             "_" + std::to_string(r));
        if (!ids.insert(one.id()).second) {
          Fail(node, "check " + one.id() + " is defined twice (give it another name or vmm-label)");
        }
        suite.checks.push_back(std::move(one));
      }
    }
    if (suite.checks.empty()) Fail(root, "the suite has no <check>");
    return suite;
  }

  int LineOfOffset(ptrdiff_t offset) const { return lines_.LineOf(offset); }

 private:
  fs::path file_;
  LineIndex lines_;
};

}  // namespace

std::chrono::milliseconds ParseDuration(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument(text);
  }
  std::string unit = text.substr(used);
  double ms;
  if (unit == "ms") {
    ms = value;
  } else if (unit == "s" || unit.empty()) {
    ms = value * 1000;
  } else if (unit == "m") {
    ms = value * 60000;
  } else {
    throw std::invalid_argument(text);
  }
  if (!(ms >= 0) || ms > 24.0 * 3600 * 1000) throw std::invalid_argument(text);
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

Suite LoadSuite(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw SuiteError(file.string() + ":0: cannot open suite file");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxSuiteBytes) {
      throw SuiteError(file.string() + ":0: larger than " + std::to_string(kMaxSuiteBytes >> 20) +
                       " MiB: not a suite file");
    }
  }
  return ParseSuite(file, text);
}

Suite ParseSuite(const fs::path& file, const std::string& text) {
  pugi::xml_document doc;
  pugi::xml_parse_result result =
      doc.load_buffer(text.data(), text.size(), pugi::parse_default);
  Parser parser(file, AsPugixmlSeesIt(text, result.encoding));
  if (!result) {
    throw SuiteError(file.string() + ":" +
                     std::to_string(parser.LineOfOffset(result.offset)) +
                     ": not well-formed XML: " + result.description());
  }
  return parser.Parse(doc);
}

const char* BootModeName(BootMode mode) {
  return mode == BootMode::kSnapshot ? "snapshot" : "boot";
}

const char* HostKindName(HostKind host) { return host == HostKind::kNested ? "nested" : "local"; }

}  // namespace ezone
