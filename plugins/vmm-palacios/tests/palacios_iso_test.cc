// The boot ISO, for real: built by xorriso with ISOLINUX, cached, its
// command line written per boot, and booted under qemu-system-x86_64 (TCG,
// -cdrom: BIOS and El Torito as Palacios's guest would) until the agent's
// READY with this boot's nonce arrives on ttyS1.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "palacios_iso.h"

namespace ezone::palacios {
namespace {

namespace fs = std::filesystem;

std::string Kernel() { return std::string(EZONE_TEST_GUEST_DIR) + "/vmlinuz"; }
std::string Initramfs() { return std::string(EZONE_TEST_GUEST_DIR) + "/initramfs.cpio.gz"; }

std::vector<std::string> OurTempDirs() {
  std::vector<std::string> out;
  std::string prefix = "ezone-" + std::to_string(getpid()) + "-";
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path())) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

std::string Nonce() {
  std::random_device rd;
  char buf[17];
  snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

TEST(PalaciosBootIso, CommandLineRegionIsWrittenOnceAndChecked) {
  std::string iso = "head " + std::string(kCmdlinePlaceholder);
  iso.resize(5 + kCmdlineRegion, ' ');
  iso += "\ntail";
  std::string copy = iso;
  SetCommandLine(copy, "console=ttyS0 ezone.nonce=abc");
  EXPECT_EQ(copy.size(), iso.size());
  EXPECT_EQ(copy.substr(0, 34), "head console=ttyS0 ezone.nonce=abc");
  EXPECT_EQ(copy.substr(copy.size() - 6), " \ntail");
  EXPECT_THROW(SetCommandLine(copy, "again"), std::runtime_error) << "placeholder is gone";

  copy = iso;
  EXPECT_THROW(SetCommandLine(copy, std::string(kCmdlineRegion + 1, 'x')), std::invalid_argument);
  EXPECT_THROW(SetCommandLine(copy, "a\nb"), std::invalid_argument);
  EXPECT_NO_THROW(SetCommandLine(copy, std::string(kCmdlineRegion, 'x')));
  std::string twice = iso + iso;
  EXPECT_THROW(SetCommandLine(twice, "x"), std::runtime_error);
}

TEST(PalaciosBootIso, Sha256IsSha256) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Boots the ISO under QEMU TCG and waits for READY <nonce> on ttyS1.
TEST(PalaciosBootIso, IsoBootsUnderQemuToAgentReady) {
  std::string why;
  std::optional<IsoTools> tools = FindIsoTools(&why);
  ASSERT_TRUE(tools) << why << " (apt-get install xorriso isolinux syslinux-common)";
  std::vector<std::string> temp_before = OurTempDirs();
  TempDir work("iso-test");
  fs::path cache = work.path() / "cache";

  fs::path iso_path = CachedBootIso(*tools, Kernel(), Initramfs(), cache);
  ASSERT_TRUE(fs::is_regular_file(iso_path));
  auto built = fs::last_write_time(iso_path);
  EXPECT_EQ(CachedBootIso(*tools, Kernel(), Initramfs(), cache), iso_path) << "not cached";
  EXPECT_EQ(fs::last_write_time(iso_path), built) << "rebuilt although cached";
  std::vector<std::string> temp_after = OurTempDirs();
  temp_after.erase(std::remove(temp_after.begin(), temp_after.end(), work.path().string()),
                   temp_after.end());
  EXPECT_EQ(temp_after, temp_before) << "the ISO build left a temp dir";

  std::string nonce = Nonce();
  std::string cmdline = "console=ttyS0 ezone.nonce=" + nonce + " ezone.hb_ms=100 panic=-1";
  std::string iso;
  {
    std::ifstream in(iso_path, std::ios::binary);
    iso.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  SetCommandLine(iso, cmdline);
  fs::path boot = work.path() / "boot.iso";
  std::ofstream(boot, std::ios::binary).write(iso.data(), static_cast<std::streamsize>(iso.size()));

  // ttyS0 and ttyS1 as the qemu plugin wires them: socketpairs as fds 3, 4.
  int console[2], control[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control), 0);
  pid_t parent = getpid();
  pid_t qemu = fork();
  ASSERT_GE(qemu, 0);
  if (qemu == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(console[1], 3);
    dup2(control[1], 4);
    execlp("qemu-system-x86_64", "qemu-system-x86_64", "-nodefaults", "-no-user-config",
           "-display", "none", "-machine", "q35,accel=tcg", "-m", "256", "-no-reboot",
           "-cdrom", boot.c_str(), "-boot", "d", "-chardev", "socket,id=console,fd=3", "-serial",
           "chardev:console", "-chardev", "socket,id=control,fd=4", "-serial", "chardev:control",
           static_cast<char*>(nullptr));
    _exit(127);
  }
  close(console[1]);
  close(control[1]);

  std::string console_text, control_text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{console[0], POLLIN, 0}, {control[0], POLLIN, 0}};
    if (poll(fds, 2, 500) <= 0) continue;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        deadline = std::chrono::steady_clock::now();  // qemu went away
        continue;
      }
      (i == 0 ? console_text : control_text).append(buf, static_cast<size_t>(n));
    }
    ready = control_text.find("READY " + nonce + " ") != std::string::npos;
  }
  kill(qemu, SIGKILL);
  waitpid(qemu, nullptr, 0);
  close(console[0]);
  close(control[0]);

  EXPECT_TRUE(ready) << "no READY " << nonce << " on ttyS1; ttyS1: " << control_text
                     << "\nttyS0 tail: "
                     << console_text.substr(console_text.size() > 3000 ? console_text.size() - 3000 : 0);
  // ISOLINUX, not -kernel, booted it: it names the image it loaded.
  EXPECT_NE(console_text.find("BOOT_IMAGE=/boot/vmlinuz " + cmdline), std::string::npos)
      << console_text.substr(0, 3000);
}

}  // namespace
}  // namespace ezone::palacios
