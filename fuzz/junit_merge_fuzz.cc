// JUnit merge input (reports/src/junit_writer.cc, MergeJUnit): a per-check
// JUnit file another process wrote, maybe half-written. The merged file must
// always be well-formed XML of XML 1.0 characters (issue 20 #3, #7).
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <sstream>

#include "ezone/report/junit_writer.h"
#include "fuzz_util.h"

namespace {

std::filesystem::path g_dir;

void RemoveDir() {
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // MergeJUnit writes atomically (a temporary file, then rename): it needs a
  // directory. One per fuzzer process, removed at exit.
  std::string tmpl = (std::filesystem::temp_directory_path() / "ezone-fuzz-junit-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) abort();
  g_dir = tmpl;
  atexit(&RemoveDir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ezone::fuzz::MemFile input(data, size);
  std::filesystem::path out = g_dir / "merged.xml";
  ezone::report::MergeJUnit({input.path()}, out);
  std::ifstream in(out, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string merged = text.str();
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(merged.data(), merged.size());
  ezone::fuzz::Require(static_cast<bool>(parsed), "MergeJUnit wrote XML pugixml rejects",
                       parsed.description());
  ezone::fuzz::Require(ezone::fuzz::IsXmlChars(merged), "MergeJUnit wrote a character XML 1.0 forbids");
  return 0;
}
