// The HTML report in a real browser: headless Chromium renders a realistic
// campaign (rebuilt from a journal, with hostile console bytes) to a
// screenshot kept in the build tree, and its DOM is checked for the matrix
// and for scripts that must not have run.
//
// Chromium missing: skipped ("chromium not installed"), or a failure when
// EZONE_REQUIRE_BROWSER=1 (CI that promises a browser). EZONE_CHROMIUM
// names another binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "ezone/report/journal.h"
#include "test_util.h"

extern char** environ;

namespace ezone::report {
namespace {

using testing::Ev;
using testing::ReadFile;
using testing::ScratchDir;

namespace fs = std::filesystem;

// Where the screenshots and the page stay after the test, for people.
const fs::path kOutputDir = EZONE_BROWSER_OUTPUT_DIR;

// The injected payloads: if either runs, the DOM shows it.
constexpr std::string_view kScriptPayload =
    "<script>document.body.appendChild(document.createElement("
    "'ezone-injected'))</script>";
constexpr std::string_view kImgPayload =
    "<img src=x onerror=\"document.title='ezone-pwned'\">";

fs::path FindChromium() {
  if (const char* named = std::getenv("EZONE_CHROMIUM"); named && *named) {
    return named;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::size_t pos = 0;
    while (pos <= dirs.size()) {
      const std::size_t end = std::min(dirs.find(':', pos), dirs.size());
      const fs::path candidate = fs::path(dirs.substr(pos, end - pos)) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      pos = end + 1;
    }
  }
  return {};
}

// Runs argv with stdout and stderr to files, HOME/TMPDIR/XDG dirs inside
// `home` (so the browser leaves nothing elsewhere), under `timeout`.
int RunCommand(const std::vector<std::string>& args, const fs::path& home,
               const fs::path& out, const fs::path& err) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("HOME=") || entry.starts_with("TMPDIR=") ||
        entry.starts_with("XDG_")) {
      continue;
    }
    env_strings.emplace_back(entry);
  }
  for (const char* key : {"HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                          "XDG_RUNTIME_DIR"}) {
    env_strings.push_back(std::string(key) + "=" + home.string());
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {"timeout", "-k", "10", "120"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "timeout", &actions, nullptr, argv.data(),
                                envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<std::string> ChromiumArgs(const fs::path& chromium,
                                      const fs::path& profile,
                                      int height = 1800) {
  return {chromium.string(),
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--hide-scrollbars",
          "--user-data-dir=" + profile.string(),
          "--window-size=1400," + std::to_string(height)};
}

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  return bytes;
}

// A heartbeat every `period` ms from `from` to `to`.
std::vector<double> Beats(double from, double to, double period) {
  std::vector<double> out;
  for (double t = from; t <= to; t += period) out.push_back(static_cast<int>(t));
  return out;
}

CheckRecord Base(const std::string& vmm, const std::string& fault,
                 const std::string& variant, const std::string& zone) {
  CheckRecord r;
  r.suite = "zones";
  r.classname = zone == "E-Zone 3"   ? "GuestKernelCrashMustNotKillHost"
                : zone == "E-Zone 4" ? "GuestUserCrashStaysInGuest"
                                     : "VmmCrashStaysLocal";
  r.name = vmm + "_" + fault + "_" + variant + "_1";
  r.vmm = vmm;
  r.fault = fault;
  r.variant = variant;
  r.zone = zone;
  r.policy = "strong-isolation";
  r.timestamp = "2024-05-01T10:00:01";
  r.properties = {
      {"guest_kernel_release", "6.1.0-21-cloud-amd64"},
      {"guest_image_sha256",
       "1888c96c3cfd7f06212c2db7468e84bef528e976d14d1cc5fafa7505da48d32e"},
      {"vmm_version", vmm == "qemu"  ? "QEMU emulator version 7.2.9"
                      : vmm == "kvm" ? "libvirt 9.0.0, QEMU 7.2.9 (KVM)"
                                     : "Palacios 1.3"},
      {"vmm_plugin", "build/plugins/ezone-" + vmm + ".so 0.1.0"},
      {"fault_plugin", "build/plugins/ezone-" + fault + ".so 0.1.0"},
      {"host", "local"},
      {"guest_cmdline",
       "console=ttyS0 ezone.nonce=5f1c2a ezone.hb_ms=500 panic=-1"},
      {"repetition", "1"},
      {"suite_file", "suites/zones.xml:12"},
  };
  return r;
}

void Contained(CheckRecord& r, double boot, double ready, double detect) {
  r.verdict = Verdict::kPass;
  r.effect = "limited";
  r.message = "contained: observed effect limited (victim only, host healthy)";
  r.timing = {.boot = boot,
              .ready = ready,
              .detection = detect,
              .teardown = 95,
              .total = ready + detect + 2000 + 95};
  r.seconds = *r.timing.total / 1000 + 0.05;
  r.heartbeats_ms["victim"] = Beats(ready, ready + detect, 500);
  r.evidence = {
      Ev("fault: " + r.fault + "/" + r.variant + " fired (agent: OK)"),
      Ev("guest console (oops): divide error: 0000 [#1] PREEMPT SMP NOPTI"),
      Ev("guest console (panic): Kernel panic - not syncing: Fatal exception"),
      Ev("vmm: guest stopped: GUEST_PANICKED"),
      Ev("host: VMM process 41234 reaped"),
      Ev("host: no new oops, BUG, lockup or warning in the kernel log"),
      Ev("host: kernel taint unchanged (0)"),
      Ev("host: fork+exec probe answered in 0.9 ms (baseline 0.8 ms)")};
  r.console_excerpt =
      "[    1.912345] ezone-agent: READY 5f1c2a\n"
      "[    2.130001] kerncrash: loaded, mode=divzero delay_ms=200\n"
      "[    2.331002] divide error: 0000 [#1] PREEMPT SMP NOPTI\n"
      "[    2.331010] CPU: 0 PID: 0 Comm: swapper/0 Tainted: G           O "
      "      6.1.0-21-cloud-amd64 #1  Debian 6.1.90-1\n"
      "[    2.331020] RIP: 0010:kerncrash_timer_fn+0x15/0x30 [kerncrash]\n"
      "[    2.331100] Kernel panic - not syncing: Fatal exception in "
      "interrupt\n";
}

std::vector<CheckRecord> Campaign() {
  std::vector<CheckRecord> records;
  // qemu: contained everywhere; one repetition never booted.
  {
    CheckRecord r = Base("qemu", "kerncrash", "divzero", "E-Zone 3");
    r.suite = "paper";
    Contained(r, 118, 1820, 201);
    // What a crashing guest really prints now and then, plus an attack.
    r.console_excerpt += std::string(kScriptPayload) + "\n" +
                         std::string(kImgPayload) + "\n\x1b[31mred\x1b[0m " +
                         RandomBytes(600, 7) +
                         "\n[    2.331200] ---[ end "
                         "Kernel panic - not syncing: Fatal exception ]---\n";
    records.push_back(r);
  }
  {
    CheckRecord r = Base("qemu", "kerncrash", "nullderef", "E-Zone 3");
    Contained(r, 121, 1795, 233);
    records.push_back(r);
  }
  {
    CheckRecord r = Base("qemu", "kerncrash", "panic", "E-Zone 3");
    r.verdict = Verdict::kError;
    r.message = "the guest did not reach READY in 60 s";
    r.detail =
        "The VMM ran but the agent never answered on ttyS1.\n"
        "Last console line: [    0.000000] Linux version 6.1.0-21";
    r.timing = {.boot = 130, .teardown = 88, .total = 60250};
    r.seconds = 60.3;
    r.evidence = {Ev("host: VMM process 41300 reaped"),
                  Ev("host: no new oops, BUG, lockup or warning in the kernel log"),
                  Ev("host: kernel taint unchanged (0)")};
    r.console_excerpt = "[    0.000000] Linux version 6.1.0-21-cloud-amd64\n" +
                        RandomBytes(300, 11);
    records.push_back(r);
  }
  {
    CheckRecord r = Base("qemu", "usercrash", "segv", "E-Zone 4");
    Contained(r, 115, 1760, 12);
    r.evidence[1] = Ev("guest console: ezone-victim[88]: segfault at 0 ip ...");
    records.push_back(r);
  }
  {
    CheckRecord r = Base("qemu", "vmmkill", "sigkill", "E-Zone 2");
    Contained(r, 119, 1801, 3);
    r.evidence[1] = Ev("vmm: process exited on SIGKILL");
    r.console_excerpt.clear();
    records.push_back(r);
  }
  // kvm: the host warned once: varied, which strong isolation forbids.
  {
    CheckRecord r = Base("kvm", "kerncrash", "divzero", "E-Zone 3");
    r.suite = "paper";
    Contained(r, 420, 950, 180);
    records.push_back(r);
  }
  {
    CheckRecord r = Base("kvm", "kerncrash", "nullderef", "E-Zone 3");
    Contained(r, 410, 940, 150);
    r.verdict = Verdict::kFailure;
    r.effect = "varied";
    r.message =
        "isolation violated: policy strong-isolation allows only effect "
        "limited, observed effect varied";
    r.evidence.push_back(Ev(
        "host kernel warning: kvm [41811]: vcpu0, guest rIP: 0xffffffff8100 "
        "unhandled rdmsr: 0x140"));
    records.push_back(r);
  }
  {
    CheckRecord r = Base("kvm", "usercrash", "segv", "E-Zone 4");
    Contained(r, 405, 930, 10);
    records.push_back(r);
  }
  {
    CheckRecord r = Base("kvm", "vmmkill", "sigkill", "E-Zone 2");
    r.verdict = Verdict::kSkipped;
    r.message = "kvm: libvirtd does not allow signalling the domain's process";
    r.timing = {};
    r.properties.erase("vmm_version");
    records.push_back(r);
  }
  // palacios: the host went down.
  {
    CheckRecord r = Base("palacios", "kerncrash", "divzero", "E-Zone 3");
    r.suite = "paper";
    Contained(r, 640, 2900, 260);
    r.verdict = Verdict::kFailure;
    r.effect = "global";
    r.message =
        "isolation violated: policy strong-isolation allows only effect "
        "limited, observed effect global";
    r.detail =
        "The host kernel oopsed while the guest's divide error was being "
        "handled;\nthe witness VM stopped answering 1.2 s later.";
    r.evidence = {
        Ev("fault: kerncrash/divzero fired (agent: OK)"),
        Ev("guest console (oops): divide error: 0000 [#1] SMP"),
        Ev("host kernel: BUG: unable to handle page fault for address: "
        "ffffc90000a3f000"),
        Ev("host kernel: RIP: 0010:v3_handle_vmx_exit+0x1a2/0x4c0 [v3vee]"),
        Ev("host: kernel taint 0 -> 4096"),
        Ev("host: fork+exec probe answered in 48.1 ms (baseline 0.8 ms)")};
    r.heartbeats_ms["witness"] = Beats(500, 3200, 500);
    for (double t : Beats(5900, 6400, 500)) r.heartbeats_ms["witness"].push_back(t);
    records.push_back(r);
  }
  {
    CheckRecord r = Base("palacios", "usercrash", "segv", "E-Zone 4");
    r.verdict = Verdict::kSkipped;
    r.message = "palacios: /dev/v3vee absent (Palacios module not loaded)";
    r.properties.clear();
    records.push_back(r);
  }
  {
    CheckRecord r = Base("palacios", "vmmkill", "sigkill", "E-Zone 2");
    r.verdict = Verdict::kSkipped;
    r.message = "palacios: /dev/v3vee absent (Palacios module not loaded)";
    r.properties.clear();
    records.push_back(r);
  }
  return records;
}

// A campaign as the runner journals it, cut short by a host reboot during
// the last check; rebuilt into report.html in the output directory.
fs::path BuildReport(const fs::path& scratch) {
  const fs::path journal = scratch / "journal.jsonl";
  fs::create_directories(kOutputDir / "console");
  RunInfo run;
  run.name = "zones campaign";
  run.hostname = "node17.cluster";
  run.timestamp = "2024-05-01T10:00:00";
  run.properties = {
      {"ezone_version", "0.1.0"},
      {"guest_kernel_release", "6.1.0-21-cloud-amd64"},
      {"guest_image_sha256",
       "1888c96c3cfd7f06212c2db7468e84bef528e976d14d1cc5fafa7505da48d32e"},
      {"guest_busybox_version", "1:1.35.0-4+deb12u1+b1"}};
  {
    JournalWriter writer(journal);
    writer.RunStarted(run);
    for (CheckRecord r : Campaign()) {
      if (r.verdict != Verdict::kSkipped) {
        r.console_log_path =
            (kOutputDir / "console" / (r.classname + "." + r.name + ".log"))
                .string();
        std::ofstream(r.console_log_path, std::ios::binary)
            << r.console_excerpt;
      }
      writer.CheckStarted(r.suite, r.classname, r.name,
                          {{"vmm", r.vmm},
                           {"fault", r.fault},
                           {"variant", r.variant},
                           {"zone", r.zone},
                           {"policy", r.policy}});
      writer.CheckPhase(r.classname, r.name, "booting");
      writer.CheckFinished(r);
    }
    const std::string log =
        (kOutputDir / "console" /
         "GuestKernelCrashMustNotKillHost.palacios_kerncrash_nullderef_1.log")
            .string();
    std::ofstream(log, std::ios::binary)
        << "[    2.101000] ezone-agent: READY 9a7e11\n"
           "[    2.320000] BUG: kernel NULL pointer dereference, address: "
           "0000000000000000\n";
    writer.CheckStarted("zones", "GuestKernelCrashMustNotKillHost",
                        "palacios_kerncrash_nullderef_1",
                        {{"vmm", "palacios"},
                         {"fault", "kerncrash"},
                         {"variant", "nullderef"},
                         {"zone", "E-Zone 3"},
                         {"policy", "strong-isolation"},
                         {"console_log_path", log}});
    for (const char* phase : {"booting", "ready", "fault fired", "observing"}) {
      writer.CheckPhase("GuestKernelCrashMustNotKillHost",
                        "palacios_kerncrash_nullderef_1", phase);
    }
  }
  // Performance figures beside the page, for the continuum chart: a
  // rendering fixture in the format `ezone bench --workload` writes, not a
  // measurement.
  std::ofstream(kOutputDir / "performance.json") << R"({
    "kind": "ezone-performance", "version": 1, "created": "2024-05-01T09:50:00Z",
    "host": "node17.cluster", "workload": {"args": "-t 300 -m 16"},
    "metrics": [{"key": "int_mops", "label": "integer", "unit": "Mops/s", "higher_is_better": true},
                {"key": "syscall_ns", "label": "getppid", "unit": "ns/call", "higher_is_better": false}],
    "native": {"median": {"int_mops": 1900, "syscall_ns": 1000}},
    "vmms": [
      {"label": "qemu", "status": "ran", "relative": {"int_mops": 0.7, "syscall_ns": 0.01},
       "performance": 0.0837, "overhead": 10.95},
      {"label": "kvm", "status": "ran", "relative": {"int_mops": 0.98, "syscall_ns": 0.9},
       "performance": 0.939, "overhead": 0.065},
      {"label": "palacios", "status": "ran", "relative": {"int_mops": 0.99, "syscall_ns": 0.97},
       "performance": 0.98, "overhead": 0.02},
      {"label": "<img src=x onerror=\"document.title='ezone-pwned'\">", "status": "skipped",
       "reason": "<script>document.body.appendChild(document.createElement('ezone-injected'))</script>"}]
  })";
  const JournalContents contents =
      ReadJournal(journal, "00000000-0000-0000-0000-000000000000");
  const fs::path html = kOutputDir / "report.html";
  RebuildReports(contents, kOutputDir / "junit.xml", html,
                 kOutputDir / "summary.md");
  return html;
}

