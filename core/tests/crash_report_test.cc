// The crash report parser (crash_report.h): every format on synthetic lines
// (written here from the kernel's printk formats), then every real console
// log of the corpus against its EXPECTED.reports (docs/crash-detection.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "console_classifier.h"
#include "crash_report.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

std::vector<CrashReport> Parse(const std::vector<std::string>& lines, bool ready = false) {
  CrashReportParser p;
  if (ready) p.MarkReady();
  for (const std::string& l : lines) p.FeedLine(l);
  p.Finish();
  return p.TakeReports();
}

std::vector<std::string> Titles(const std::vector<CrashReport>& rs) {
  std::vector<std::string> t;
  for (const CrashReport& r : rs) t.push_back(r.title);
  return t;
}

// A kernel oops as 6.1 prints it, with its first line given.
std::vector<std::string> Oops(const std::string& first, const std::string& rip,
                              const std::string& frame) {
  return {"[   10.000001] " + first,
          "[   10.000002] CPU: 1 PID: 77 Comm: sh Tainted: G           OE      6.1.0-56-amd64 #1",
          "[   10.000003] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009)",
          "[   10.000004] RIP: 0010:" + rip,
          "[   10.000005] Code: 48 8b 04 25 <0f> 0b",
          "[   10.000006] RSP: 0018:ffffc90000003e80 EFLAGS: 00010246",
          "[   10.000007] RAX: 0000000000000000 RBX: ffff888003a1c000 RCX: 0000000000000000",
          "[   10.000008] Call Trace:",
          "[   10.000009]  <TASK>",
          "[   10.000010]  ? show_regs+0x60/0x70",
          "[   10.000011]  " + frame,
          "[   10.000012]  do_syscall_64+0x5d/0x90",
          "[   10.000013]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8",
          "[   10.000014]  </TASK>",
          "[   10.000015] Modules linked in: foo(OE)",
          "[   10.000016] ---[ end trace 0000000000000000 ]---"};
}

TEST(StripConsolePrefixTest, TimestampsCallerIdsLevelsAndCRs) {
  EXPECT_EQ(StripConsolePrefix("[   12.345678] hello"), "hello");
  EXPECT_EQ(StripConsolePrefix("[  584.319520][   T31] hello\r"), "hello");
  EXPECT_EQ(StripConsolePrefix("[    1.000000][    C0] hello"), "hello");
  EXPECT_EQ(StripConsolePrefix("<4>[    1.000000] hello"), "hello");
  EXPECT_EQ(StripConsolePrefix("<6>hello"), "hello");
  EXPECT_EQ(StripConsolePrefix("\r\r[ 1.5] hello\r\r"), "hello");
  EXPECT_EQ(StripConsolePrefix("[not a stamp] hello"), "[not a stamp] hello");
  EXPECT_EQ(StripConsolePrefix(""), "");
}

TEST(CrashReportTest, DivideErrorInTimerIsTitledByRip) {
  auto rs = Parse(Oops("divide error: 0000 [#1] PREEMPT SMP NOPTI",
                       "kerncrash_divide+0x12/0x19 [kerncrash]", "kerncrash_fire+0x44/0x98 [kerncrash]"));
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ReportKind::kOops);
  EXPECT_TRUE(rs[0].fatal);
  EXPECT_EQ(rs[0].title, "divide error in kerncrash_divide");
  EXPECT_EQ(rs[0].first_line, 1u);
  EXPECT_EQ(rs[0].last_line, 16u);
  EXPECT_FALSE(rs[0].corrupted);
}

TEST(CrashReportTest, OopsHeadlinesOfX86) {
  struct Case {
    std::string first, title;
  } cases[] = {
      {"general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP",
       "general protection fault in victim_fn"},
      {"segment-related general protection fault: 0000 [#1] SMP", "segment-related general protection fault in victim_fn"},
      {"invalid opcode: 0000 [#1] PREEMPT SMP", "invalid opcode in victim_fn"},
      {"Oops: general protection fault, probably for non-canonical address 0x1: 0000 [#1] PREEMPT SMP NOPTI",
       "general protection fault in victim_fn"},  // 6.9+ prefixes "Oops: "
      {"Oops: divide error: 0000 [#1] PREEMPT SMP NOPTI", "divide error in victim_fn"},
      {"divide_error: 0000 [#1] PREEMPT SMP KASAN", "divide error in victim_fn"},  // before 5.8
      {"BUG: kernel NULL pointer dereference, address: 0000000000000008", "BUG: kernel NULL pointer dereference in victim_fn"},
      {"BUG: unable to handle page fault for address: ffffc90000a3f000", "BUG: unable to handle page fault in victim_fn"},
      {"BUG: unable to handle kernel paging request at ffffffffc0000000", "BUG: unable to handle kernel paging request in victim_fn"},
      {"kernel BUG at fs/ext4/inode.c:1234!", "kernel BUG in victim_fn"},
      {"list_del corruption, ffff888003a1c000->next is LIST_POISON1 (dead000000000100)", "list_del corruption in victim_fn"},
      {"BUG: TASK stack guard page was hit at 00000000deadbeef (stack is 0000..0000)", "BUG: stack guard page was hit in victim_fn"},
      {"kernel stack overflow (double-fault): 0000 [#1] SMP", "kernel stack overflow in victim_fn"},
      {"traps: PANIC: double fault, error_code: 0x0", "double fault in victim_fn"},
      {"stack segment: 0000 [#1] PREEMPT SMP", "stack segment in victim_fn"},
  };
  for (const Case& c : cases) {
    auto rs = Parse(Oops(c.first, "victim_fn+0x1d/0x80", "caller_fn+0x10/0x20"));
    ASSERT_EQ(rs.size(), 1u) << c.first;
    EXPECT_EQ(rs[0].kind, ReportKind::kOops) << c.first;
    EXPECT_EQ(rs[0].title, c.title) << c.first;
    EXPECT_TRUE(rs[0].fatal);
  }
}

