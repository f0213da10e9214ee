// Snapshot mode on the kvm plugin (libvirt save/restore): the saved image's
// XML rewrite, without libvirtd; then real checks through the `ezone` binary
// with domain_type=qemu (kvm-libvirt-tcg): every restored check sees its
// own fresh crash, the state is made once, and nothing is left behind, not
// even when the runner is killed (restored domains cannot be auto-destroyed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <set>
#include <thread>

#include "ezone_test_support.h"
#include "kvm_domain.h"
#include "kvm_test_util.h"

namespace ezone::kvm {
namespace {

namespace fs = std::filesystem;

using testing_support::CommandResult;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void Put32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }

// A save image as libvirt writes it: header, XML, NUL, cookie, NUL,
// padding, then the migration stream.
std::string FakeSaveImage(const std::string& xml, const std::string& cookie,
                          const std::string& stream, uint32_t data_len) {
  std::string data = xml + '\0';
  uint32_t cookie_offset = static_cast<uint32_t>(data.size());
  data += cookie + '\0';
  data.resize(data_len, '\0');
  std::string img = "LibvirtQemudSave";
  Put32(&img, 2);
  Put32(&img, data_len);
  Put32(&img, 1);  // was_running
  Put32(&img, 0);  // compressed
  Put32(&img, cookie_offset);
  for (int i = 0; i < 14; ++i) Put32(&img, 0);
  return img + data + stream;
}

TEST(KvmSnapshotImageTest, RenamesTheDomainDropsItsUuidAndKeepsCookieAndStream) {
  fs::path dir = testing_support::FreshDir(EZONE_TEST_WORK_DIR, "snapshot-image");
  std::string xml =
      "<domain type='qemu'>\n  <name>ezone-1-aaaa-template</name>\n"
      "  <uuid>d598d13b-144d-489a-a919-c592a0c8d502</uuid>\n"
      "  <os><cmdline>ezone.nonce=aaaa</cmdline></os>\n</domain>\n";
  std::string cookie = "<cookie>\n  <slirpHelper/>\n</cookie>\n";
  std::string stream(300000, 'Q');
  for (size_t i = 0; i < stream.size(); i += 4099) stream[i] = static_cast<char>(i);
  std::ofstream(dir / "in.save", std::ios::binary) << FakeSaveImage(xml, cookie, stream, 4096);

  int out = open((dir / "out.save").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(out, 0);
  CopySaveImageRenamed((dir / "in.save").string(), out, "ezone-2-bbbb-victim");
  close(out);

  std::string img = ReadAll(dir / "out.save");
  ASSERT_EQ(img.size(), 92u + 4096u + stream.size()) << "same layout, same size";
  EXPECT_EQ(img.substr(0, 16), "LibvirtQemudSave");
  EXPECT_EQ(img.substr(img.size() - stream.size()), stream) << "the stream is copied as it is";
  std::string renamed = SaveImageXml((dir / "out.save").string());
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(renamed.c_str())) << renamed;
  EXPECT_STREQ(doc.child("domain").child_value("name"), "ezone-2-bbbb-victim");
  EXPECT_FALSE(doc.child("domain").child("uuid")) << "libvirt makes a fresh uuid";
  EXPECT_STREQ(doc.child("domain").child("os").child_value("cmdline"), "ezone.nonce=aaaa");
  uint32_t cookie_offset;
  std::memcpy(&cookie_offset, img.data() + 32, 4);
  ASSERT_LT(cookie_offset, 4096u);
  EXPECT_EQ(std::string(img.data() + 92 + cookie_offset), cookie);

  // Not a save image (or a partial one): an error naming the file.
  std::ofstream(dir / "bad.save") << "LibvirtQemudPart";
  try {
    SaveImageXml((dir / "bad.save").string());
    ADD_FAILURE() << "a partial image was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(Contains(e.what(), "bad.save")) << e.what();
  }
  fs::remove_all(dir);
}

// Files in the cache other than the saved state and its lock.
std::vector<std::string> StrayFiles(const fs::path& cache) {
  std::vector<std::string> stray;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(cache, ec)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename();
    if (!name.ends_with(".vmstate") && !name.ends_with(".vmstate.lock")) stray.push_back(name);
  }
  return stray;
}

