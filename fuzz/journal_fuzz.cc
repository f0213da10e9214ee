// Journal files (reports/src/journal.cc): the file that is half-written when
// a host dies. Any bytes read into records or a documented exception; the
// records then render into well-formed JUnit XML, HTML and Markdown without
// undefined behaviour (issue 20 #3, #4, #5).
#include <pugixml.hpp>
#include <stdexcept>
#include <system_error>

#include "ezone/report/html_report.h"
#include "ezone/report/journal.h"
#include "ezone/report/junit_writer.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ezone::fuzz::MemFile file(data, size);
  ezone::report::JournalContents contents;
  try {
    // A fixed boot id: the reader must not depend on this host's.
    contents = ezone::report::ReadJournal(file.path(), "00000000-fuzz");
  } catch (const std::system_error&) {
    return 0;
  } catch (const std::runtime_error&) {
    return 0;  // a malformed line, named with file:line
  }
  std::string junit = ezone::report::RenderJUnit(contents.run, contents.records);
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(junit.data(), junit.size());
  ezone::fuzz::Require(static_cast<bool>(parsed), "RenderJUnit wrote XML pugixml rejects",
                       parsed.description());
  ezone::fuzz::Require(ezone::fuzz::IsXmlChars(junit), "RenderJUnit wrote a character XML 1.0 forbids");
  (void)ezone::report::RenderHtml(contents.run, contents.records);
  (void)ezone::report::RenderMarkdownSummary(contents.run, contents.records);
  return 0;
}