TEST(CrashReportTest, LinesOfOneDieFoldIntoOneReport) {
  // NX: four lines before the die line; they are one report, titled by the first.
  std::vector<std::string> l = {
      "[    2.1] kernel tried to execute NX-protected page - exploit attempt? (uid: 0)",
      "[    2.2] BUG: unable to handle page fault for address: ff3116ed42bfde00",
      "[    2.3] #PF: supervisor instruction fetch in kernel mode",
      "[    2.4] Oops: 0011 [#1] PREEMPT SMP NOPTI",
      "[    2.5] RIP: 0010:0xff3116ed42bfde00",  // not a symbol
      "[    2.6] Call Trace:",
      "[    2.7]  <TASK>",
      "[    2.8]  ? execute_location+0x49/0x57 [lkdtm]",
      "[    2.9]  ? lkdtm_EXEC_KMALLOC+0x2c/0x40 [lkdtm]",
      "[    3.0]  </TASK>",
      "[    3.1] ---[ end trace 0000000000000000 ]---"};
  auto rs = Parse(l);
  ASSERT_EQ(rs.size(), 1u);
  // Every frame is unreliable: the first one is still better than none.
  EXPECT_EQ(rs[0].title, "BUG: kernel tried to execute NX-protected page in execute_location");
  // kernel BUG then invalid opcode
  rs = Parse({"[ 1.0] kernel BUG at mm/slub.c:10!", "[ 1.1] invalid opcode: 0000 [#1] SMP",
              "[ 1.2] RIP: 0010:kfree+0x10/0x20"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].title, "kernel BUG in kfree");
  // A second die ([#2]) is a report of its own.
  rs = Parse({"[ 1.0] invalid opcode: 0000 [#1] SMP", "[ 1.2] RIP: 0010:a_fn+0x10/0x20",
              "[ 1.3] general protection fault: 0000 [#2] SMP", "[ 1.4] RIP: 0010:b_fn+0x1/0x2"});
  EXPECT_EQ(Titles(rs), (std::vector<std::string>{"invalid opcode in a_fn", "general protection fault in b_fn"}));
}

TEST(CrashReportTest, Arm64) {
  std::vector<std::string> l = {
      "[   5.1] Unable to handle kernel paging request at virtual address dead00000000012a",
      "[   5.2] Mem abort info:",
      "[   5.3] Internal error: Oops: 0000000096000044 [#1] PREEMPT SMP",
      "[   5.4] Modules linked in: foo",
      "[   5.5] pc : victim_fn+0x24/0x60 [foo]",
      "[   5.6] lr : caller_fn+0x10/0x40 [foo]",
      "[   5.7] sp : ffff80000a0bbd10",
      "[   5.8] x29: ffff80000a0bbd10 x28: ffff0000c2a4c000 x27: 0000000000000000",
      "[   5.9] Call trace:",
      "[   6.0]  victim_fn+0x24/0x60 [foo]",
      "[   6.1]  caller_fn+0x10/0x40 [foo]",
      "[   6.2] Code: f9400021 (f9000020)",
      "[   6.3] ---[ end trace 0000000000000000 ]---"};
  auto rs = Parse(l);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].title, "Unable to handle kernel paging request in victim_fn");
  rs = Parse({"[ 1.0] Internal error: Oops - BUG: 00000000f2000800 [#1] SMP", "[ 1.1] pc : my_fn+0x4/0x8"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].title, "Internal error: Oops - BUG in my_fn");
}

// arm32: the fault line, then die()'s "Internal error: : 81b [#1]" (no
// name), "PC is at", and a backtrace of "(func) from" frames.
TEST(CrashReportTest, Arm32) {
  auto rs = Parse({"[ 7.0] Unhandled fault: page domain fault (0x81b) at 0x00001044",
                   "[ 7.1] Internal error: : 81b [#1] SMP ARM", "[ 7.2] Modules linked in:",
                   "[ 7.3] PC is at victim_fn+0x30/0xa8", "[ 7.4] LR is at   (null)",
                   "[ 7.5] Backtrace:",
                   "[ 7.6] [<80b10c70>] (victim_fn) from [<8062eec8>] (caller_fn+0x154/0x3c4)"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ReportKind::kOops);
  EXPECT_TRUE(rs[0].fatal);
  EXPECT_EQ(rs[0].title, "Unhandled fault: page domain fault in victim_fn");
  rs = Parse({"[ 7.1] Internal error: : 81b [#1] SMP ARM", "[ 7.5] Backtrace:",
              "[ 7.6] [<80b10c70>] (dump_stack) from [<8062eec8>] (x+0x1/0x2)",
              "[ 7.65]  r7:00000000 r6:82622e04 r5:00000000 r4:81fe2534",
              "[ 7.7] [<8062eec8>] (caller_fn) from [<80632588>] (y+0x1bc/0x230)"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"Internal error in caller_fn"});
}

TEST(CrashReportTest, PanicFoldsIntoTheOopsThatCausedIt) {
  auto l = Oops("divide error: 0000 [#1] SMP", "f+0x1/0x2", "g+0x1/0x2");
  l.push_back("[   10.1] RIP: 0010:f+0x1/0x2");
  l.push_back("[   10.2] Kernel panic - not syncing: Fatal exception in interrupt");
  l.push_back("[   10.3] ---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---");
  auto rs = Parse(l);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].title, "divide error in f");
  EXPECT_EQ(rs[0].last_line, l.size() - 1);
}

