#include "junit_lint.h"

#include <fmt/format.h>

#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "ezone/report/check_record.h"

namespace ezone::report::testing {
namespace {

void CheckPath(const std::filesystem::path& dir, const std::string& where,
               const std::string& path, JUnitLint& lint) {
  ++lint.attachments;
  const std::filesystem::path attached(path);
  std::error_code ec;
  if (attached.is_absolute()) {
    lint.problems.push_back(fmt::format("{}: attachment path is absolute: {}", where, path));
  } else if (!std::filesystem::is_regular_file(dir / attached, ec)) {
    lint.problems.push_back(
        fmt::format("{}: attachment {} does not resolve from {}", where, path, dir.string()));
  }
}

}  // namespace

JUnitLint LintJUnit(const std::filesystem::path& file) {
  JUnitLint lint;
  pugi::xml_document doc;
  if (const pugi::xml_parse_result result = doc.load_file(file.c_str()); !result) {
    lint.problems.push_back(fmt::format("{}: does not parse: {}", file.string(),
                                        result.description()));
    return lint;
  }
  std::filesystem::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  std::set<std::pair<std::string, std::string>> seen;
  for (const pugi::xpath_node& found : doc.select_nodes("//testcase")) {
    const pugi::xml_node testcase = found.node();
    ++lint.testcases;
    const std::string classname = testcase.attribute("classname").as_string();
    const std::string name = testcase.attribute("name").as_string();
    const std::string where = classname + " " + name;
    if (!seen.emplace(classname, name).second) {
      lint.problems.push_back(fmt::format("{}: classname + name not unique", where));
    }
    std::istringstream lines(testcase.child("system-out").text().as_string());
    std::string line;
    while (std::getline(lines, line)) {
      constexpr std::string_view kOpen = "[[ATTACHMENT|", kClose = "]]";
      if (line.starts_with(kOpen) && line.ends_with(kClose)) {
        CheckPath(dir, where,
                  line.substr(kOpen.size(), line.size() - kOpen.size() - kClose.size()), lint);
        continue;
      }
      const std::size_t equals = line.find('=');
      if (equals != std::string::npos &&
          IsConsoleLogProperty(std::string_view(line).substr(0, equals))) {
        CheckPath(dir, where, line.substr(equals + 1), lint);
      }
    }
  }
  return lint;
}

}  // namespace ezone::report::testing
