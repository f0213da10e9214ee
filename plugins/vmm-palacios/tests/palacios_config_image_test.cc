// The guest configuration XML and the packed image, read back by the tests'
// own reader.
#include <gtest/gtest.h>

#include <pugixml.hpp>
#include <set>
#include <string>
#include <tuple>

#include "image_reader.h"
#include "palacios_config.h"
#include "palacios_image.h"

namespace ezone::palacios {
namespace {

pugi::xml_node DeviceOf(const pugi::xml_document& doc, const std::string& cls, const std::string& id) {
  return doc.select_node(("/vm/devices/device[@class='" + cls + "' and @id='" + id + "']").c_str()).node();
}

TEST(PalaciosConfig, XmlIsWellFormedAndHasTheDevices) {
  GuestConfig c;
  c.memory_mib = 512;
  c.cores = 2;
  std::string xml = BuildConfigXml(c);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str())) << xml;
  EXPECT_EQ(xml.find("<?xml"), std::string::npos) << "Palacios's parser wants <vm> first";

  pugi::xml_node vm = doc.child("vm");
  EXPECT_STREQ(vm.attribute("class").value(), "PC");
  EXPECT_STREQ(vm.child_value("memory"), "512");
  EXPECT_STREQ(vm.child("paging").attribute("mode").value(), "nested");
  EXPECT_EQ(vm.child("cores").attribute("count").as_uint(), 2u);
  EXPECT_EQ(vm.select_nodes("cores/core").size(), 2u);

  pugi::xml_node file = vm.child("files").child("file");
  EXPECT_STREQ(file.attribute("id").value(), kBootFileId);
  EXPECT_STREQ(file.attribute("index").value(), "0");

  ASSERT_TRUE(DeviceOf(doc, "SERIAL", "serial"));
  for (auto [id, name, port] : {std::tuple{"stream-com1", "com1", "1"}, {"stream-com2", "com2", "2"}}) {
    pugi::xml_node s = DeviceOf(doc, "CHAR_STREAM", id);
    ASSERT_TRUE(s) << id;
    EXPECT_STREQ(s.attribute("name").value(), name);
    EXPECT_STREQ(s.child("frontend").attribute("tag").value(), "serial");
    EXPECT_STREQ(s.child("frontend").attribute("com_port").value(), port);
  }
  EXPECT_STREQ(kConsoleStream, "com1");
  EXPECT_STREQ(kControlStream, "com2");

  pugi::xml_node ide = DeviceOf(doc, "IDE", "ide0");
  ASSERT_TRUE(ide);
  EXPECT_STREQ(ide.child_value("controller"), "southbridge");
  pugi::xml_node cd = DeviceOf(doc, "RAMDISK", "ide0-cd0");
  ASSERT_TRUE(cd);
  EXPECT_STREQ(cd.child_value("file"), kBootFileId);
  EXPECT_STREQ(cd.child("frontend").attribute("tag").value(), "ide0");
  EXPECT_STREQ(cd.child("frontend").child_value("type"), "CDROM");
  for (const char* cls : {"8259A", "LAPIC", "IOAPIC", "PCI", "i440FX", "PIIX3", "MPTABLE",
                          "8254_PIT", "KEYBOARD", "NVRAM", "GENERIC"}) {
    EXPECT_TRUE(doc.select_node(("/vm/devices/device[@class='" + std::string(cls) + "']").c_str()))
        << cls;
  }
  // Every device id is unique (Palacios registers devices by id).
  std::set<std::string> ids;
  for (auto d : doc.select_nodes("/vm/devices/device")) {
    EXPECT_TRUE(ids.insert(d.node().attribute("id").value()).second) << d.node().attribute("id").value();
  }
}

TEST(PalaciosConfig, ShadowPagingIsAnOption) {
  GuestConfig c;
  c.paging = "shadow";
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(BuildConfigXml(c).c_str()));
  EXPECT_STREQ(doc.child("vm").child("paging").attribute("mode").value(), "shadow");
  EXPECT_STREQ(doc.child("vm").child("paging").child_value("strategy"), "VTLB");
}

TEST(PalaciosConfig, RejectsWhatPalaciosWouldNot) {
  GuestConfig c;
  c.paging = "ept";
  EXPECT_THROW(BuildConfigXml(c), std::invalid_argument);
  c.paging = "nested";
  c.cores = 0;
  EXPECT_THROW(BuildConfigXml(c), std::invalid_argument);
}

TEST(PalaciosImage, V3HashMatchesPalaciosValues) {
  // Computed by hand from Palacios's v3_hash_buffer.
  EXPECT_EQ(V3Hash(""), 0u);
  EXPECT_EQ(V3Hash("a"), 0x61u);
  EXPECT_EQ(V3Hash("ab"), 0x673u);  // (0x61 << 4) + 0x62 + 1
  EXPECT_EQ(V3Hash("com1"), 0x6a724u);
  std::string buf(1 << 20, '\0');
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>((i * 7 + 3) & 0xff);
  EXPECT_EQ(V3Hash(buf), 0x289cc5bu);  // folds bits 28..31 many times
}

TEST(PalaciosImage, PackedImageParsesBackWithCorrectHashes) {
  std::string xml = BuildConfigXml(GuestConfig{});
  std::string iso(70000, '\0');
  for (size_t i = 0; i < iso.size(); ++i) iso[i] = static_cast<char>(i * 31);
  std::string second = "a second file";
  std::string image = PackImage(xml, {iso, second});

  testing::ReadImage r = testing::ReadPackedImage(image);  // throws on a bad field
  EXPECT_EQ(image.substr(0, 8), std::string("v3vee\0\0\1", 8));
  EXPECT_EQ(r.xml, xml);
  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_EQ(r.files[0].data, iso);
  EXPECT_EQ(r.files[0].hash, V3Hash(iso));
  EXPECT_EQ(r.files[0].offset, 8 + 4 + xml.size() + 8 + 8 + 2 * 24 + 8);
  EXPECT_EQ(r.files[1].data, second);
  EXPECT_EQ(r.files[1].offset, r.files[0].offset + iso.size());
  EXPECT_EQ(r.end, image.size()) << "no padding after the last file";
}

TEST(PalaciosImage, CorruptedFileIsCaughtByTheHash) {
  std::string image = PackImage("<vm/>", {"boot data"});
  image[image.size() - 1] ^= 1;
  EXPECT_THROW(testing::ReadPackedImage(image), std::runtime_error);
}

TEST(PalaciosImage, NoFilesStillHasBothZeroFields) {
  std::string image = PackImage("<vm/>", {});
  EXPECT_EQ(image.size(), 8u + 4 + 5 + 8 + 8 + 8);
  EXPECT_TRUE(testing::ReadPackedImage(image).files.empty());
}

}  // namespace
}  // namespace ezone::palacios