TEST(CrashReportTest, PanicOnItsOwnIsTitledByItsReason) {
  auto rs = Parse({"[    3.594636] Kernel panic - not syncing: kerncrash: requested panic",
                   "[    3.597004] Call Trace:", "[    3.598529]  dump_stack_lvl+0x44/0x5c",
                   "[    3.599210]  panic+0x118/0x2f4", "[    3.599674]  kerncrash_fire+0x6f/0x98 [kerncrash]"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ReportKind::kPanic);
  EXPECT_EQ(rs[0].title, "kernel panic: kerncrash: requested panic");
  EXPECT_FALSE(rs[0].corrupted);
  rs = Parse({"[ 1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"kernel panic: Attempted to kill init! exitcode=ADDR"});
  rs = Parse({"[ 1.0] Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
              "lkdtm_CORRUPT_STACK+0x42/0x4b [lkdtm]"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{
                            "kernel panic: stack-protector: Kernel stack is corrupted in lkdtm_CORRUPT_STACK"});
}

TEST(CrashReportTest, LockupsAndStalls) {
  struct Case {
    std::string first, title;
    ReportKind kind;
  } cases[] = {
      {"watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]", "BUG: soft lockup in spin_fn", ReportKind::kLockup},
      {"BUG: soft lockup - CPU#3 stuck for 67s! [kworker/3:1:99]", "BUG: soft lockup in spin_fn", ReportKind::kLockup},
      {"watchdog: Watchdog detected hard LOCKUP on cpu 1", "hard LOCKUP in spin_fn", ReportKind::kLockup},
      {"NMI watchdog: Watchdog detected hard LOCKUP on cpu 1", "hard LOCKUP in spin_fn", ReportKind::kLockup},
      {"rcu: INFO: rcu_preempt self-detected stall on CPU", "INFO: rcu detected stall in spin_fn", ReportKind::kLockup},
      {"INFO: rcu_sched detected stalls on CPUs/tasks:", "INFO: rcu detected stall in spin_fn", ReportKind::kLockup},
      {"rcu: INFO: rcu_sched detected expedited stalls on CPUs/tasks: { 0-... } 21002 jiffies s: 93 root: 0x1/.",
       "INFO: rcu detected expedited stall in spin_fn", ReportKind::kLockup},
      {"INFO: rcu_tasks detected stalls on tasks:", "INFO: rcu detected stall in spin_fn", ReportKind::kLockup},
  };
  for (const Case& c : cases) {
    std::vector<std::string> l = {"[  30.1] " + c.first,
                                  "[  30.2] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1",
                                  "[  30.3] Call Trace:",
                                  "[  30.4]  <IRQ>",
                                  "[  30.5]  dump_stack_lvl+0x44/0x5c",
                                  "[  30.6]  nmi_cpu_backtrace.cold+0x30/0x70",
                                  "[  30.7]  rcu_dump_cpu_stacks+0xc8/0x100",
                                  "[  30.8]  update_process_times+0x8c/0xb0",
                                  "[  30.9]  </IRQ>",
                                  "[  31.0]  <TASK>",
                                  "[  31.1]  asm_sysvec_apic_timer_interrupt+0x16/0x20",
                                  "[  31.2] RIP: 0010:spin_fn+0x5/0x10 [foo]",
                                  "[  31.3] RSP: 0018:ffffc90000003e80 EFLAGS: 00000246",
                                  "[  31.4]  caller_fn+0x20/0x40",
                                  "[  31.5]  </TASK>",
                                  "[  31.6] an ordinary line"};
    auto rs = Parse(l);
    ASSERT_EQ(rs.size(), 1u) << c.first;
    EXPECT_EQ(rs[0].kind, c.kind) << c.first;
    EXPECT_EQ(rs[0].title, c.title) << c.first;
    EXPECT_TRUE(rs[0].fatal);
    EXPECT_EQ(rs[0].last_line, 15u) << c.first;  // the report ends with its stack
  }
  auto rs = Parse({"[ 1.0] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 31s!"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"BUG: workqueue lockup"});
}

TEST(CrashReportTest, HungTaskWordingsSkipTheScheduler) {
  for (std::string first : {"INFO: task kworker/0:1:123 blocked for more than 120 seconds.",
                            "INFO: task syz-executor:4567 blocked in I/O wait for more than 143 seconds.",
                            "INFO: task sh:4567 can't die for more than 143 seconds."}) {
    auto rs = Parse({"[ 300.1] " + first, "[ 300.2]       Not tainted 6.12.0 #1",
                     "[ 300.3] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.",
                     "[ 300.4] task:foo state:D stack:0 pid:123 ppid:2 flags:0x00004000",
                     "[ 300.5] Call Trace:", "[ 300.6]  <TASK>", "[ 300.7]  __schedule+0x34d/0xa00",
                     "[ 300.8]  schedule+0x5a/0xd0", "[ 300.9]  io_schedule+0x46/0x70",
                     "[ 301.0]  wait_for_completion+0x10/0x20", "[ 301.1]  ext4_sync_fs+0x1c0/0x230",
                     "[ 301.2]  </TASK>"});
    ASSERT_EQ(rs.size(), 1u) << first;
    EXPECT_EQ(rs[0].kind, ReportKind::kHungTask);
    EXPECT_EQ(rs[0].title, first.find("can't die") == std::string::npos
                               ? "INFO: task hung in ext4_sync_fs"
                               : "INFO: task can't die in ext4_sync_fs");
    EXPECT_TRUE(rs[0].fatal);
  }
}

TEST(CrashReportTest, WarningsAreNotFatal) {
  auto rs = Parse({"[ 2.0] ------------[ cut here ]------------",
                   "[ 2.1] WARNING: CPU: 0 PID: 0 at /tmp/gb/kmod/kerncrash/kerncrash.c:96 kerncrash_fire+0x7b/0x98 [kerncrash]",
                   "[ 2.2] Call Trace:", "[ 2.3]  call_timer_fn+0x27/0x130",
                   "[ 2.4] ---[ end trace 0000000000000000 ]---"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ReportKind::kWarning);
  EXPECT_FALSE(rs[0].fatal);
  EXPECT_EQ(rs[0].title, "WARNING in kerncrash_fire");
  EXPECT_STREQ(LogVerdict(rs), "warning");
  // refcount_warn_saturate names the machinery, not the bug.
  rs = Parse({"[ 2.1] WARNING: CPU: 0 PID: 79 at lib/refcount.c:25 refcount_warn_saturate+0x97/0x110",
              "[ 2.2] Call Trace:", "[ 2.3]  lkdtm_REFCOUNT_INC_OVERFLOW+0x4a/0x70 [lkdtm]"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"WARNING in lkdtm_REFCOUNT_INC_OVERFLOW"});
  rs = Parse({"[ 1.0] BUG: sleeping function called from invalid context at mm/slab.h:742",
              "[ 1.1] Call Trace:", "[ 1.2]  dump_stack_lvl+0x44/0x5c", "[ 1.3]  kmalloc_fn+0x1/0x2"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"BUG: sleeping function called from invalid context in kmalloc_fn"});
  EXPECT_FALSE(rs[0].fatal);
  rs = Parse({"[ 1.0] WARNING: possible circular locking dependency detected", "[ 1.1] Call Trace:",
              "[ 1.2]  lock_fn+0x1/0x2"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"WARNING: possible circular locking dependency detected in lock_fn"});
}

// 6.18 moved the location first and the CPU last, with WARN_ON()'s
// condition in brackets where it printed one; a symbol-less location ("at
// 0x0") leaves the title to the stack.
TEST(CrashReportTest, WarningsInTheFormatOf618) {
  auto rs = Parse({"[ 9.0][    C0] ------------[ cut here ]------------",
                   "[ 9.1][    C0] WARNING: [time_after(jiffies, timeout)] io_uring/io_uring.c:3026 at "
                   "exit_fn+0x44c/0xbc0, CPU#0: kworker/u8:0/10040",
                   "[ 9.2][    C0] Modules linked in:", "[ 9.3][    C0] Call Trace:",
                   "[ 9.4][    C0]  process_one_work+0x1/0x2"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ReportKind::kWarning);
  EXPECT_FALSE(rs[0].fatal);
  EXPECT_EQ(rs[0].title, "WARNING in exit_fn");
  rs = Parse({"[ 9.1][ T6051] WARNING: fs/ext4/xattr.c:1058 at ext4_fn+0x12/0x40, CPU#1: sh/6051",
              "[ 9.2] Call Trace:", "[ 9.3]  caller_fn+0x1/0x2"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"WARNING in ext4_fn"});
  rs = Parse({"[ 9.1][ T6051] WARNING: lib/refcount.c:19 at 0x0, CPU#1: sh/6051", "[ 9.2] Call Trace:",
              "[ 9.3]  refcount_warn_saturate+0x1/0x2", "[ 9.4]  put_fn+0x1/0x2"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"WARNING in put_fn"});
}

// The lock validator's reports (debug kernels): warnings, also in the
// bracketed banners of kernels before 4.x; other "INFO: " lines are not
// reports (LookalikesAreNotReports).
TEST(CrashReportTest, LockdepReportsAreWarnings) {
  struct Case {
    std::string first, title;
  } cases[] = {
      {"[ INFO: possible circular locking dependency detected ]",
       "INFO: possible circular locking dependency detected in lock_fn"},
      {"[ BUG: bad unlock balance detected! ]", "BUG: bad unlock balance detected in lock_fn"},
      {"INFO: trying to register non-static key.", "INFO: trying to register non-static key in lock_fn"},
      {"[ INFO: suspicious RCU usage. ]", "INFO: suspicious RCU usage in lock_fn"},
      {"WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in lock_fn"},
      {"WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
       "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected in lock_fn"},
      {"[ INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected ]",
       "INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected in lock_fn"},
  };
  for (const Case& c : cases) {
    auto rs = Parse({"[ 5.0] =========================", "[ 5.1] " + c.first, "[ 5.2] 4.9.0 #1 Not tainted",
                     "[ 5.3] Call Trace:", "[ 5.4]  dump_stack+0x1/0x2", "[ 5.5]  lock_fn+0x10/0x20"});
    ASSERT_EQ(rs.size(), 1u) << c.first;
    EXPECT_EQ(rs[0].kind, ReportKind::kWarning) << c.first;
    EXPECT_FALSE(rs[0].fatal) << c.first;
    EXPECT_EQ(rs[0].title, c.title) << c.first;
  }
  for (std::string l : {"[ 1.0] [ OK ] Started the thing", "[ 1.0] [ INFO: nothing to see ]"}) {
    EXPECT_TRUE(Parse({l}).empty()) << l;
  }
}

// A fault inside a lock primitive, or a report from the lock validator or
// might_sleep(), names the code that took the lock.
TEST(CrashReportTest, LockPrimitivesAndTheValidatorAreNotTheCulprit) {
  auto rs = Parse(Oops("general protection fault, probably for non-canonical address 0x1: 0000 [#1] SMP",
                       "_raw_spin_lock_irqsave+0x3d/0x60", "queue_fn+0x10/0x20"));
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"general protection fault in queue_fn"});
  rs = Parse({"[ 5.1] WARNING: possible circular locking dependency detected", "[ 5.2] Call Trace:",
              "[ 5.3]  check_noncircular+0x1/0x2", "[ 5.4]  __lock_acquire+0x1/0x2",
              "[ 5.5]  lock_acquire+0x1/0x2", "[ 5.6]  __mutex_lock+0x1/0x2", "[ 5.7]  rtnl_fn+0x1/0x2"});
  EXPECT_EQ(Titles(rs),
            std::vector<std::string>{"WARNING: possible circular locking dependency detected in rtnl_fn"});
}

// An RCU stall prints the stalled task through sched_show_task(): the
// reporter, never the culprit.
TEST(CrashReportTest, StallsSkipTheTaskDumper) {
  auto rs = Parse({"[ 40.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
                   "[ 40.1] task:sh state:R running task stack:0 pid:77 ppid:1 flags:0x00004000",
                   "[ 40.2] Call Trace:", "[ 40.3]  <TASK>", "[ 40.4]  sched_show_task+0x3f0/0x5f0",
                   "[ 40.5]  rcu_sched_clock_irq+0x1/0x2", "[ 40.6]  ioctl_fn+0x10/0x20",
                   "[ 40.7]  </TASK>"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"INFO: rcu detected stall in ioctl_fn"});
}

TEST(CrashReportTest, PanicOnWarnMakesTheWarningFatal) {
  auto rs = Parse({"[ 2.1] WARNING: CPU: 0 PID: 1 at a.c:1 warn_fn+0x1/0x2",
                   "[ 2.2] Kernel panic - not syncing: kernel: panic_on_warn set ...",
                   "[ 2.3] Call Trace:", "[ 2.4]  panic+0x1/0x2", "[ 2.5]  __warn+0x1/0x2"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].title, "WARNING in warn_fn");
  EXPECT_TRUE(rs[0].fatal);
  EXPECT_STREQ(LogVerdict(rs), "crash");
}

TEST(CrashReportTest, MemorySafety) {
  auto rs = Parse({"[ 5.0] ==================================================================",
                   "[ 5.1] BUG: KASAN: slab-use-after-free in victim_fn+0x54/0x60 [foo]",
                   "[ 5.2] Read of size 8 at addr ffff888003a1c008 by task sh/77",
                   "[ 5.3] Call Trace:", "[ 5.4]  kasan_report+0xb1/0xe0", "[ 5.5]  victim_fn+0x54/0x60 [foo]"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ReportKind::kMemorySafety);
  EXPECT_EQ(rs[0].title, "KASAN: slab-use-after-free Read in victim_fn");  // the access it says
  EXPECT_FALSE(rs[0].fatal);
  rs = Parse({"[ 5.1] BUG: KASAN: global-out-of-bounds in victim_fn+0x54/0x60",
              "[ 5.2] Write of size 4 at addr ffffffffc0002000 by task sh/77"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"KASAN: global-out-of-bounds Write in victim_fn"});
  rs = Parse({"[ 5.1] BUG: KCSAN: data-race in reader_fn / writer_fn", "[ 5.2] ",
              "[ 5.3] write to 0xffff888003a1c008 of 8 bytes by task 77 on cpu 0:"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"KCSAN: data-race in reader_fn"});
  rs = Parse({"[ 5.1] BUG: KFENCE: out-of-bounds read in victim_fn+0x10/0x20"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"KFENCE: out-of-bounds read in victim_fn"});
  rs = Parse({"[ 5.1] UBSAN: array-index-out-of-bounds in drivers/foo/bar.c:123:45",
              "[ 5.2] index 8 is out of range for type 'int [8]'", "[ 5.3] Call Trace:",
              "[ 5.4]  dump_stack_lvl+0x1/0x2", "[ 5.5]  __ubsan_handle_out_of_bounds+0x1/0x2",
              "[ 5.6]  bar_fn+0x1/0x2"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"UBSAN: array-index-out-of-bounds in bar_fn"});
}

TEST(CrashReportTest, UserSpaceDeathsAndOomAreNotFatal) {
  auto rs = Parse({"[ 4.6] ezone-fault[78]: segfault at 0 ip 00000000004018cc sp 00007ffffb3310e0 error 6 in ezone-fault[401000+97000]",
                   "[ 4.7] traps: sh[91] general protection fault ip:4018cc sp:7ffd error:0 in sh[401000+97000]",
                   "[ 4.8] traps: sh[92] trap divide error ip:4018cc sp:7ffd error:0 in sh[401000+97000]"});
  EXPECT_EQ(Titles(rs), (std::vector<std::string>{"user segfault in ezone-fault",
                                                  "user general protection fault in sh",
                                                  "user divide error in sh"}));
  for (const CrashReport& r : rs) {
    EXPECT_EQ(r.kind, ReportKind::kUserSegfault);
    EXPECT_FALSE(r.fatal);
  }
  rs = Parse({"[ 7.4] ezone-fault invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE), order=0",
              "[ 7.5] Call Trace:", "[ 7.6]  dump_stack_lvl+0x44/0x5c",
              "[ 7.7] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=ezone-fault,pid=78",
              "[ 7.8] Out of memory: Killed process 78 (ezone-fault) total-vm:250000kB, anon-rss:190000kB",
              "[ 7.9] oom_reaper: reaped process 78 (ezone-fault)"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ReportKind::kOomKill);
  EXPECT_EQ(rs[0].title, "out of memory: killed ezone-fault");
  EXPECT_EQ(rs[0].first_line, 1u);
  EXPECT_EQ(rs[0].last_line, 5u);
  EXPECT_FALSE(rs[0].fatal);
  EXPECT_STREQ(LogVerdict(rs), "warning");
}

TEST(CrashReportTest, DecorationsAndGluedLines) {
  std::vector<std::string> plain = Oops("divide error: 0000 [#1] SMP", "victim+0x1/0x2", "caller+0x1/0x2");
  std::vector<std::string> decorated;
  for (size_t i = 0; i < plain.size(); ++i) {
    std::string rest = plain[i].substr(plain[i].find(']') + 1);
    switch (i % 4) {
      case 0: decorated.push_back("[  584.319520][   T31]" + rest + "\r"); break;
      case 1: decorated.push_back("<4>[  584.319520][    C0]" + rest); break;
      case 2: decorated.push_back(rest.substr(1) + "\r\r"); break;  // no timestamp
      default: decorated.push_back("<6>" + rest); break;
    }
  }
  auto rs = Parse(decorated);
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"divide error in victim"});
  // The report starts after another message on the same line.
  std::vector<std::string> glued = plain;
  glued[0] = "[   9.9] virtio_net virtio1 enp0s2: renamed from eth0" + glued[0];
  rs = Parse(glued);
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"divide error in victim"});
  glued[0] = "[   9.9] some driver said hello\r[   10.0] BUG: unable to handle kernel paging request at 0";
  rs = Parse(glued);
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"BUG: unable to handle kernel paging request in victim"});
}

