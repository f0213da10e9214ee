#include "ezone/report/sanitize.h"

#include <gtest/gtest.h>

#include <string>

namespace ezone::report {
namespace {

using namespace std::string_literals;

TEST(SanitizeForXmlTest, KeepsValidUtf8AndWhitespace) {
  const std::string text =
      "divide error: 0000 [#1] SMP\tCPU: 0\r\nünïcödé ✓ 🐧\n";
  EXPECT_EQ(SanitizeForXml(text),
            "divide error: 0000 [#1] SMP\tCPU: 0\nünïcödé ✓ 🐧\n");
}

TEST(SanitizeForXmlTest, ShowsControlCharactersVisibly) {
  EXPECT_EQ(SanitizeForXml("a\0b"s), "a\u2400b");
  EXPECT_EQ(SanitizeForXml("bell\x07"), "bell\u2407");
  EXPECT_EQ(SanitizeForXml("del\x7f"), "del\u2421");
  EXPECT_EQ(SanitizeForXml("lone\rcr"), "lone\ncr");
}

TEST(SanitizeForXmlTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(SanitizeForXml("a\xff"
                           "b"),
            "a\uFFFDb");
  EXPECT_EQ(SanitizeForXml("\x80"), "\uFFFD");            // stray continuation
  EXPECT_EQ(SanitizeForXml("\xc0\xaf"), "\uFFFD\uFFFD");  // overlong '/'
  EXPECT_EQ(SanitizeForXml("\xed\xa0\x80"), "\uFFFD\uFFFD\uFFFD");  // surrogate
  EXPECT_EQ(SanitizeForXml("\xf4\x90\x80\x80"),
            "\uFFFD\uFFFD\uFFFD\uFFFD");                    // > U+10FFFF
  EXPECT_EQ(SanitizeForXml("cut \xe2\x82"), "cut \uFFFD");  // truncated €
  EXPECT_EQ(SanitizeForXml("\xef\xbf\xbe"), "<U+FFFE>");
  EXPECT_EQ(SanitizeForXml("\xc2\x85"), "<U+0085>");  // C1 NEL
}

TEST(SanitizeForXmlTest, StripsAnsiEscapes) {
  EXPECT_EQ(SanitizeForXml("\x1b[1;31mFAIL\x1b[0m ok"), "FAIL ok");
  EXPECT_EQ(SanitizeForXml("\x1b]0;title\x07text"), "text");
  EXPECT_EQ(SanitizeForXml("\x1b]0;title\x1b\\text"), "text");
  EXPECT_EQ(SanitizeForXml("\x1b(Bx\x1b"
                           "7y"),
            "xy");
  EXPECT_EQ(SanitizeForXml("end\x1b"), "end\u241b");
  EXPECT_EQ(SanitizeForXml("cut\x1b[3"), "cut");
}

TEST(SanitizeOneLineTest, FoldsWhitespace) {
  EXPECT_EQ(SanitizeOneLine("  a\n\n b\t\tc \r\n"), "a b c");
}

TEST(CapBytesTest, KeepsHeadAndTailWithMarker) {
  const std::string raw = std::string(100, 'h') + std::string(900, 't');
  const std::string capped = CapBytes(raw, 400);
  EXPECT_EQ(capped.substr(0, 100), std::string(100, 'h'));
  EXPECT_NE(capped.find("[... 600 bytes cut ...]"), std::string::npos);
  EXPECT_EQ(capped.substr(capped.size() - 300), std::string(300, 't'));
  EXPECT_EQ(CapBytes("short", 400), "short");
}

TEST(EscapeHtmlTest, EscapesMarkup) {
  EXPECT_EQ(EscapeHtml("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace ezone::report
