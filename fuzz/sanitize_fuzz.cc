// The byte sanitiser (reports/src/sanitize.cc): whatever a guest prints, its
// output is valid UTF-8 of XML 1.0 characters, and a document holding it as
// text and as an attribute is well-formed XML that pugixml reads back.
#include <pugixml.hpp>
#include <sstream>
#include <string>

#include "ezone/report/sanitize.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  std::string clean = ezone::report::SanitizeForXml(raw);
  ezone::fuzz::Require(ezone::fuzz::IsXmlChars(clean), "SanitizeForXml let a forbidden character through");
  std::string line = ezone::report::SanitizeOneLine(raw);
  ezone::fuzz::Require(ezone::fuzz::IsXmlChars(line), "SanitizeOneLine let a forbidden character through");
  ezone::fuzz::Require(line.find_first_of("\t\r\n") == std::string::npos,
                       "SanitizeOneLine left a line break");

  pugi::xml_document doc;
  pugi::xml_node node = doc.append_child("case");
  node.append_attribute("message") = line.c_str();
  node.append_child(pugi::node_pcdata).set_value(clean.c_str());
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  std::string xml = out.str();
  pugi::xml_document back;
  pugi::xml_parse_result parsed = back.load_buffer(xml.data(), xml.size());
  ezone::fuzz::Require(static_cast<bool>(parsed), "not well-formed", parsed.description());
  ezone::fuzz::Require(line == back.child("case").attribute("message").value(),
                       "the attribute did not read back", line);

  std::string capped = ezone::report::CapBytes(raw, 1 + size / 2);
  ezone::fuzz::Require(capped.size() <= raw.size() + 64, "CapBytes grew the input");
  std::string html = ezone::report::EscapeHtml(clean);
  ezone::fuzz::Require(html.find_first_of("<>\"'") == std::string::npos, "EscapeHtml left markup");
  return 0;
}
