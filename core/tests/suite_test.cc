// The suite parser: valid suites expand into named checks; every malformed
// suite is rejected with "<file>:<line>: <what>".
#include <gtest/gtest.h>

#include <fstream>

#include "suite.h"

namespace ezone {
namespace {

namespace fs = std::filesystem;

class SuiteTest : public testing::Test {
 protected:
  fs::path Write(const std::string& text) {
    fs::path p = fs::temp_directory_path() /
                 ("ezone-suite-test-" + std::to_string(getpid()) + "-" + std::to_string(n_++) + ".xml");
    std::ofstream(p) << text;
    files_.push_back(p);
    return p;
  }
  // The error text, or "" when the suite loaded.
  std::string Error(const std::string& text) {
    fs::path p = Write(text);
    try {
      LoadSuite(p);
    } catch (const SuiteError& e) {
      std::string what = e.what();
      EXPECT_EQ(what.rfind(p.string() + ":", 0), 0u) << "must start with the file: " << what;
      return what.substr(p.string().size());
    }
    return "";
  }
  void TearDown() override {
    for (auto& f : files_) fs::remove(f);
  }
  int n_ = 0;
  std::vector<fs::path> files_;
};

constexpr char kHeader[] = "<?xml version=\"1.0\"?>\n";

TEST_F(SuiteTest, ExpandsRepetitionsIntoNamedChecks) {
  fs::path p = Write(std::string(kHeader) +
                     "<suite name=\"paper\" labels=\"paper\">\n"
                     "  <check name=\"GuestKernelCrashMustNotKillHost\" vmm=\"qemu\"\n"
                     "         fault=\"kerncrash\" variant=\"divzero\" repeat=\"3\"/>\n"
                     "  <check name=\"X\" vmm=\"kvm\" vmm-label=\"kvm-libvirt-tcg\" fault=\"f\" variant=\"v\"\n"
                     "         policy=\"performance\" observe-timeout=\"500ms\"/>\n"
                     "</suite>\n");
  Suite s = LoadSuite(p);
  ASSERT_EQ(s.checks.size(), 4u);
  EXPECT_EQ(s.checks[0].id(), "GuestKernelCrashMustNotKillHost/qemu_kerncrash_divzero_1");
  EXPECT_EQ(s.checks[2].id(), "GuestKernelCrashMustNotKillHost/qemu_kerncrash_divzero_3");
  EXPECT_EQ(s.checks[0].line, 3);
  EXPECT_EQ(s.checks[0].policy, report::Policy::kStrongIsolation);
  EXPECT_EQ(s.checks[0].labels, std::vector<std::string>{"paper"});
  EXPECT_EQ(s.checks[3].name, "kvm_libvirt_tcg_f_v_1");
  EXPECT_EQ(s.checks[3].policy, report::Policy::kPerformance);
  EXPECT_EQ(s.checks[3].observe_timeout.count(), 500);
  EXPECT_EQ(s.checks[3].line, 5);
}

TEST_F(SuiteTest, MalformedXmlNamesTheLine) {
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n  <check name=\"x\"\n</suite>\n"),
            ":4: not well-formed XML: Error parsing start element tag");
}

TEST_F(SuiteTest, WrongRootElement) {
  EXPECT_EQ(Error(std::string(kHeader) + "\n<suites/>\n"),
            ":3: the root element must be <suite>, not <suites>");
}

TEST_F(SuiteTest, MissingRequiredAttribute) {
  EXPECT_EQ(Error(std::string(kHeader) +
                  "<suite name=\"a\">\n\n  <check name=\"X\" vmm=\"qemu\" fault=\"kerncrash\"/>\n</suite>\n"),
            ":4: <check> needs attribute 'variant'");
}

TEST_F(SuiteTest, UnknownAttributeIsATypoNotIgnored) {
  std::string e = Error(std::string(kHeader) +
                        "<suite name=\"a\">\n  <check name=\"X\" vmm=\"q\" fault=\"f\" variant=\"v\" "
                        "repaet=\"5\"/>\n</suite>\n");
  EXPECT_EQ(e.rfind(":3: unknown attribute 'repaet' on <check>", 0), 0u) << e;
}

TEST_F(SuiteTest, UnknownElement) {
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n  <chek/>\n</suite>\n"),
            ":3: unknown element <chek> (expected <check> or <description>)");
}

TEST_F(SuiteTest, UnknownPolicy) {
  std::string e = Error(std::string(kHeader) + "<suite name=\"a\" policy=\"loose\">\n</suite>\n");
  EXPECT_EQ(e.rfind(":2: unknown policy 'loose'", 0), 0u) << e;
}

