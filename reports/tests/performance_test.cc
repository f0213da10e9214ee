// performance.json: WritePerformance (what `ezone bench --workload` calls)
// and ReadPerformance (what the HTML report and `ezone report` call) agree,
// and the writer keeps the layout the bench has always written.
#include "ezone/report/performance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "test_util.h"

namespace ezone::report {
namespace {

using testing::ReadFile;
using testing::ScratchDir;

void WriteText(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file);
  out << text;
}

// Every field the bench fills, with figures at the precision the file keeps.
PerformanceData Sample() {
  PerformanceData d;
  d.created = "2026-11-24T20:00:00Z";
  d.host = "node17";
  d.host_cpus = 2;
  d.suite_file = "/work/main/suites/paper.xml";
  d.guest_image_sha256 = "5f3c0a";
  d.workload_program = "/work/main/build/guest/ezone-workload";
  d.workload_guest_program = "/bin/ezone-workload";
  d.workload_args = "-t 300 -m 16";
  d.workload_runs = 2;
  d.workload_test_ms = 300;
  d.workload_buffer_mib = 16;
  d.metrics = {{"int_mops", "integer", "Mops/s", true},
               {"fp_mflops", "floating point", "Mflop/s", true},
               {"mem_mib_s", "memcpy", "MiB/s", true},
               {"syscall_ns", "getppid", "ns/call", false}};
  d.native_run.label = "native";
  d.native_run.status = "ran";
  d.native_run.median = {{"int_mops", 1966.12}, {"fp_mflops", 2125.5},
                         {"mem_mib_s", 29608.25}, {"syscall_ns", 958.33}};
  d.native_run.result_lines = {"ezone-workload v=1 int_mops=1966.1 wall_ms=1402.1",
                               "ezone-workload v=1 int_mops=1966.2 wall_ms=1401.7"};
  d.native_run.host_round_trip_ms = {1410.3, 1409.8};
  VmmPerformance qemu;
  qemu.label = "qemu";
  qemu.vmm = "qemu";
  qemu.vmm_options = "accel=tcg";
  qemu.status = "ran";
  qemu.version = "QEMU emulator version 7.2.22";
  qemu.ready_ms = 2979.1;
  qemu.median = {{"int_mops", 1371.04}, {"fp_mflops", 146.2}, {"mem_mib_s", 2109.75},
                 {"syscall_ns", 467.5}};
  qemu.result_lines = {"ezone-workload v=1 int_mops=1371.0 wall_ms=1420.9"};
  qemu.host_round_trip_ms = {1455.2};
  qemu.relative = {{"int_mops", 0.6973}, {"fp_mflops", 0.0688}, {"mem_mib_s", 0.0713},
                   {"syscall_ns", 2.0499}};
  qemu.performance = 0.2891;
  qemu.overhead = 2.459;
  VmmPerformance kvm;
  kvm.label = "kvm";
  kvm.vmm = "kvm";
  kvm.vmm_options = "uri=qemu:///system";
  kvm.status = "skipped";
  kvm.reason = "no /dev/kvm";
  VmmPerformance palacios;
  palacios.label = "palacios";
  palacios.vmm = "palacios";
  palacios.status = "error";
  palacios.reason = "could not start the VM: \"busy\"";
  d.vmms = {qemu, kvm, palacios};
  return d;
}

TEST(PerformanceFileTest, WhatTheWriterWritesTheReaderReadsBack) {
  ScratchDir dir;
  const PerformanceData written = Sample();
  const auto path = dir.path() / "report" / "performance.json";  // parent made
  WritePerformance(written, path);
  const auto read = ReadPerformance(path);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->error, "");
  EXPECT_EQ(read->file, path);
  EXPECT_EQ(read->created, written.created);
  EXPECT_EQ(read->host, written.host);
  EXPECT_EQ(read->host_cpus, written.host_cpus);
  EXPECT_EQ(read->suite_file, written.suite_file);
  EXPECT_EQ(read->guest_image_sha256, written.guest_image_sha256);
  EXPECT_EQ(read->workload_program, written.workload_program);
  EXPECT_EQ(read->workload_guest_program, written.workload_guest_program);
  EXPECT_EQ(read->workload_args, written.workload_args);
  EXPECT_EQ(read->workload_runs, written.workload_runs);
  EXPECT_EQ(read->workload_test_ms, written.workload_test_ms);
  EXPECT_EQ(read->workload_buffer_mib, written.workload_buffer_mib);
  EXPECT_EQ(read->metrics, written.metrics);
  EXPECT_EQ(read->definitions, written.definitions);
  EXPECT_EQ(read->native_run, written.native_run);
  ASSERT_EQ(read->vmms.size(), written.vmms.size());
  for (size_t i = 0; i < written.vmms.size(); ++i) {
    EXPECT_EQ(read->vmms[i], written.vmms[i]) << written.vmms[i].label;
  }
  // Written again, the same bytes; no temporary file left beside it.
  EXPECT_EQ(RenderPerformance(*read), ReadFile(path));
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

// The layout `ezone bench --workload` wrote by hand before the writer moved
// here (key order, indentation, nulls): read and written again, unchanged.
constexpr std::string_view kBenchLayout = R"json(
{
  "kind": "ezone-performance",
  "version": 1,
  "created": "2026-11-24T20:00:00Z",
  "host": "node17",
  "host_cpus": 2,
  "suite_file": "/work/main/suites/paper.xml",
  "workload": {
    "program": "/work/main/build/guest/ezone-workload",
    "guest_program": "/bin/ezone-workload",
    "args": "-t 300 -m 16",
    "runs": 2,
    "test_ms": 300,
    "buffer_mib": 16
  },
  "guest_image_sha256": "5f3c0a",
  "metrics": [
    {
      "key": "int_mops",
      "label": "integer",
      "unit": "Mops/s",
      "higher_is_better": true
    },
    {
      "key": "fp_mflops",
      "label": "floating point",
      "unit": "Mflop/s",
      "higher_is_better": true
    },
    {
      "key": "mem_mib_s",
      "label": "memcpy",
      "unit": "MiB/s",
      "higher_is_better": true
    },
    {
      "key": "syscall_ns",
      "label": "getppid",
      "unit": "ns/call",
      "higher_is_better": false
    }
  ],
  "definitions": {
    "relative": "speed relative to native per metric: vm/native for rates, native/vm for ns per call; 1 = native, 0.1 = ten times slower",
    "performance": "geometric mean of the relative speeds over the metrics",
    "overhead": "1 / performance - 1 (0 = native, 9 = ten times slower)"
  },
  "native": {
    "label": "native",
    "status": "ran",
    "median": {
      "int_mops": 1966.12,
      "fp_mflops": 2125.5,
      "mem_mib_s": 29608.25,
      "syscall_ns": 958.33
    },
    "result_lines": [
      "ezone-workload v=1 int_mops=1966.1 fp_mflops=2125.5 mem_mib_s=29608.2 syscall_ns=958.3 wall_ms=1402.1",
      "ezone-workload v=1 int_mops=1966.2 fp_mflops=2125.5 mem_mib_s=29608.3 syscall_ns=958.4 wall_ms=1401.7"
    ],
    "host_round_trip_ms": [
      1410.3,
      1409.8
    ]
  },
  "vmms": [
    {
      "label": "qemu",
      "vmm": "qemu",
      "vmm_options": "accel=tcg",
      "status": "ran",
      "version": "QEMU emulator version 7.2.22",
      "ready_ms": 2979.1,
      "median": {
        "int_mops": 1371.04,
        "fp_mflops": 146.2,
        "mem_mib_s": 2109.75,
        "syscall_ns": 467.5
      },
      "result_lines": [
        "ezone-workload v=1 int_mops=1371.0 fp_mflops=146.2 mem_mib_s=2109.7 syscall_ns=467.5 wall_ms=1420.9"
      ],
      "host_round_trip_ms": [
        1455.2
      ],
      "relative": {
        "int_mops": 0.6973,
        "fp_mflops": 0.0688,
        "mem_mib_s": 0.0713,
        "syscall_ns": 2.0499
      },
      "performance": 0.2891,
      "overhead": 2.459
    },
    {
      "label": "kvm",
      "vmm": "kvm",
      "vmm_options": "uri=qemu:///system",
      "status": "skipped",
      "reason": "libvirt at qemu:///system offers no 'kvm' domain type"
    },
    {
      "label": "palacios",
      "vmm": "palacios",
      "vmm_options": "",
      "status": "error",
      "reason": "could not start the VM: /dev/v3vee: \"busy\""
    },
    {
      "label": "kvm-libvirt-tcg",
      "vmm": "kvm",
      "vmm_options": "domain_type=qemu",
      "status": "ran",
      "version": "libvirt 9.0.0",
      "ready_ms": null,
      "median": {
        "int_mops": 0.5,
        "fp_mflops": 0.25,
        "mem_mib_s": 1.5,
        "syscall_ns": 95833000.0
      },
      "result_lines": [],
      "host_round_trip_ms": [],
      "relative": {
        "int_mops": 0.0003,
        "fp_mflops": 0.0001,
        "mem_mib_s": 0.0001,
        "syscall_ns": 0.0002
      },
      "performance": null,
      "overhead": null
    }
  ]
}
)json";