TEST(KvmSnapshotTest, EveryRestoredCheckSeesItsOwnFreshCrashAndTheStateIsMadeOnce) {
  EZONE_REQUIRE_LIBVIRTD(c);
  fs::path dir = testing_support::FreshDir(EZONE_TEST_WORK_DIR, "snapshot");
  fs::path cache = dir / "cache";
  fs::path suite = dir / "snapshot.xml";
  // A witness beside the victim: two restored domains of one state at once.
  std::ofstream(suite) << R"(<?xml version="1.0" encoding="UTF-8"?>
<suite name="kvmsnapshot" observe-timeout="30s">
  <check name="Restored" vmm="kvm" vmm-options="domain_type=qemu" vmm-label="kvm-libvirt-tcg"
         fault="kerncrash" variant="divzero" mode="snapshot" witness="true" repeat="3"/>
</suite>
)";
  CommandResult r = testing_support::RunCommand("EZONE_CACHE_DIR=" + cache.string() + " " +
                                                EZONE_EXE + " run " + suite.string() +
                                                " --report-dir " + (dir / "report").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "report" / "junit.xml").c_str())) << r.output;
  int prepared = 0;
  std::set<std::string> names;
  for (int i = 1; i <= 3; ++i) {
    std::string id = "kvm_libvirt_tcg_kerncrash_divzero_" + std::to_string(i);
    pugi::xml_node tc = doc.select_node(("//testcase[@name='" + id + "']").c_str()).node();
    ASSERT_TRUE(tc) << r.output;
    EXPECT_FALSE(tc.child("failure") || tc.child("error") || tc.child("skipped")) << r.output;
    std::string out = tc.child_value("system-out");
    EXPECT_TRUE(Contains(out, "mode=snapshot")) << out;
    EXPECT_TRUE(Contains(out, "domain type qemu (TCG)")) << out;
    // Each check saw its own crash, through the console and libvirt's event.
    EXPECT_TRUE(Contains(out, "divide error: 0000")) << out;
    EXPECT_TRUE(Contains(out, "libvirt lifecycle event: domain crashed: panicked")) << out;
    prepared += Contains(out, "snapshot_prepared_ms=");
    names.insert(testing_support::NonceIn(out));
  }
  EXPECT_EQ(prepared, 1) << "the saved state is made once and reused";
  EXPECT_EQ(names.size(), 3u) << "every check ran under its own nonce (its domain's name)";
  EXPECT_TRUE(testing::DomainsNamed(c.conn, "ezone-").empty()) << "a domain was left behind";
  EXPECT_TRUE(StrayFiles(cache).empty()) << StrayFiles(cache)[0];
  virConnectClose(c.conn);
  fs::remove_all(dir);
}

TEST(KvmSnapshotTest, KilledRunnerLeavesNoRestoredDomainBehind) {
  EZONE_REQUIRE_LIBVIRTD(c);
  fs::path dir = testing_support::FreshDir(EZONE_TEST_WORK_DIR, "snapshot-killed");
  fs::path cache = dir / "cache";
  fs::path suite = dir / "killed.xml";
  std::ofstream(suite) << R"(<?xml version="1.0" encoding="UTF-8"?>
<suite name="kvmsnapkilled" boot-timeout="60s" observe-timeout="10m">
  <check name="KilledRunner" vmm="kvm" vmm-options="domain_type=qemu" vmm-label="kvm-libvirt-tcg"
         fault="kerncrash" variant="divzero" fault-options="delay_ms=600000" mode="snapshot"/>
</suite>
)";
  setenv("EZONE_CACHE_DIR", cache.c_str(), 1);
  testing_support::Runner r = testing_support::StartEzone(
      EZONE_EXE, {suite, "--report-dir", (dir / "report").string()});
  unsetenv("EZONE_CACHE_DIR");
  auto [text, vmm_pid, prefix, running] = testing::KillWhileObserving(r, c.conn);
  ASSERT_EQ(running.size(), 1u) << "the restored domain should run now: " << text;
  EXPECT_TRUE(Contains(text, "restored and answering")) << text;

  // The watcher destroys it: restore has no AUTODESTROY.
  EXPECT_TRUE(testing::DomainsGoneWithin15s(c.conn, prefix, vmm_pid))
      << "restored domain " << running[0] << " (qemu pid " << vmm_pid
      << ") survived its killed runner";
  std::error_code ec;
  fs::remove("/var/log/libvirt/qemu/" + running[0] + ".log", ec);
  virConnectClose(c.conn);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ezone::kvm
