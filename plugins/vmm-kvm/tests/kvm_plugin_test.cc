// The kvm plugin against the real libvirtd, without the core: its probe's
// answers (daemon missing, bad URI, domain types, the functional boot probe
// and its bound) and its domain XML, checked by libvirt's own parser.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <pugixml.hpp>

#include "kvm_test_util.h"

namespace ezone::kvm {
namespace {

namespace fs = std::filesystem;
using testing::LoadedPlugin;

const LoadedPlugin& Plugin() {
  static LoadedPlugin plugin;
  return plugin;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(KvmPluginTest, LoadsAsTheCoreLoadsIt) {
  ASSERT_NE(Plugin().descriptor(), nullptr) << dlerror();
  EXPECT_STREQ(Plugin().descriptor()->name, "kvm");
  EXPECT_EQ(Plugin().descriptor()->kind, EZONE_KIND_VMM);
}

TEST(KvmPluginTest, LibvirtdNotRunningIsDeclinedNamingIt) {
  ASSERT_NE(Plugin().descriptor(), nullptr);
  // A socket that does not exist stands for a daemon that does not run; the
  // real daemon is left alone.
  std::string msg;
  ezone_status status =
      Plugin().Probe("uri=qemu:///system?socket=/nonexistent/sock;domain_type=qemu", &msg);
  EXPECT_EQ(status, EZONE_DECLINED) << msg;
  EXPECT_TRUE(Contains(msg, "libvirtd not reachable at qemu:///system?socket=/nonexistent/sock"))
      << msg;
  EXPECT_TRUE(Contains(msg, "/nonexistent/sock")) << msg;
  EXPECT_TRUE(Contains(msg, "start it with")) << msg;
}

TEST(KvmPluginTest, BadUriIsAnErrorNamingTheUri) {
  ASSERT_NE(Plugin().descriptor(), nullptr);
  for (const char* uri : {"nosuchdriver:///system", "qemu:///bogus", "not a uri"}) {
    std::string msg;
    EXPECT_EQ(Plugin().Probe(std::string("uri=") + uri, &msg), EZONE_FAILED) << uri << ": " << msg;
    EXPECT_TRUE(Contains(msg, std::string("bad libvirt URI '") + uri + "'")) << msg;
  }
}

TEST(KvmPluginTest, BadDomainTypeIsAnError) {
  ASSERT_NE(Plugin().descriptor(), nullptr);
  std::string msg;
  EXPECT_EQ(Plugin().Probe("domain_type=xen", &msg), EZONE_FAILED);
  EXPECT_TRUE(Contains(msg, "domain_type must be kvm or qemu")) << msg;
}

TEST(KvmPluginTest, UriParsing) {
  EXPECT_TRUE(IsLocalUri("qemu:///system"));
  EXPECT_TRUE(IsLocalUri("qemu:///system?socket=/x"));
  EXPECT_TRUE(IsLocalUri("qemu+unix:///system"));
  EXPECT_FALSE(IsLocalUri("qemu+ssh://node/system"));
  EXPECT_FALSE(IsLocalUri("qemu+tcp://node:16509/system"));
  EXPECT_FALSE(IsLocalUri("nonsense"));
}

TEST(KvmPluginTest, TcgDomainTypeIsOfferedByTheRealDaemon) {
  EZONE_REQUIRE_LIBVIRTD(c);
  virConnectClose(c.conn);
  std::string msg;
  EXPECT_EQ(Plugin().Probe("domain_type=qemu", &msg), EZONE_OK) << msg;
}

// The kvm rows: either KVM works here, or the probe declines with a reason
// that names KVM, and within its bound (never a hang, never a failure).
TEST(KvmPluginTest, KvmProbeAnswersWithinItsBound) {
  EZONE_REQUIRE_LIBVIRTD(c);
  virConnectClose(c.conn);
  fs::path cache = fs::path(EZONE_TEST_WORK_DIR) / "probe-cache-kvm";
  fs::remove_all(cache);
  fs::create_directories(cache);
  setenv("EZONE_KVM_PROBE_CACHE_DIR", cache.c_str(), 1);
  std::string msg;
  auto start = std::chrono::steady_clock::now();
  ezone_status status = Plugin().Probe("probe_timeout=10", &msg);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  unsetenv("EZONE_KVM_PROBE_CACHE_DIR");
  fs::remove_all(cache);
  EXPECT_LT(s, 30.0) << msg;
  if (status == EZONE_OK) return;  // a host with working KVM
  EXPECT_EQ(status, EZONE_DECLINED) << msg;
  EXPECT_TRUE(Contains(msg, "kvm") || Contains(msg, "KVM")) << msg;
  EXPECT_TRUE(Contains(msg, "/dev/kvm")) << msg;
}

// The functional probe both ways, with the TCG domain type standing in for a
// KVM that boots (generous bound) and one that hangs (a bound too short for
// any boot): the second must decline in time, with the reason the kvm rows
// get on kvm_pvm hosts, and cache it for other processes.
TEST(KvmPluginTest, FunctionalProbeBootsAGuestAndDeclinesAHungOne) {
  EZONE_REQUIRE_LIBVIRTD(c);
  fs::path cache = fs::path(EZONE_TEST_WORK_DIR) / "probe-cache-tcg";
  fs::remove_all(cache);
  fs::create_directories(cache);
  setenv("EZONE_KVM_PROBE_CACHE_DIR", cache.c_str(), 1);
  setenv("EZONE_GUEST_DIR", EZONE_TEST_GUEST_DIR, 1);

  std::string msg;
  EXPECT_EQ(Plugin().Probe("domain_type=qemu;probe_boot=1;probe_timeout=60", &msg), EZONE_OK) << msg;

  auto start = std::chrono::steady_clock::now();
  ezone_status hung = Plugin().Probe("domain_type=qemu;probe_boot=1;probe_timeout=1", &msg);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(hung, EZONE_DECLINED) << msg;
  EXPECT_TRUE(Contains(msg, "probe guest did not reach READY in 1 s")) << msg;
  EXPECT_LT(s, 15.0);

  // The second ask in this process is answered from memory, at once.
  start = std::chrono::steady_clock::now();
  std::string again;
  EXPECT_EQ(Plugin().Probe("domain_type=qemu;probe_boot=1;probe_timeout=1", &again), EZONE_DECLINED);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
  // Other processes find the answer in the cache file.
  int declined_files = 0;
  for (const auto& e : fs::directory_iterator(cache)) {
    std::ifstream in(e.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    declined_files += Contains(text, "\ndeclined\nno working qemu domain");
  }
  EXPECT_EQ(declined_files, 1);

  unsetenv("EZONE_KVM_PROBE_CACHE_DIR");
  unsetenv("EZONE_GUEST_DIR");
  fs::remove_all(cache);
  // The probe guests are gone.
  EXPECT_TRUE(testing::DomainsNamed(c.conn, "ezone-" + std::to_string(getpid()) + "-").empty());
  virConnectClose(c.conn);
}

DomainConfig SampleConfig(const std::string& type) {
  DomainConfig config;
  config.name = "ezone-" + std::to_string(getpid()) + "-xmltest-" + type;
  config.domain_type = type;
  config.kernel = std::string(EZONE_TEST_GUEST_DIR) + "/vmlinuz";
  config.initrd = std::string(EZONE_TEST_GUEST_DIR) + "/initramfs.cpio.gz";
  config.cmdline = "console=ttyS0 ezone.nonce=0123456789abcdef ezone.hb_ms=100 panic=-1";
  return config;
}

TEST(KvmDomainXmlTest, HasWhatTheGuestNeedsAndNothingElse) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(BuildDomainXml(SampleConfig("kvm")).c_str()));
  pugi::xml_node d = doc.child("domain");
  EXPECT_STREQ(d.attribute("type").value(), "kvm");
  EXPECT_STREQ(d.child("os").child("type").attribute("machine").value(), "q35");
  EXPECT_TRUE(Contains(d.child("os").child_value("kernel"), "vmlinuz"));
  EXPECT_TRUE(Contains(d.child("os").child_value("initrd"), "initramfs"));
  EXPECT_TRUE(Contains(d.child("os").child_value("cmdline"), "ezone.nonce=0123456789abcdef"));
  EXPECT_STREQ(d.child_value("on_crash"), "destroy");
  EXPECT_TRUE(d.child("features").child("acpi"));  // pvpanic is found through ACPI
  EXPECT_STREQ(d.child("cpu").attribute("mode").value(), "host-passthrough");
  pugi::xml_node devices = d.child("devices");
  EXPECT_STREQ(devices.child("panic").attribute("model").value(), "isa");
  EXPECT_EQ(doc.select_nodes("/domain/devices/serial").size(), 2u);
  EXPECT_FALSE(devices.child("disk"));
  EXPECT_FALSE(devices.child("interface"));
}

TEST(KvmDomainXmlTest, ValidForVirtXmlValidate) {
  fs::path dir = fs::path(EZONE_TEST_WORK_DIR) / "xml";
  fs::create_directories(dir);
  for (const char* type : {"kvm", "qemu"}) {
    fs::path file = dir / (std::string(type) + ".xml");
    std::ofstream(file) << BuildDomainXml(SampleConfig(type));
    std::string cmd = "virt-xml-validate " + file.string() + " domain 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << type << ": " << out;
  }
  fs::remove_all(dir);
}

// EZONE_CAP_ADOPT: create() with restore_from "running:<name>" takes over a
// paused domain (the nested host's saved victim), resumes it and ends it at
// destroy(); a running domain or an unknown name is refused, naming it.
TEST(KvmPluginTest, AdoptsOnlyAPausedDomainByNameAndEndsItAtDestroy) {
  EZONE_REQUIRE_LIBVIRTD(c);
  ASSERT_NE(Plugin().descriptor()->capabilities & EZONE_CAP_ADOPT, 0u);
  const ezone_vmm_ops* ops = Plugin().descriptor()->vmm;
  ezone_vm_sink sink = {nullptr, [](void*, const char*, size_t) {},
                        [](void*, const char*, size_t) {},
                        [](void*, ezone_vm_event, const char*) {}};
  auto adopt = [&](const std::string& name, void** vm, std::string* message) {
    const std::string from = "running:" + name;  // no kernel: nothing boots
    const ezone_guest_spec spec = {.struct_size = sizeof(ezone_guest_spec), .kernel = "",
                                   .initramfs = "", .cmdline = "", .memory_mib = 256,
                                   .vcpus = 1, .role = "victim", .options = "domain_type=qemu",
                                   .restore_from = from.c_str()};
    char msg[1024] = {0};
    ezone_status status = ops->create(&spec, &sink, vm, msg, sizeof msg);
    *message = msg;
    return status;
  };
  auto start = [&](const std::string& suffix, unsigned int flags) {
    DomainConfig config = SampleConfig("qemu");
    config.name += suffix;
    virDomainPtr dom = virDomainCreateXML(c.conn, BuildDomainXml(config).c_str(), flags);
    EXPECT_NE(dom, nullptr) << LastError();
    return std::make_pair(config.name, dom);
  };

  auto [paused_name, paused] = start("-paused", VIR_DOMAIN_START_PAUSED);
  ASSERT_NE(paused, nullptr);
  void* vm = nullptr;
  std::string msg;
  ASSERT_EQ(adopt(paused_name, &vm, &msg), EZONE_OK) << msg;
  int state = 0, reason = 0;
  ASSERT_EQ(virDomainGetState(paused, &state, &reason, 0), 0) << LastError();
  EXPECT_EQ(state, VIR_DOMAIN_RUNNING);  // resumed once its consoles were attached
  ops->destroy(vm);
  EXPECT_TRUE(testing::DomainsNamed(c.conn, paused_name).empty());
  virDomainFree(paused);

  auto [running_name, running] = start("-running", 0);
  ASSERT_NE(running, nullptr);
  vm = nullptr;
  EXPECT_EQ(adopt(running_name, &vm, &msg), EZONE_FAILED);
  EXPECT_TRUE(Contains(msg, running_name) && Contains(msg, "not paused")) << msg;
  EXPECT_EQ(vm, nullptr);
  virDomainDestroy(running);
  virDomainFree(running);

  EXPECT_EQ(adopt("ezone-no-such-domain", &vm, &msg), EZONE_FAILED);
  EXPECT_TRUE(Contains(msg, "no domain ezone-no-such-domain")) << msg;
  EXPECT_TRUE(testing::DomainsNamed(c.conn, "ezone-" + std::to_string(getpid()) + "-").empty());
  virConnectClose(c.conn);
}

// libvirt's own parser, in the real daemon: define, read back, undefine.
TEST(KvmDomainXmlTest, AcceptedByTheRealDaemon) {
  EZONE_REQUIRE_LIBVIRTD(c);
  DomainConfig config = SampleConfig("qemu");
  virDomainPtr dom = virDomainDefineXMLFlags(c.conn, BuildDomainXml(config).c_str(),
                                             VIR_DOMAIN_DEFINE_VALIDATE);
  ASSERT_NE(dom, nullptr) << LastError();
  char* back = virDomainGetXMLDesc(dom, 0);
  std::string xml = back ? back : "";
  free(back);
  EXPECT_EQ(virDomainUndefine(dom), 0) << LastError();
  virDomainFree(dom);
  EXPECT_TRUE(Contains(xml, "<panic model='isa'")) << xml;
  EXPECT_TRUE(Contains(xml, "<on_crash>destroy</on_crash>")) << xml;
  EXPECT_TRUE(testing::DomainsNamed(c.conn, config.name).empty());
  virConnectClose(c.conn);
}

}  // namespace
}  // namespace ezone::kvm