TEST(PerformanceFileTest, KeepsTheLayoutTheBenchHasAlwaysWritten) {
  ScratchDir dir;
  const std::string_view layout = kBenchLayout.substr(1);  // after R"json(
  WriteText(dir.path() / "performance.json", layout);
  const auto read = ReadPerformance(dir.path() / "performance.json");
  ASSERT_TRUE(read);
  ASSERT_EQ(read->error, "");
  ASSERT_EQ(read->vmms.size(), 4u);
  EXPECT_FALSE(read->vmms[3].ready_ms);     // null
  EXPECT_FALSE(read->vmms[3].performance);  // null
  EXPECT_DOUBLE_EQ(read->vmms[0].relative.at("syscall_ns"), 2.0499);
  EXPECT_EQ(RenderPerformance(*read), layout);
}

TEST(PerformanceFileTest, RoundsFiguresAsTheFileKeepsThemAndWritesNullForTheMissing) {
  PerformanceData d = Sample();
  d.native_run.median["int_mops"] = 1966.123456;
  d.vmms[0].relative["int_mops"] = 0.697349;
  d.vmms[0].relative["fp_mflops"] = std::numeric_limits<double>::quiet_NaN();
  d.vmms[0].ready_ms = 2979.149;
  d.vmms[0].performance.reset();
  d.vmms[0].overhead = 2.45949;
  d.vmms[0].host_round_trip_ms = {1455.26};
  const std::string text = RenderPerformance(d);
  EXPECT_NE(text.find("\"int_mops\": 1966.12,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"int_mops\": 0.6973,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"fp_mflops\": null,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"ready_ms\": 2979.1,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"performance\": null,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"overhead\": 2.459\n"), std::string::npos) << text;
  EXPECT_NE(text.find("1455.3"), std::string::npos) << text;
  ScratchDir dir;
  WritePerformance(d, dir.path() / "performance.json");
  const auto read = ReadPerformance(dir.path() / "performance.json");
  ASSERT_TRUE(read);
  EXPECT_DOUBLE_EQ(read->native_run.median.at("int_mops"), 1966.12);
  EXPECT_EQ(read->vmms[0].relative.count("fp_mflops"), 0u);  // null: no figure
  EXPECT_FALSE(read->vmms[0].performance);
  EXPECT_DOUBLE_EQ(*read->vmms[0].overhead, 2.459);
}