TEST_F(SuiteTest, BadRepeatAndDuration) {
  std::string check = "<check name=\"X\" vmm=\"q\" fault=\"f\" variant=\"v\" ";
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + "repeat=\"0\"/>\n</suite>"),
            ":3: repeat must be a whole number from 1 to 9999, not '0'");
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + "repeat=\"two\"/>\n</suite>"),
            ":3: repeat must be a whole number from 1 to 9999, not 'two'");
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check +
                  "boot-timeout=\"soon\"/>\n</suite>"),
            ":3: attribute 'boot-timeout': 'soon' is not a duration from 0 to 24h (use e.g. 30s, 500ms or 2m)");
}

// Issue 20: numbers from a suite are range-checked, with file and line.
TEST_F(SuiteTest, NumbersOutOfRangeNameFileAndLine) {
  std::string check = "<check name=\"X\" vmm=\"q\" fault=\"f\" variant=\"v\" ";
  for (const char* bad : {"-1", "4294967552", "99999999999999999999", "256MiB", " 256", "0x100", ""}) {
    EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + "memory=\"" + bad +
                    "\"/>\n</suite>"),
              std::string(":3: memory must be a whole number of MiB from 64 to 65536, not '") + bad + "'");
    // The suite's default is checked as strictly as a check's.
    EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\"\n memory=\"" + bad + "\">\n" + check +
                    "/>\n</suite>"),
              std::string(":2: memory must be a whole number of MiB from 64 to 65536, not '") + bad + "'");
  }
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + "repeat=\"99999999999999999999\"/>\n</suite>"),
            ":3: repeat must be a whole number from 1 to 9999, not '99999999999999999999'");
  for (const char* bad : {"25h", "1e300", "inf", "nan", "-0.5s", "1e-400x"}) {
    EXPECT_NE(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + "observe-timeout=\"" +
                    bad + "\"/>\n</suite>")
                  .find(":3: attribute 'observe-timeout'"),
              std::string::npos)
        << bad;
  }
}

// Issue 20: a 10 KB suite expanded to 1.6 million checks. kMaxChecks caps it.
TEST_F(SuiteTest, TotalChecksAreCapped) {
  std::string text = std::string(kHeader) + "<suite name=\"a\">\n";
  for (int i = 0; i < 2; ++i) {
    text += "<check name=\"X" + std::to_string(i) +
            "\" vmm=\"q\" fault=\"f\" variant=\"v\" repeat=\"5000\"/>\n";
  }
  EXPECT_EQ(Error(text + "</suite>"), "");  // exactly the cap
  text += "<check name=\"Y\" vmm=\"q\" fault=\"f\" variant=\"v\"/>\n</suite>";
  EXPECT_EQ(Error(text), ":5: the suite has more than 10000 checks with this one (repetitions "
                         "count; split it into several suites)");
}

// Issue 20 #8: newlines were counted in the file, offsets in pugixml's UTF-8
// copy of it: a Latin-1 file said line 21 for line 5.
TEST_F(SuiteTest, LineNumbersOfANonUtf8SuiteAreTheFilesLines) {
  std::string latin1_text(2000, '\xe9');  // é, one byte in the file, two in pugixml's copy
  std::string text = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<suite name=\"a\">\n"
                     "<description>" + latin1_text + "</description>\n\n"
                     "<check name=\"X\" vmm=\"q\" fault=\"f\" variant=\"v\" repaet=\"2\"/>\n</suite>\n";
  EXPECT_EQ(Error(text).substr(0, 3), ":5:") << Error(text);
  // UTF-16 with a byte order mark: every character two bytes in the file.
  std::string utf8 = "<?xml version=\"1.0\"?>\n<suite name=\"a\">\n<description>\xc3\xa9\xe2\x82\xac"
                     "</description>\n<check/>\n</suite>\n";
  std::string utf16 = "\xff\xfe";
  for (size_t i = 0; i < utf8.size();) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    uint32_t cp = c < 0x80 ? c : c < 0xE0 ? ((c & 0x1F) << 6) | (utf8[i + 1] & 0x3F)
                                          : ((c & 0x0F) << 12) | ((utf8[i + 1] & 0x3F) << 6) | (utf8[i + 2] & 0x3F);
    i += c < 0x80 ? 1 : c < 0xE0 ? 2 : 3;
    utf16 += static_cast<char>(cp & 0xFF);
    utf16 += static_cast<char>(cp >> 8);
  }
  EXPECT_EQ(Error(utf16).substr(0, 3), ":4:") << Error(utf16);
  // Not well-formed: the parser's own offset maps the same way.
  std::string broken = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<suite name=\"a\">\n"
                       "<description>" + latin1_text + "</description>\n\n<check\n</suite>\n";
  EXPECT_EQ(Error(broken).substr(0, 3), ":6:") << Error(broken);
}