TEST(CrashReportTest, NumbersAndOffsetsAreNormalised) {
  auto a = Parse(Oops("general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] SMP",
                      "victim.isra.0+0x12/0x40 [foo]", "caller+0x1/0x2"));
  auto b = Parse(Oops("general protection fault, probably for non-canonical address 0xdffffc0000000077: 0000 [#3] SMP",
                      "victim.isra.0+0x99/0x140 [foo]", "caller+0x5/0x9"));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].title, b[0].title);
  EXPECT_EQ(a[0].title, "general protection fault in victim");
  auto c = Parse({"[ 1.0] BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]", "[ 1.1] RIP: 0010:sha256_update+0x1/0x2"});
  auto d = Parse({"[ 1.0] BUG: soft lockup - CPU#3 stuck for 41s! [kworker/3:2:77]", "[ 1.1] RIP: 0010:sha256_update+0x9/0xa"});
  EXPECT_EQ(Titles(c), Titles(d));
  EXPECT_EQ(c[0].title, "BUG: soft lockup in sha256_update");  // digits inside identifiers stay
}

TEST(CrashReportTest, CutShortAndStacklessReportsAreCorrupted) {
  auto rs = Parse({"[ 1.0] ordinary", "[ 1.1] BUG: kernel NULL pointer dereference, address: 0000000000000000",
                   "[ 1.2] #PF: supervisor read access in kernel mode"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_TRUE(rs[0].corrupted);
  EXPECT_NE(rs[0].corrupted_reason.find("cut short"), std::string::npos);
  EXPECT_EQ(rs[0].title, "BUG: kernel NULL pointer dereference");
  EXPECT_TRUE(rs[0].fatal);  // still a crash
  // The log ends after the whole stack, before the end marker: sound.
  auto full = Oops("divide error: 0000 [#1] SMP", "victim+0x1/0x2", "caller+0x1/0x2");
  full.resize(14);
  rs = Parse(full);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_FALSE(rs[0].corrupted);
  // Another report starts before this one named a function.
  rs = Parse({"[ 1.0] WARNING: possible circular locking dependency detected", "[ 1.1] CPU: 0 PID: 1",
              "[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"});
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_TRUE(rs[0].corrupted);
  EXPECT_NE(rs[0].corrupted_reason.find("no stack trace"), std::string::npos);
  EXPECT_EQ(rs[1].title, "kernel panic: VFS: Unable to mount root fs on unknown-block(N,N)");
  // A panic while an oops is open is its consequence (e.g. init died).
  rs = Parse({"[ 1.0] invalid opcode: 0000 [#1] SMP", "[ 1.1] RIP: 0010:init_fn+0x1/0x2",
              "[ 1.2] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b"});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"invalid opcode in init_fn"});
}

