// Turning untrusted bytes (guest consoles, VMM stderr) into text that is safe
// to embed in XML 1.0 and HTML. Guests emit anything: NUL, BEL, half a UTF-8
// sequence cut by a serial buffer, colour escapes. A report must never become
// unparsable because of what a crashing guest printed.
#ifndef EZONE_REPORT_SANITIZE_H_
#define EZONE_REPORT_SANITIZE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace ezone::report {

// Default cap for console excerpts embedded in reports.
inline constexpr std::size_t kMaxExcerptBytes = 64 * 1024;

// Returns valid UTF-8 containing only characters allowed by XML 1.0:
//  - ANSI/VT escape sequences (CSI, OSC, two-byte ESC x) are removed;
//  - invalid UTF-8 (stray continuation bytes, truncated or overlong
//    sequences, surrogates, > U+10FFFF) becomes U+FFFD, one per maximal
//    invalid subpart (the Unicode "best practice");
//  - C0 controls other than \t \n \r become their visible Unicode "control
//    picture" (NUL -> U+2400, BEL -> U+2407, ...), DEL -> U+2421;
//  - C1 controls (U+0080..U+009F) and the non-characters U+FFFE/U+FFFF
//    become the text "<U+XXXX>";
//  - "\r\n" and a lone "\r" become "\n" (an XML parser would turn a raw
//    "\r" into "\n" anyway, so the text read back is the text written).
// The result still needs markup escaping (pugixml does it for XML;
// EscapeHtml for HTML).
std::string SanitizeForXml(std::string_view raw);

// Same as SanitizeForXml, then folds \t \r \n runs into single spaces: for
// attribute values and one-line messages.
std::string SanitizeOneLine(std::string_view raw);

// Caps raw bytes at about `max_bytes`: keeps the head (a quarter) and the
// tail (the rest, since a crash shows at the end), joined by a line
// "[... N bytes cut ...]". Returns the input unchanged when it fits. Works on
// raw bytes: sanitise afterwards, which mends a UTF-8 sequence cut in half.
std::string CapBytes(std::string_view raw,
                     std::size_t max_bytes = kMaxExcerptBytes);

// Escapes & < > " ' for HTML text and attribute values. Does not sanitise:
// use EscapeHtml(SanitizeForXml(raw)) for untrusted bytes.
std::string EscapeHtml(std::string_view text);

}  // namespace ezone::report

#endif  // EZONE_REPORT_SANITIZE_H_