TEST_F(SuiteTest, DuplicateCheckAndEmptySuite) {
  std::string check = "<check name=\"X\" vmm=\"q\" fault=\"f\" variant=\"v\"/>\n";
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + check + "</suite>"),
            ":4: check X/q_f_v_1 is defined twice (give it another name or vmm-label)");
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n</suite>"), ":2: the suite has no <check>");
}

TEST_F(SuiteTest, MissingFile) {
  try {
    LoadSuite("/nonexistent/suite.xml");
    FAIL() << "no error";
  } catch (const SuiteError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/suite.xml:0: cannot open suite file");
  }
}

TEST_F(SuiteTest, ShippedSuitesParse) {
  for (const char* name : {"paper.xml", "selftest.xml", "nested-host.xml"}) {
    Suite s = LoadSuite(fs::path(EZONE_SUITES_DIR) / name);
    EXPECT_FALSE(s.checks.empty()) << name;
  }
  // qemu, kvm, kvm through libvirt with TCG, kvm and xen on the nested
  // host, palacios: 5 repetitions each.
  Suite paper = LoadSuite(fs::path(EZONE_SUITES_DIR) / "paper.xml");
  EXPECT_EQ(paper.checks.size(), 30u);
  int kvm_nested = 0, xen_nested = 0;
  for (const CheckSpec& c : paper.checks) {
    if (!c.nested()) continue;
    kvm_nested += c.vmm_label == "kvm@nested";
    xen_nested += c.vmm_label == "xen@nested";
  }
  EXPECT_EQ(kvm_nested, 5);
  EXPECT_EQ(xen_nested, 5);
}

// Nested host (issue 9): where a check runs is part of what it claims.
TEST_F(SuiteTest, HostAttributeDefaultsToLocalAndAcceptsNested) {
  fs::path p = Write(std::string(kHeader) +
                     "<suite name=\"a\">\n"
                     "  <check name=\"X\" vmm=\"kvm\" fault=\"kerncrash\" variant=\"panic\"/>\n"
                     "  <check name=\"X\" vmm=\"kvm\" fault=\"kerncrash\" variant=\"panic\" host=\"nested\"/>\n"
                     "  <check name=\"X\" vmm=\"qemu\" fault=\"f\" variant=\"v\" host=\"local\"/>\n"
                     "</suite>\n");
  Suite s = LoadSuite(p);
  ASSERT_EQ(s.checks.size(), 3u);
  EXPECT_EQ(s.checks[0].host, HostKind::kLocal);
  EXPECT_EQ(s.checks[1].host, HostKind::kNested);
  EXPECT_EQ(s.checks[2].host, HostKind::kLocal);
  // The same check on both hosts: two checks, never "defined twice".
  EXPECT_NE(s.checks[0].id(), s.checks[1].id());
}

TEST_F(SuiteTest, BadHostValueNamesFileAndLine) {
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n\n"
                  "  <check name=\"X\" vmm=\"kvm\" fault=\"f\" variant=\"v\" host=\"remote\"/>\n"
                  "</suite>\n"),
            ":4: host must be local or nested, not 'remote'");
  // Case matters, as for every other enumerated attribute.
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n"
                  "  <check name=\"X\" vmm=\"kvm\" fault=\"f\" variant=\"v\" host=\"Nested\"/>\n"
                  "</suite>\n"),
            ":3: host must be local or nested, not 'Nested'");
  // host is an attribute of <check>, not of <suite>.
  std::string e = Error(std::string(kHeader) + "<suite name=\"a\" host=\"nested\">\n"
                        "  <check name=\"X\" vmm=\"kvm\" fault=\"f\" variant=\"v\"/>\n</suite>\n");
  EXPECT_EQ(e.rfind(":2: unknown attribute 'host' on <suite>", 0), 0u) << e;
}

TEST_F(SuiteTest, NestedHostGetsItsOwnDefaultLabelAndTestName) {
  fs::path p = Write(std::string(kHeader) +
                     "<suite name=\"a\">\n"
                     "  <check name=\"HostKernelCrash\" vmm=\"kvm\" fault=\"hostkernel\" "
                     "variant=\"panic\" host=\"nested\" repeat=\"2\"/>\n"
                     "  <check name=\"HostKernelCrash\" vmm=\"kvm\" fault=\"hostkernel\" "
                     "variant=\"panic\"/>\n"
                     "</suite>\n");
  Suite s = LoadSuite(p);
  ASSERT_EQ(s.checks.size(), 3u);
  EXPECT_EQ(s.checks[0].vmm, "kvm");
  EXPECT_EQ(s.checks[0].vmm_label, "kvm@nested");
  EXPECT_EQ(s.checks[0].name, "kvm_nested_hostkernel_panic_1");
  EXPECT_EQ(s.checks[1].name, "kvm_nested_hostkernel_panic_2");
  EXPECT_EQ(s.checks[0].id(), "HostKernelCrash/kvm_nested_hostkernel_panic_1");
  // A local check is labelled by its VMM alone.
  EXPECT_EQ(s.checks[2].vmm_label, "kvm");
  EXPECT_EQ(s.checks[2].name, "kvm_hostkernel_panic_1");
}