TEST(CrashReportTest, RebootAfterReadyIsAFatalReport) {
  std::vector<std::string> boot = {"SeaBIOS (version 1.16.2-debian-1.16.2-1)",
                                   "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)",
                                   "[    0.000000] Command line: console=ttyS0"};
  CrashReportParser p;
  for (const std::string& l : boot) EXPECT_FALSE(p.FeedLine(l));
  p.MarkReady();
  EXPECT_FALSE(p.FeedLine("[    5.0] ordinary"));
  EXPECT_EQ(p.FeedLine("[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)"),
            ReportKind::kReboot);
  auto rs = p.TakeReports();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].title, "unexpected reboot");
  EXPECT_TRUE(rs[0].fatal);
  // Firmware banner first (a real reset): one reboot, not two.
  CrashReportParser q;
  for (const std::string& l : boot) q.FeedLine(l);
  q.MarkReady();
  for (const std::string& l : boot) q.FeedLine(l);
  EXPECT_EQ(q.TakeReports().size(), 1u);
  // Without READY, a second kernel banner is still a reboot (ezone classify).
  rs = Parse({boot[1], "[ 1.0] ordinary", boot[1]});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"unexpected reboot"});
  // A reboot after a panic is explained by the panic.
  rs = Parse({boot[1], "[ 1.0] Kernel panic - not syncing: oh no", "[ 1.1] Rebooting in 10 seconds..", boot[0], boot[1]});
  EXPECT_EQ(Titles(rs), std::vector<std::string>{"kernel panic: oh no"});
}