bool IsPng(const std::string& bytes) {
  return bytes.size() > 24 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 &&
         bytes.compare(12, 4, "IHDR") == 0;
}

std::uint32_t BigEndian32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  }
  return value;
}

class BrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Chromium's singleton socket must fit in sun_path (108 bytes): its
    // HOME/TMPDIR is short, not the scratch directory.
    std::string home = "/tmp/ezone-chromium-XXXXXX";
    ASSERT_NE(::mkdtemp(home.data()), nullptr);
    home_ = home;
    chromium_ = FindChromium();
    if (chromium_.empty()) {
      const char* required = std::getenv("EZONE_REQUIRE_BROWSER");
      if (required != nullptr && std::string_view(required) == "1") {
        FAIL() << "chromium not installed, and EZONE_REQUIRE_BROWSER=1 "
                  "requires it: apt-get install chromium (or set "
                  "EZONE_CHROMIUM)";
      }
      GTEST_SKIP() << "chromium not installed (apt-get install chromium; "
                      "EZONE_REQUIRE_BROWSER=1 makes this a failure)";
    }
  }

  // Screenshot of `url` into `png`; returns chromium's stderr on failure.
  void Screenshot(const std::string& url, const fs::path& png,
                  std::uint32_t height = 1800) {
    fs::remove(png);
    const fs::path profile = home_ / ("profile-" + png.stem().string());
    std::vector<std::string> args =
        ChromiumArgs(chromium_, profile, static_cast<int>(height));
    args.push_back("--screenshot=" + png.string());
    args.push_back(url);
    const int rc = RunCommand(args, home_, scratch_.path() / "out.txt",
                              scratch_.path() / "err.txt");
    ASSERT_EQ(rc, 0) << "chromium failed (" << rc << "):\n"
                     << ReadFile(scratch_.path() / "err.txt");
    ASSERT_TRUE(fs::exists(png)) << ReadFile(scratch_.path() / "err.txt");
    const std::string bytes = ReadFile(png);
    ASSERT_TRUE(IsPng(bytes)) << png;
    EXPECT_EQ(BigEndian32(bytes, 16), 1400u);   // IHDR width
    EXPECT_EQ(BigEndian32(bytes, 20), height);  // IHDR height
    // A blank 1400x1800 page compresses to a few KiB; a report is far more.
    EXPECT_GT(bytes.size(), 40u * 1024) << "suspiciously small screenshot";
    std::cout << "screenshot: " << png.string() << " (" << bytes.size() / 1024
              << " KiB)\n";
  }

  void TearDown() override {
    std::error_code ec;
    if (!home_.empty()) fs::remove_all(home_, ec);
  }

  fs::path chromium_;
  fs::path home_;  // HOME and TMPDIR of the browser, removed afterwards
  ScratchDir scratch_;
};