TEST_F(SuiteTest, ExplicitVmmLabelWithAtIsAcceptedAndMappedInTheName) {
  fs::path p = Write(std::string(kHeader) +
                     "<suite name=\"a\">\n"
                     "  <check name=\"X\" vmm=\"kvm\" vmm-label=\"kvm-tcg@nested\" fault=\"f\" "
                     "variant=\"v\" host=\"nested\"/>\n"
                     "  <check name=\"Y\" vmm=\"qemu\" vmm-label=\"qemu@box-2\" fault=\"f\" "
                     "variant=\"v\"/>\n"
                     "</suite>\n");
  Suite s = LoadSuite(p);
  ASSERT_EQ(s.checks.size(), 2u);
  // An explicit label wins over the nested default, '@' and all.
  EXPECT_EQ(s.checks[0].vmm_label, "kvm-tcg@nested");
  EXPECT_EQ(s.checks[0].name, "kvm_tcg_nested_f_v_1");
  EXPECT_EQ(s.checks[1].vmm_label, "qemu@box-2");
  EXPECT_EQ(s.checks[1].name, "qemu_box_2_f_v_1");
  EXPECT_EQ(s.checks[1].host, HostKind::kLocal);
}

TEST_F(SuiteTest, VmmLabelStillRejectsOtherCharacters) {
  std::string check = "<check name=\"X\" vmm=\"kvm\" fault=\"f\" variant=\"v\" host=\"nested\" ";
  for (const char* label : {"kvm nested", "kvm/nested", "kvm.nested", "kvm#1", "kvm:nested"}) {
    EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + "vmm-label=\"" + label +
                    "\"/>\n</suite>"),
              std::string(":3: vmm-label '") + label +
                  "' must be letters, digits, '_', '-' or '@'")
        << label;
  }
  EXPECT_EQ(Error(std::string(kHeader) + "<suite name=\"a\">\n" + check + "vmm-label=\"\"/>\n</suite>"),
            ":3: vmm-label '' must be letters, digits, '_', '-' or '@'");
}

TEST_F(SuiteTest, PolicyDetectedIsAccepted) {
  fs::path p = Write(std::string(kHeader) +
                     "<suite name=\"a\" policy=\"detected\">\n"
                     "  <check name=\"X\" vmm=\"kvm\" fault=\"f\" variant=\"v\" host=\"nested\"/>\n"
                     "  <check name=\"Y\" vmm=\"kvm\" fault=\"f\" variant=\"v\" "
                     "policy=\"strong-isolation\"/>\n"
                     "</suite>\n");
  Suite s = LoadSuite(p);
  ASSERT_EQ(s.checks.size(), 2u);
  EXPECT_EQ(s.checks[0].policy, report::Policy::kDetected);
  EXPECT_EQ(s.checks[1].policy, report::Policy::kStrongIsolation);
  fs::path q = Write(std::string(kHeader) +
                     "<suite name=\"a\">\n"
                     "  <check name=\"X\" vmm=\"kvm\" fault=\"f\" variant=\"v\" policy=\"detected\"/>\n"
                     "</suite>\n");
  EXPECT_EQ(LoadSuite(q).checks.at(0).policy, report::Policy::kDetected);
  // Near misses are still typos.
  std::string e = Error(std::string(kHeader) + "<suite name=\"a\">\n"
                        "  <check name=\"X\" vmm=\"kvm\" fault=\"f\" variant=\"v\" "
                        "policy=\"detect\"/>\n</suite>\n");
  EXPECT_EQ(e.rfind(":3: unknown policy 'detect'", 0), 0u) << e;
}

TEST(DurationTest, Units) {
  EXPECT_EQ(ParseDuration("30s").count(), 30000);
  EXPECT_EQ(ParseDuration("250ms").count(), 250);
  EXPECT_EQ(ParseDuration("2m").count(), 120000);
  EXPECT_EQ(ParseDuration("1.5").count(), 1500);
  EXPECT_THROW(ParseDuration("-1s"), std::invalid_argument);
  EXPECT_THROW(ParseDuration("5h"), std::invalid_argument);
  EXPECT_THROW(ParseDuration(""), std::invalid_argument);
}

}  // namespace
}  // namespace ezone