// A quiet boot prints no banner: the agent's READY again is the reboot.
TEST(CrashReportTest, ReadyAgainWithoutABannerIsTheReboot) {
  CrashReportParser p;
  EXPECT_FALSE(p.MarkReady());  // the first READY
  EXPECT_FALSE(p.FeedLine("[    5.0] ordinary"));
  EXPECT_EQ(p.MarkReady(), ReportKind::kReboot);
  auto rs = p.TakeReports();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].title, "unexpected reboot");
  EXPECT_TRUE(rs[0].fatal);
  EXPECT_EQ(rs[0].first_line, 1u);
  // Each further silent reboot is one more.
  EXPECT_EQ(p.MarkReady(), ReportKind::kReboot);
  EXPECT_EQ(p.TakeReports().size(), 1u);

  // A panic before it explains it; the panic cut short is still reported.
  CrashReportParser q;
  q.MarkReady();
  q.FeedLine("[ 9.0] Kernel panic - not syncing: oh no");
  EXPECT_FALSE(q.MarkReady());
  EXPECT_EQ(Titles(q.TakeReports()), std::vector<std::string>{"kernel panic: oh no"});
  // ... but only that one boot: a silent reboot after it is news again.
  EXPECT_EQ(q.MarkReady(), ReportKind::kReboot);

  // A loud boot's banner already said it: its READY adds nothing.
  CrashReportParser r;
  r.FeedLine("[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)");
  r.MarkReady();
  EXPECT_EQ(r.FeedLine("[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)"),
            ReportKind::kReboot);
  EXPECT_FALSE(r.MarkReady());
  EXPECT_EQ(r.TakeReports().size(), 1u);
}

