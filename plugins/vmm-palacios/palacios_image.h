// Palacios's packed guest image: what `v3_create -b <cfg.xml>` builds and the
// create-guest ioctl takes. Layout (little endian, from Palacios's
// linux_usr/v3_create.c and palacios/src/palacios/vmm_config.c, version 1):
//
//   "v3vee\0\0\1"                  8 bytes, the cookie (\1: file hashes present)
//   xml length                      u32, strlen of the XML (no NUL)
//   xml                             the <vm> configuration
//   zeros                           8 bytes (also the XML parser's terminator)
//   number of files                 u64
//   per file: index u32, size u32, offset u64 (from the image start),
//             hash u64 (V3Hash of the file's bytes; an unsigned long there)
//   zeros                           8 bytes
//   file data                       each file, in index order
//
// The XML's <files><file id=".." index="i"/> names file i; devices refer to
// the id. v3_create allocates 16*sizeof(long) per file header instead of the
// 24 it writes, so its images end in zero padding that the parser ignores;
// PackImage writes no padding.
#ifndef EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_IMAGE_H_
#define EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ezone::palacios {

inline constexpr std::string_view kImageCookie{"v3vee\0\0\1", 8};
inline constexpr size_t kFileHeaderSize = 24;

// Palacios's v3_hash_buffer: an ELF-style hash kept in a 64-bit unsigned
// long, with the byte's position added in. Palacios refuses an image whose
// file hashes differ ("File data corrupted!").
uint64_t V3Hash(std::string_view bytes);

// Packs `xml` and `files` (files[i] is the file the XML gives index i) into
// one image. Throws std::length_error when a size does not fit its field.
std::string PackImage(std::string_view xml, const std::vector<std::string_view>& files);

}  // namespace ezone::palacios

#endif  // EZONE_PLUGINS_VMM_PALACIOS_PALACIOS_IMAGE_H_
