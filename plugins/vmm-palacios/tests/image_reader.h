// The tests' own reader of Palacios's packed image, written from Palacios's
// parser (vmm_config.c parse_config), not from our writer: it checks every
// field the kernel reads and the per-file hashes.
#ifndef EZONE_PLUGINS_VMM_PALACIOS_TESTS_IMAGE_READER_H_
#define EZONE_PLUGINS_VMM_PALACIOS_TESTS_IMAGE_READER_H_

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "palacios_image.h"

namespace ezone::palacios::testing {

struct ReadFileEntry {
  uint32_t index = 0;
  uint32_t size = 0;
  uint64_t offset = 0;
  uint64_t hash = 0;
  std::string_view data;
};

struct ReadImage {
  std::string xml;
  std::vector<ReadFileEntry> files;
  size_t end = 0;  // one past the last byte the parser uses
};

template <typename T>
T Get(std::string_view image, size_t at) {
  if (at + sizeof(T) > image.size()) throw std::runtime_error("image truncated at " + std::to_string(at));
  T v;
  std::memcpy(&v, image.data() + at, sizeof v);
  return v;
}

// Throws std::runtime_error naming the first field that is wrong.
inline ReadImage ReadPackedImage(std::string_view image) {
  ReadImage r;
  if (image.size() < 12 || image.substr(0, 8) != std::string_view("v3vee\0\0\1", 8)) {
    throw std::runtime_error("no v3vee version 1 cookie");
  }
  uint32_t xml_len = Get<uint32_t>(image, 8);
  size_t at = 12;
  if (at + xml_len + 8 > image.size()) throw std::runtime_error("XML length past the end");
  r.xml = std::string(image.substr(at, xml_len));
  if (r.xml.find('\0') != std::string::npos) throw std::runtime_error("NUL inside the XML");
  at += xml_len;
  if (Get<uint64_t>(image, at) != 0) throw std::runtime_error("no 8 zero bytes after the XML");
  at += 8;
  uint64_t count = Get<uint64_t>(image, at);
  at += 8;
  size_t end = at + count * 24 + 8;
  for (uint64_t i = 0; i < count; ++i) {
    ReadFileEntry f;
    f.index = Get<uint32_t>(image, at);
    f.size = Get<uint32_t>(image, at + 4);
    f.offset = Get<uint64_t>(image, at + 8);
    f.hash = Get<uint64_t>(image, at + 16);
    at += 24;
    if (f.index != i) throw std::runtime_error("file header " + std::to_string(i) + " has index " + std::to_string(f.index));
    if (f.offset + f.size > image.size()) throw std::runtime_error("file " + std::to_string(i) + " past the end");
    f.data = image.substr(f.offset, f.size);
    if (V3Hash(f.data) != f.hash) throw std::runtime_error("file " + std::to_string(i) + " hash mismatch");
    end = std::max<size_t>(end, f.offset + f.size);
    r.files.push_back(f);
  }
  if (Get<uint64_t>(image, at) != 0) throw std::runtime_error("no 8 zero bytes after the file table");
  r.end = end;
  return r;
}

}  // namespace ezone::palacios::testing

#endif  // EZONE_PLUGINS_VMM_PALACIOS_TESTS_IMAGE_READER_H_
