#include "palacios_image.h"

#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace ezone::palacios {

static_assert(std::endian::native == std::endian::little,
              "Palacios images are little endian; this writer assumes the host is too");

uint64_t V3Hash(std::string_view bytes) {
  // Same arithmetic as Palacios: 64-bit accumulator, 32-bit position. Only
  // bits 28..31 are folded back, so bits above 31 survive once set (large
  // files); the result must match bit for bit, quirks included.
  uint64_t hash = 0;
  for (uint32_t i = 0; i < bytes.size(); ++i) {
    hash = (hash << 4) + static_cast<unsigned char>(bytes[i]) + i;
    uint64_t top = hash & 0xF0000000ull;
    if (top != 0) hash ^= top >> 24;
    hash &= ~top;
  }
  return hash;
}

namespace {

template <typename T>
void Put(std::string& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof value);
}

}  // namespace

std::string PackImage(std::string_view xml, const std::vector<std::string_view>& files) {
  constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
  if (xml.size() > kU32Max) throw std::length_error("Palacios image: XML larger than 4 GiB");
  if (xml.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("Palacios image: the XML contains a NUL byte");
  }
  size_t header = kImageCookie.size() + 4 + xml.size() + 8 + 8 + files.size() * kFileHeaderSize + 8;
  size_t total = header;
  for (std::string_view f : files) {
    if (f.size() > kU32Max) throw std::length_error("Palacios image: a file is larger than 4 GiB");
    total += f.size();
  }
  std::string out(total, '\0');
  size_t at = 0;
  std::memcpy(out.data(), kImageCookie.data(), kImageCookie.size());
  at += kImageCookie.size();
  Put<uint32_t>(out, at, static_cast<uint32_t>(xml.size()));
  at += 4;
  std::memcpy(out.data() + at, xml.data(), xml.size());
  at += xml.size() + 8;  // then 8 zero bytes
  Put<uint64_t>(out, at, files.size());
  at += 8;
  uint64_t data_at = header;
  for (uint32_t i = 0; i < files.size(); ++i) {
    Put<uint32_t>(out, at, i);
    Put<uint32_t>(out, at + 4, static_cast<uint32_t>(files[i].size()));
    Put<uint64_t>(out, at + 8, data_at);
    Put<uint64_t>(out, at + 16, V3Hash(files[i]));
    std::memcpy(out.data() + data_at, files[i].data(), files[i].size());
    at += kFileHeaderSize;
    data_at += files[i].size();
  }
  return out;
}

}  // namespace ezone::palacios
