// The xen plugin's domain XML (plugins/vmm-kvm/kvm_domain.cc,
// BuildXenDomainXml): a PVH domU for libvirt's libxl driver, booted
// directly, with Xen's PV console as its one character device (kernel
// console and agent share it), destroyed on crash, reboot and poweroff.
// Pure: no libvirtd needed.
#include <gtest/gtest.h>

#include <pugixml.hpp>
#include <string>

#include "kvm_domain.h"

namespace {

using ezone::kvm::BuildDomainXml;
using ezone::kvm::DomainConfig;

TEST(XenDomainXml, PvhDomUWithOnePvConsole) {
  DomainConfig c;
  c.name = "ezone-1-abc-victim";
  c.domain_type = "xen";
  c.machine = "";
  c.kernel = "/ezone/guest/vmlinuz";
  c.initrd = "/ezone/guest/initramfs.cpio.gz";
  c.cmdline = "console=ttyS0 ezone.nonce=abc console=hvc0 ezone.ctl=hvc0";
  c.memory_mib = 256;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(BuildDomainXml(c).c_str()));
  pugi::xml_node domain = doc.child("domain");
  EXPECT_STREQ(domain.attribute("type").value(), "xen");
  EXPECT_STREQ(domain.child("os").child_value("type"), "xenpvh");
  EXPECT_STREQ(domain.child("os").child("type").attribute("machine").value(), "xenpvh");
  EXPECT_STREQ(domain.child("os").child_value("kernel"), "/ezone/guest/vmlinuz");
  EXPECT_STREQ(domain.child("os").child_value("cmdline"), c.cmdline.c_str());
  for (const char* when : {"on_crash", "on_reboot", "on_poweroff"}) {
    EXPECT_STREQ(domain.child_value(when), "destroy") << when;
  }
  pugi::xml_node devices = domain.child("devices");
  EXPECT_FALSE(devices.child("serial")) << "libvirt 9.0's libxl driver: no serial on PVH";
  EXPECT_FALSE(devices.child("panic")) << "libxl has no pvpanic";
  pugi::xml_node console = devices.child("console");
  ASSERT_TRUE(console);
  EXPECT_STREQ(console.attribute("type").value(), "pty");
  EXPECT_STREQ(console.child("target").attribute("type").value(), "xen");
  EXPECT_FALSE(console.next_sibling("console"));
}

TEST(XenDomainXml, KvmDomainsUnchanged) {
  DomainConfig c;
  c.name = "k";
  c.domain_type = "kvm";
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(BuildDomainXml(c).c_str()));
  int serials = 0;
  for (pugi::xml_node s : doc.child("domain").child("devices").children("serial")) {
    (void)s;
    ++serials;
  }
  EXPECT_EQ(serials, 2);
  EXPECT_STREQ(doc.child("domain").child("os").child_value("type"), "hvm");
}

}  // namespace