TEST(PerformanceFileTest, SidesThatDidNotRunCarryOnlyWhy) {
  PerformanceData d = Sample();
  d.native_run = {};
  d.native_run.label = "native";
  d.native_run.status = "error";
  d.native_run.reason = "ezone-workload exited 1";
  d.native_run.median = {{"int_mops", 1.0}};  // not written: it did not run
  const std::string text = RenderPerformance(d);
  EXPECT_NE(text.find("\"native\": {\n    \"label\": \"native\",\n    \"status\": \"error\",\n"
                      "    \"reason\": \"ezone-workload exited 1\"\n  }"),
            std::string::npos)
      << text;
  // The skipped VMM: no figures, no ready_ms.
  EXPECT_NE(text.find("\"reason\": \"no /dev/kvm\"\n    }"), std::string::npos) << text;
}

TEST(PerformanceFileTest, BadBytesInAReasonDoNotStopTheWriter) {
  PerformanceData d = Sample();
  d.vmms[1].reason = "probe said \xff\xfe";
  ScratchDir dir;
  WritePerformance(d, dir.path() / "performance.json");
  const auto read = ReadPerformance(dir.path() / "performance.json");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->error, "");
  EXPECT_EQ(read->vmms[1].reason.rfind("probe said ", 0), 0u);
}

TEST(PerformanceFileTest, ReaderIgnoresFiguresOfTheWrongType) {
  ScratchDir dir;
  WriteText(dir.path() / "performance.json",
            R"({"kind": "ezone-performance", "version": 1, "host_cpus": -3,
                "workload": {"runs": 1e300, "test_ms": "300", "buffer_mib": 16.5},
                "native": {"label": "native", "status": "ran", "median": {"int_mops": "x"},
                           "result_lines": ["a", 3], "host_round_trip_ms": [1, "2"]},
                "vmms": [{"label": "qemu", "status": "ran", "ready_ms": "soon"}]})");
  const auto read = ReadPerformance(dir.path() / "performance.json");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->error, "");
  EXPECT_EQ(read->host_cpus, 0u);
  EXPECT_EQ(read->workload_runs, 0);
  EXPECT_EQ(read->workload_test_ms, 0);
  EXPECT_EQ(read->workload_buffer_mib, 0);
  EXPECT_TRUE(read->native_run.median.empty());
  EXPECT_EQ(read->native_run.result_lines, std::vector<std::string>{"a"});
  EXPECT_EQ(read->native_run.host_round_trip_ms, std::vector<double>{1});
  ASSERT_EQ(read->vmms.size(), 1u);
  EXPECT_FALSE(read->vmms[0].ready_ms);
}

}  // namespace
}  // namespace ezone::report