// A real console as QEMU's SeaBIOS and the kernel print it: escape
// sequences, and the kernel's banner glued to the firmware's last line.
TEST(CrashReportTest, RealBootBannersWithEscapesCountOnce) {
  std::vector<std::string> boot = {
      "\x1b" "c\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r", "Booting from ROM...\r",
      "Probing EDD (edd=off to disable)... ok\x1b" "c\x1b[?7l\x1b[2J[    0.000000] Linux version "
      "6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\r",
      "[    0.000000] Command line: console=ttyS0\r"};
  CrashReportParser p;
  for (const std::string& l : boot) EXPECT_FALSE(p.FeedLine(l)) << l;
  p.MarkReady();
  std::vector<ReportKind> started;
  for (const std::string& l : boot)
    if (auto k = p.FeedLine(l)) started.push_back(*k);
  EXPECT_EQ(started, std::vector<ReportKind>{ReportKind::kReboot});
  EXPECT_EQ(StripConsolePrefix("\x1b[0m\x1b" "c[    1.0] hello"), "hello");
}

TEST(CrashReportTest, LookalikesAreNotReports) {
  for (std::string l : {"echo divide error: 0000 from a user program", "[ 1.0] Linux version 6.1.0 booting",
                        "[ 1.0] kerncrash: armed mode=divzero delay_ms=1000",
                        "[ 1.0] insmod kerncrash mode=panic", "grep 'BUG: ' /var/log/syslog",
                        "[ 1.0] x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'",
                        "[ 1.0] NMI watchdog: Enabled. Permanently consumes one hw-PMU counter.",
                        "[ 1.0] rcu: Hierarchical RCU implementation.", "Oops: file not found",
                        "[ 1.0] INFO: task list printed below", ""}) {
    EXPECT_FALSE(LineStartsReport(l)) << l;
    EXPECT_TRUE(Parse({l}).empty()) << l;
  }
}

TEST(CrashReportTest, BoundedWhateverTheInput) {
  CrashReportParser p;
  std::string huge(1 << 20, 'A');
  p.FeedLine(huge);
  for (int i = 0; i < 1000; ++i) p.FeedLine("[ 1.0] ezone-fault[78]: segfault at 0 ip 0 sp 0 error 6");
  EXPECT_EQ(p.TakeReports().size(), CrashReportParser::kMaxReports);
  EXPECT_EQ(p.DroppedReports(), 1000 - CrashReportParser::kMaxReports);
  // A report that never ends is completed after kMaxReportLines.
  p.FeedLine("[ 1.0] BUG: kernel NULL pointer dereference, address: 0");
  for (size_t i = 0; i < CrashReportParser::kMaxReportLines + 5; ++i) p.FeedLine("[ 1.0]  ? x+0x1/0x2");
  EXPECT_EQ(p.Pending(), nullptr);
  auto rs = p.TakeReports();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].last_line - rs[0].first_line + 1, CrashReportParser::kMaxReportLines);
  // A title never grows without bound.
  std::string long_reason = "[ 1.0] Kernel panic - not syncing: " + std::string(5000, 'x');
  rs = Parse({long_reason});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_LE(rs[0].title.size(), 160u);
}

