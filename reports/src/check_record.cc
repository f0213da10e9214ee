#include "ezone/report/check_record.h"

#include <algorithm>
#include <array>
#include <utility>

#include "name_table.h"

namespace ezone::report {
namespace {

constexpr std::array<std::pair<EvidenceSource, std::string_view>, 9> kSources = {{
    {EvidenceSource::kRunner, "runner"},
    {EvidenceSource::kFault, "fault"},
    {EvidenceSource::kVictim, "victim"},
    {EvidenceSource::kWitness, "witness"},
    {EvidenceSource::kVmm, "vmm"},
    {EvidenceSource::kHost, "host"},
    {EvidenceSource::kNestedHost, "nested-host"},
    {EvidenceSource::kJournal, "journal"},
    {EvidenceSource::kScheduler, "scheduler"},
}};
constexpr std::array<std::pair<Severity, std::string_view>, 4> kSeverities = {{
    {Severity::kInfo, "info"},
    {Severity::kGood, "good"},
    {Severity::kWarning, "warning"},
    {Severity::kBad, "bad"},
}};

}  // namespace

std::string_view EvidenceSourceName(EvidenceSource source) {
  return internal::NameOf(kSources, source, "runner");
}

std::optional<EvidenceSource> ParseEvidenceSource(std::string_view name) {
  return internal::ParseName(kSources, name);
}

std::string_view SeverityName(Severity severity) {
  return internal::NameOf(kSeverities, severity, "info");
}

std::optional<Severity> ParseSeverity(std::string_view name) {
  return internal::ParseName(kSeverities, name);
}

std::string RunTitle(const RunInfo& run, const std::vector<CheckRecord>& records) {
  std::vector<std::string> suites;
  for (const CheckRecord& r : records) {
    const std::string& suite = r.suite.empty() ? run.name : r.suite;
    if (!suite.empty() && std::find(suites.begin(), suites.end(), suite) == suites.end()) {
      suites.push_back(suite);
    }
  }
  const bool named_after_a_suite =
      run.name.empty() || std::find(suites.begin(), suites.end(), run.name) != suites.end();
  if (suites.size() <= 1 || !named_after_a_suite) {
    if (!run.name.empty()) return run.name;
    return suites.empty() ? "ezone" : suites.front();
  }
  std::string title;
  for (const std::string& suite : suites) {
    if (!title.empty()) title += ", ";
    title += suite;
  }
  return title;
}

}  // namespace ezone::report
