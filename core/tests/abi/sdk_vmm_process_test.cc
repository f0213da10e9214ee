// The SDK's process helpers for VMM plugins (ezone/vmm_process.h), with
// /bin/sh standing in for the VMM: descriptors placed without collisions, a
// failed exec reported, the child outliving the thread that asked for it
// (its death signal is tied to the SDK's forking thread), the process group
// killed and reaped, and the reader's exit event.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "ezone/vmm_process.h"

namespace ezone::sdk {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

bool Alive(pid_t pid) {
  // Not a zombie: /proc/<pid>/stat's state is not Z.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

// Processes of process group `pgid` that are not zombies (a killed child
// re-parented to an init that does not reap stays a zombie: it is dead).
int LiveMembers(pid_t pgid) {
  int live = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    long ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != "Z") ++live;
  }
  return live;
}

TEST(VmmProcessTest, DescriptorsLandWhereAskedEvenWhenSourcesAndTargetsCross) {
  int a[2], b[2];
  ASSERT_EQ(pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(b, O_CLOEXEC), 0);
  // The sources sit on each other's targets: pipe a's write end on 41, b's
  // on 40, to go to 40 and 41. A naive dup2 sequence sends both to one pipe.
  ASSERT_EQ(dup3(a[1], 41, O_CLOEXEC), 41);
  ASSERT_EQ(dup3(b[1], 40, O_CLOEXEC), 40);
  close(a[1]);
  close(b[1]);
  if (access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "no /bin/bash (dash takes fds 0-9 only)";
  SpawnOptions so;
  so.argv = {"/bin/bash", "-c", "echo a >&40; echo b >&41; ls /proc/self/fd | wc -l >&40"};
  so.fds = {{40, 41}, {41, 40}};
  auto p = VmmProcess::Spawn(so);
  close(40);
  close(41);
  p->Reap(true);
  EXPECT_EQ(p->HowItEnded(), "exit status 0");
  std::string got_a = ReadAll(a[0]), got_b = ReadAll(b[0]);
  EXPECT_EQ(got_b, "b\n");
  // 0, 1, 2, 40, 41 and ls's own directory fd: nothing else crossed exec.
  EXPECT_EQ(got_a, "a\n6\n");
  close(a[0]);
  close(b[0]);
}

TEST(VmmProcessTest, AFailedExecIsAnExceptionWithTheReason) {
  fs::path fake = fs::temp_directory_path() / "ezone-sdk-not-a-program";
  std::ofstream(fake) << "\x01\x02 not a program";
  fs::permissions(fake, fs::perms::owner_all);
  SpawnOptions so;
  so.argv = {fake.string()};
  try {
    VmmProcess::Spawn(so);
    ADD_FAILURE() << "spawned a non-program";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exec " + fake.string() + ": Exec format error"),
              std::string::npos)
        << e.what();
  }
  fs::remove(fake);
  so.argv = {"ezone-no-such-program"};
  EXPECT_THROW(VmmProcess::Spawn(so), std::runtime_error);
}

// PR_SET_PDEATHSIG fires when the *thread* that forked ends. The SDK forks
// from its own long-lived thread, so a VMM asked for by a short-lived core
// thread lives on.
TEST(VmmProcessTest, TheChildOutlivesTheThreadThatAskedForIt) {
  std::unique_ptr<VmmProcess> p;
  std::thread([&] {
    SpawnOptions so;
    so.argv = {"/bin/sleep", "30"};
    p = VmmProcess::Spawn(so);
  }).join();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(Alive(p->pid()));
  EXPECT_FALSE(p->Reap(false));
}

TEST(VmmProcessTest, DestroyingItKillsTheWholeGroupAndReaps) {
  pid_t pid;
  {
    SpawnOptions so;
    so.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30 & wait"};
    auto p = VmmProcess::Spawn(so);
    pid = p->pid();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(getpgid(pid), pid);  // its own group
  }
  // Reaped (no zombie), and its children (same group) were killed: give
  // them a moment to be reaped by init.
  EXPECT_FALSE(Alive(pid));
  bool group_gone = false;
  for (int i = 0; i < 50 && !group_gone; ++i) {
    group_gone = LiveMembers(pid) == 0;
    if (!group_gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(group_gone) << LiveMembers(pid) << " live processes left in group " << pid;
}

struct Recorded {
  std::mutex mu;
  std::string console;
  std::vector<std::pair<ezone_vm_event, std::string>> events;
};

TEST(VmReaderTest, CopiesTheStreamsThenReportsTheExitWithTheStderrTail) {
  static Recorded rec;
  ezone_vm_sink raw{};
  raw.core = &rec;
  raw.console = [](void* core, const char* b, size_t n) {
    auto* r = static_cast<Recorded*>(core);
    std::lock_guard lock(r->mu);
    r->console.append(b, n);
  };
  raw.control = [](void*, const char*, size_t) {};
  raw.event = [](void* core, ezone_vm_event e, const char* detail) {
    auto* r = static_cast<Recorded*>(core);
    std::lock_guard lock(r->mu);
    r->events.push_back({e, detail});
  };
  VmSink sink(raw);
  SocketPair console = SocketPair::Make();
  SpawnOptions so;
  so.argv = {"/bin/sh", "-c", "echo booted >&3; echo 'bad option' >&2; exit 3"};
  so.fds = {{3, console.vmm.get()}};
  auto p = VmmProcess::Spawn(so);
  console.vmm.reset();
  VmReader reader;
  // The end of a stream is told once, after its last bytes.
  int ends = 0;
  std::string console_at_end;
  reader.Watch(console.plugin.get(), [sink](std::string_view b) { sink.Console(b); },
               [&] {
                 ++ends;
                 std::lock_guard lock(rec.mu);
                 console_at_end = rec.console;
               });
  reader.Start(p.get(), sink, "sh");
  for (int i = 0; i < 250 && !reader.exited(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  reader.Stop();
  std::lock_guard lock(rec.mu);
  EXPECT_EQ(rec.console, "booted\n");
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].first, EZONE_EVENT_VMM_EXITED);
  EXPECT_EQ(rec.events[0].second, "exit status 3; sh said: bad option");
  EXPECT_TRUE(p->reaped());
  EXPECT_EQ(ends, 1);
  EXPECT_EQ(console_at_end, "booted\n");
}

}  // namespace
}  // namespace ezone::sdk