TEST_F(BrowserTest, RendersTheReportWithoutRunningInjectedScripts) {
  const fs::path html = BuildReport(scratch_.path());
  std::cout << "report: " << html.string() << "\n";
  const std::string url = "file://" + fs::absolute(html).string();

  // The DOM after loading: what the page became, scripts included.
  const fs::path profile = home_ / "profile-dom";
  std::vector<std::string> args = ChromiumArgs(chromium_, profile);
  args.push_back("--dump-dom");
  args.push_back(url);
  const fs::path dom_file = scratch_.path() / "dom.html";
  const int rc = RunCommand(args, home_, dom_file, scratch_.path() / "err.txt");
  ASSERT_EQ(rc, 0) << "chromium --dump-dom failed (" << rc << "):\n"
                   << ReadFile(scratch_.path() / "err.txt");
  const std::string dom = ReadFile(dom_file);
  ASSERT_NE(dom.find("<table class=\"matrix\">"), std::string::npos)
      << "no matrix in the DOM:\n"
      << dom.substr(0, 2000);
  EXPECT_NE(dom.find("<svg class=\"timeline\""), std::string::npos);
  EXPECT_NE(dom.find("rebooted during observing"), std::string::npos);
  // The continuum chart: one point per VMM with both performance figures
  // and checks that were carried out.
  EXPECT_NE(dom.find("<svg class=\"continuum\""), std::string::npos);
  for (const char* vmm : {"qemu", "kvm", "palacios"}) {
    EXPECT_NE(dom.find(std::string("data-vmm=\"") + vmm + "\""),
              std::string::npos)
        << vmm;
  }
  // The payloads are text, not elements, and did not run.
  EXPECT_EQ(dom.find("<ezone-injected"), std::string::npos);
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  EXPECT_EQ(dom.find("<img"), std::string::npos);
  EXPECT_EQ(dom.find("ezone-pwned</title>"), std::string::npos);
  EXPECT_NE(dom.find("&lt;script&gt;document.body.appendChild"),
            std::string::npos);
  std::size_t details = 0;
  for (std::size_t at = dom.find("<details"); at != std::string::npos;
       at = dom.find("<details", at + 1)) {
    ++details;
  }
  EXPECT_EQ(details, Campaign().size() + 1);

  Screenshot(url, kOutputDir / "report.png");
  // The whole page, details included (a headless screenshot shows only the
  // window, and scrolling to an anchor paints nothing).
  Screenshot(url, kOutputDir / "report-full.png", 9000);
}

}  // namespace
}  // namespace ezone::report
