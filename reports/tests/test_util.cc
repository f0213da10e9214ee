#include "test_util.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace ezone::report::testing {

Evidence Ev(std::string text) {
  Evidence e;
  e.text = std::move(text);
  if (e.text.rfind("host", 0) == 0) {
    e.source = EvidenceSource::kHost;
    const auto has = [&](const char* w) { return e.text.find(w) != std::string::npos; };
    if (e.text.rfind("host kernel", 0) == 0 || has("->") || has("BUG")) {
      e.severity = Severity::kBad;
    } else if (has("unchanged") || has("reaped") || has("no new")) {
      e.severity = Severity::kGood;
    }
  }
  return e;
}


ScratchDir::ScratchDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string test =
      info ? fmt::format("{}.{}", info->test_suite_name(), info->name())
           : "none";
  path_ = std::filesystem::temp_directory_path() /
          fmt::format("ezone-reports-{}-{}", ::getpid(), test);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

std::string SchemaMissingReason() {
  const std::filesystem::path xsd = EZONE_JUNIT_XSD;
  if (!std::filesystem::exists(xsd)) {
    return "JUnit schema not found: " + xsd.string();
  }
  const std::string xmllint = EZONE_XMLLINT;
  if (xmllint.empty() || !std::filesystem::exists(xmllint)) {
    return "xmllint not found (install libxml2-utils)";
  }
  return "";
}

int ValidateWithXmllint(const std::filesystem::path& file,
                        std::string* output) {
  // Paths are ours (temp dir, build-time constants), single-quoted anyway.
  const std::string command =
      fmt::format("'{}' --noout --schema '{}' '{}' 2>&1", EZONE_XMLLINT,
                  EZONE_JUNIT_XSD, file.string());
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buffer;
  output->clear();
  while (const std::size_t n =
             std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    output->append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

RunInfo SampleRun() {
  RunInfo run;
  run.name = "paper campaign";
  run.hostname = "node17";
  run.timestamp = "2024-05-01T10:00:00Z";
  run.properties = {{"guest.kernel", "6.1.0-21-cloud-amd64"},
                    {"image.sha256", "ab12cd34"}};
  return run;
}

std::vector<CheckRecord> SampleRecords() {
  std::vector<CheckRecord> records;
  CheckRecord pass;
  pass.suite = "paper";
  pass.classname = "GuestKernelCrashMustNotKillHost";
  pass.name = "qemu_kerncrash_divzero_1";
  pass.verdict = Verdict::kPass;
  pass.zone = "E-Zone 3";
  pass.vmm = "qemu";
  pass.fault = "kerncrash";
  pass.variant = "divzero";
  pass.policy = "strong-isolation";
  pass.effect = "limited";
  pass.timing = {.boot = 812.5,
                 .ready = 1020,
                 .detection = 35.2,
                 .teardown = 120,
                 .total = 2400};
  pass.console_excerpt = "[    5.1] divide error: 0000 [#1] SMP\n";
  pass.console_log_path = "/var/tmp/ezone/qemu_kerncrash_divzero_1.log";
  pass.evidence = {Ev("console: divide error: 0000 [#1] SMP"),
                   Ev("host: no new kernel oops")};
  pass.properties = {{"vmm.version", "7.2.0"}};
  pass.timestamp = "2024-05-01T10:00:01Z";
  pass.seconds = 2.4;
  records.push_back(pass);

  CheckRecord failure = pass;
  failure.name = "palacios_kerncrash_divzero_1";
  failure.vmm = "palacios";
  failure.verdict = Verdict::kFailure;
  failure.effect = "global";
  failure.message = "host stopped answering after the guest oops";
  failure.detail =
      "heartbeat lost for 30 s;\nhost kernel: BUG: unable to handle";
  failure.evidence = {Ev("host: BUG: unable to handle page fault")};
  failure.seconds = 31.25;
  records.push_back(failure);

  CheckRecord error = pass;
  error.name = "kvm_kerncrash_divzero_1";
  error.vmm = "kvm";
  error.verdict = Verdict::kError;
  error.effect = "";
  error.message = "guest did not print READY within 60 s";
  error.timing = {};
  error.seconds = 60;
  records.push_back(error);

  CheckRecord skipped = pass;
  skipped.suite = "enclave";
  skipped.classname = "WitnessKeepsHeartbeat";
  skipped.name = "palacios_witness_1";
  skipped.vmm = "palacios";
  skipped.fault = "witness";
  skipped.variant = "";
  skipped.verdict = Verdict::kSkipped;
  skipped.effect = "";
  skipped.message = "no Palacios module on this host";
  skipped.console_excerpt.clear();
  skipped.console_log_path.clear();
  skipped.evidence.clear();
  skipped.timing = {};
  skipped.seconds = 0;
  records.push_back(skipped);

  CheckRecord varied = pass;
  varied.suite = "enclave";
  varied.classname = "WitnessKeepsHeartbeat";
  varied.name = "qemu_witness_1";
  varied.fault = "witness";
  varied.variant = "";
  varied.effect = "varied";
  varied.policy = "performance";
  records.push_back(varied);

  CheckRecord none = pass;
  none.name = "qemu_usercrash_segv_1";
  none.fault = "usercrash";
  none.variant = "segv";
  none.zone = "E-Zone 4";
  none.effect = "none";
  records.push_back(none);
  return records;
}

}  // namespace ezone::report::testing