TEST(CrashReportTest, PendingAndStartAreKnownAtOnce) {
  CrashReportParser p;
  EXPECT_EQ(p.FeedLine("[ 3.6] divide error: 0000 [#1] PREEMPT SMP NOPTI"), ReportKind::kOops);
  ASSERT_NE(p.Pending(), nullptr);
  EXPECT_TRUE(p.AnyFatal());  // before the report completes
  EXPECT_EQ(p.Pending()->title, "divide error");
  p.FeedLine("[ 3.7] RIP: 0010:kerncrash_divide+0x12/0x19 [kerncrash]");
  EXPECT_TRUE(p.TakeReports().empty());
  p.Finish();
  EXPECT_EQ(Titles(p.TakeReports()), std::vector<std::string>{"divide error in kerncrash_divide"});
}

TEST(CrashReportTest, ClassifierFacadeAgreesWithTheParser) {
  EXPECT_EQ(ClassifyConsoleLine("[  584.319520][   T31] BUG: unable to handle kernel paging request at 0"),
            ConsoleClass::kOops);
  EXPECT_EQ(ClassifyConsoleLine("[ 1.0] INFO: rcu_sched detected stalls on CPUs/tasks:"), ConsoleClass::kLockup);
  EXPECT_EQ(ClassifyConsoleLine("[ 1.0] INFO: task a:1 blocked in I/O wait for more than 143 seconds."),
            ConsoleClass::kLockup);
  EXPECT_EQ(ClassifyConsoleLine("[ 1.0] ezone-fault invoked oom-killer: gfp_mask=0x0"), ConsoleClass::kNone);
  EXPECT_EQ(ClassifyConsoleLine("[ 1.0] BUG: KASAN: use-after-free in f+0x1/0x2"), ConsoleClass::kWarning);
}

TEST(ClassifyBenchTest, StreamsFarFasterThanAGuestWrites) {
  double mbps = MeasureClassifyMBps(8);
  // A guest's serial console moves ~11 KB/s at 115200 baud; virtio-console
  // a few MB/s. The parser must never be the bottleneck.
  EXPECT_GT(mbps, 20.0);
}

// ---- The corpus: every real log against its EXPECTED.reports ---------------

struct Expected {
  fs::path log;
  std::string verdict;
  std::vector<std::string> reports;  // "kind: title", "+ (corrupted)"
};

void PrintTo(const Expected& e, std::ostream* os) { *os << e.log.lexically_relative(EZONE_CORPUS_DIR); }

std::string Trimmed(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

// EXPECTED.reports: "<log> | <verdict> | <kind>: <title>[ (corrupted)] | ...".
std::vector<Expected> ReadCorpus() {
  std::vector<Expected> all;
  for (const auto& entry : fs::recursive_directory_iterator(EZONE_CORPUS_DIR)) {
    if (entry.path().filename() != "EXPECTED.reports") continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> fields;
      size_t start = 0;
      for (;;) {
        size_t bar = line.find(" | ", start);
        fields.push_back(Trimmed(line.substr(start, bar - start)));
        if (bar == std::string::npos) break;
        start = bar + 3;
      }
      Expected e;
      e.log = entry.path().parent_path() / fields[0];
      e.verdict = fields.size() > 1 ? fields[1] : "?";
      e.reports.assign(fields.begin() + std::min<size_t>(2, fields.size()), fields.end());
      all.push_back(e);
    }
  }
  std::sort(all.begin(), all.end(), [](const Expected& a, const Expected& b) { return a.log < b.log; });
  return all;
}

class CorpusReportTest : public testing::TestWithParam<Expected> {};

TEST_P(CorpusReportTest, VerdictAndTitlesAsExpected) {
  const Expected& e = GetParam();
  std::ifstream in(e.log, std::ios::binary);
  ASSERT_TRUE(in) << e.log << " is missing";
  std::stringstream text;
  text << in.rdbuf();
  CrashReportParser parser;
  std::vector<CrashReport> reports;
  // As the runner reads a console: bytes through the LineAssembler.
  LineAssembler lines([&](std::string_view l) {
    parser.FeedLine(l);
    for (CrashReport& r : parser.TakeReports()) reports.push_back(std::move(r));
  });
  lines.Feed(text.str());
  lines.Flush();
  parser.Finish();
  for (CrashReport& r : parser.TakeReports()) reports.push_back(std::move(r));
  std::vector<std::string> got;
  for (const CrashReport& r : reports)
    got.push_back(std::string(ReportKindName(r.kind)) + ": " + r.title + (r.corrupted ? " (corrupted)" : ""));
  EXPECT_EQ(LogVerdict(reports), e.verdict);
  EXPECT_EQ(got, e.reports);
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusReportTest, testing::ValuesIn(ReadCorpus()),
                         [](const testing::TestParamInfo<Expected>& info) {
                           std::string name = info.param.log.lexically_relative(EZONE_CORPUS_DIR).string();
                           for (char& c : name)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(CorpusReportTest, EveryLogHasAnExpectation) {
  std::set<fs::path> expected;
  for (const Expected& e : ReadCorpus()) expected.insert(e.log);
  size_t logs = 0;
  for (const auto& entry : fs::recursive_directory_iterator(EZONE_CORPUS_DIR)) {
    if (entry.path().extension() != ".log") continue;
    ++logs;
    EXPECT_TRUE(expected.count(entry.path())) << entry.path() << " has no line in its EXPECTED.reports";
  }
  EXPECT_GE(logs, 90u);
}

}  // namespace
}  // namespace ezone
