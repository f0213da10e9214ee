#include "palacios_config.h"

#include <pugixml.hpp>
#include <sstream>
#include <stdexcept>

namespace ezone::palacios {

namespace {

pugi::xml_node Device(pugi::xml_node devices, const char* cls, const char* id) {
  pugi::xml_node d = devices.append_child("device");
  d.append_attribute("class") = cls;
  d.append_attribute("id") = id;
  return d;
}

void Text(pugi::xml_node parent, const char* name, const std::string& value) {
  parent.append_child(name).text() = value.c_str();
}

// One serial port as a stream: Palacios's CHAR_STREAM backend, frontend the
// SERIAL device's port number (1-based).
void SerialStream(pugi::xml_node devices, const char* id, const char* name, int port) {
  pugi::xml_node s = Device(devices, "CHAR_STREAM", id);
  s.append_attribute("name") = name;
  pugi::xml_node f = s.append_child("frontend");
  f.append_attribute("tag") = "serial";
  f.append_attribute("com_port") = port;
}

// DMA and ISA PnP ports Linux touches and Palacios does not emulate.
void IgnoredPorts(pugi::xml_node generic, const char* start, const char* end) {
  pugi::xml_node p = generic.append_child("ports");
  Text(p, "start", start);
  Text(p, "end", end);
  Text(p, "mode", "PRINT_AND_IGNORE");
}

}  // namespace

std::string BuildConfigXml(const GuestConfig& config) {
  if (config.paging != "nested" && config.paging != "shadow") {
    throw std::invalid_argument("paging=" + config.paging + ": Palacios knows nested or shadow");
  }
  if (config.memory_mib == 0 || config.cores == 0) {
    throw std::invalid_argument("a Palacios guest needs memory and at least one core");
  }
  pugi::xml_document doc;
  pugi::xml_node vm = doc.append_child("vm");
  vm.append_attribute("class") = "PC";

  // index is what v3_create -b adds; the kernel finds the file data by it.
  pugi::xml_node file = vm.append_child("files").append_child("file");
  file.append_attribute("id") = kBootFileId;
  file.append_attribute("filename") = "ezone-boot.iso";
  file.append_attribute("index") = 0;

  Text(vm, "memory", std::to_string(config.memory_mib));  // MiB
  pugi::xml_node paging = vm.append_child("paging");
  paging.append_attribute("mode") = config.paging.c_str();
  Text(paging, "large_pages", "false");
  if (config.paging == "shadow") Text(paging, "strategy", "VTLB");
  Text(vm, "schedule_hz", "100");
  pugi::xml_node cores = vm.append_child("cores");
  cores.append_attribute("count") = config.cores;
  for (uint32_t i = 0; i < config.cores; ++i) cores.append_child("core");

  pugi::xml_node devices = vm.append_child("devices");
  Device(devices, "8259A", "PIC");
  Device(devices, "LAPIC", "apic");
  Text(Device(devices, "IOAPIC", "ioapic"), "apic", "apic");
  Device(devices, "PCI", "pci0");
  Text(Device(devices, "i440FX", "northbridge"), "bus", "pci0");
  Text(Device(devices, "PIIX3", "southbridge"), "bus", "pci0");
  Device(devices, "MPTABLE", "mptable");
  Device(devices, "8254_PIT", "PIT");
  Device(devices, "KEYBOARD", "keyboard");  // also the reset line (port 0x64)

  Device(devices, "SERIAL", "serial");
  SerialStream(devices, "stream-com1", kConsoleStream, 1);  // ttyS0
  SerialStream(devices, "stream-com2", kControlStream, 2);  // ttyS1

  pugi::xml_node ide = Device(devices, "IDE", "ide0");
  Text(ide, "bus", "pci0");
  Text(ide, "controller", "southbridge");
  pugi::xml_node cd = Device(devices, "RAMDISK", "ide0-cd0");
  Text(cd, "file", kBootFileId);
  pugi::xml_node front = cd.append_child("frontend");
  front.append_attribute("tag") = "ide0";
  Text(front, "model", "V3VEE CDROM");
  Text(front, "type", "CDROM");
  Text(front, "bus_num", "0");
  Text(front, "drive_num", "0");
  Text(Device(devices, "NVRAM", "nvram"), "storage", "ide0");  // BIOS boot order

  pugi::xml_node generic = Device(devices, "GENERIC", "generic");
  IgnoredPorts(generic, "0x00", "0x07");  // DMA 1
  IgnoredPorts(generic, "0xc0", "0xc7");  // DMA 2
  IgnoredPorts(generic, "0x81", "0x87");  // DMA 1 page
  IgnoredPorts(generic, "0x88", "0x8f");  // DMA 2 page
  IgnoredPorts(generic, "0x08", "0x0f");  // DMA 1 misc
  IgnoredPorts(generic, "0xd0", "0xde");  // DMA 2 misc
  IgnoredPorts(generic, "0x274", "0x277");  // ISA PnP
  IgnoredPorts(generic, "0x279", "0x279");
  IgnoredPorts(generic, "0xa79", "0xa79");
  IgnoredPorts(generic, "0x378", "0x37f");  // parallel port

  // No XML declaration: Palacios's small parser wants the <vm> element.
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default | pugi::format_no_declaration);
  return out.str();
}

}  // namespace ezone::palacios
