#include "ezone/report/sanitize.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace ezone::report {
namespace {

constexpr unsigned char kEsc = 0x1b;
constexpr unsigned char kBel = 0x07;
// An unterminated OSC/DCS string would otherwise swallow the rest of the
// console; past this length we give up and show the ESC instead.
constexpr std::size_t kMaxEscapeStringBytes = 512;

void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

constexpr std::uint32_t kReplacement = 0xfffd;

// Length of the escape sequence starting at raw[pos] (which is ESC), or 0
// when it is not a sequence we recognise (the ESC is then shown visibly).
std::size_t EscapeSequenceLength(std::string_view raw, std::size_t pos) {
  std::size_t i = pos + 1;
  if (i >= raw.size()) return 0;
  const auto next = static_cast<unsigned char>(raw[i]);
  if (next == '[') {  // CSI: params 0x30-0x3f, intermediates 0x20-0x2f, final
    for (++i; i < raw.size(); ++i) {
      const auto c = static_cast<unsigned char>(raw[i]);
      if (c >= 0x40 && c <= 0x7e) return i + 1 - pos;
      if (c < 0x20 || c > 0x3f) return i - pos;  // broken: drop the prefix
    }
    return i - pos;  // cut off at the end of the excerpt: drop it
  }
  if (next == ']' || next == 'P' || next == '_' || next == '^' ||
      next == 'X') {  // string sequences, ended by BEL or ESC '\'
    const std::size_t limit = std::min(raw.size(), pos + kMaxEscapeStringBytes);
    for (++i; i < limit; ++i) {
      const auto c = static_cast<unsigned char>(raw[i]);
      if (c == kBel) return i + 1 - pos;
      if (c == kEsc) {
        return (i + 1 < raw.size() && raw[i + 1] == '\\') ? i + 2 - pos
                                                          : i - pos;
      }
    }
    return limit == raw.size() ? limit - pos : 0;
  }
  if (next >= 0x20 && next <= 0x2f) {  // nF: ESC ( B and friends
    while (i < raw.size() && static_cast<unsigned char>(raw[i]) >= 0x20 &&
           static_cast<unsigned char>(raw[i]) <= 0x2f) {
      ++i;
    }
    if (i < raw.size() && static_cast<unsigned char>(raw[i]) >= 0x30 &&
        static_cast<unsigned char>(raw[i]) <= 0x7e) {
      return i + 1 - pos;
    }
    return i - pos;
  }
  if (next >= 0x30 && next <= 0x7e) return 2;  // ESC 7, ESC c, ESC M ...
  return 0;
}

// Decodes one UTF-8 sequence at raw[pos]. Returns its length and sets *cp;
// on invalid input returns the length of the maximal invalid subpart (at
// least 1) and sets *cp to U+FFFD, as Unicode recommends.
std::size_t DecodeUtf8(std::string_view raw, std::size_t pos,
                       std::uint32_t* cp) {
  const auto lead = static_cast<unsigned char>(raw[pos]);
  std::size_t length;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the 2nd byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    *cp = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    *cp = lead & 0x0f;
    if (lead == 0xe0) lo = 0xa0;  // overlong
    if (lead == 0xed) hi = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    *cp = lead & 0x07;
    if (lead == 0xf0) lo = 0x90;  // overlong
    if (lead == 0xf4) hi = 0x8f;  // > U+10FFFF
  } else {
    *cp = kReplacement;
    return 1;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if (pos + k >= raw.size()) {
      *cp = kReplacement;
      return k;
    }
    const auto c = static_cast<unsigned char>(raw[pos + k]);
    const unsigned char min = k == 1 ? lo : 0x80;
    const unsigned char max = k == 1 ? hi : 0xbf;
    if (c < min || c > max) {
      *cp = kReplacement;
      return k;
    }
    *cp = (*cp << 6) | (c & 0x3f);
  }
  return length;
}

}  // namespace

std::string SanitizeForXml(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 8);
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const auto c = static_cast<unsigned char>(raw[pos]);
    if (c < 0x80) {
      if (c == kEsc) {
        if (const std::size_t n = EscapeSequenceLength(raw, pos); n > 0) {
          pos += n;
          continue;
        }
      }
      if (c == '\r' && pos + 1 < raw.size() && raw[pos + 1] == '\n') {
        ++pos;  // CRLF -> LF; the LF is appended next round
        continue;
      }
      if (c == '\r') {
        // A parser turns a raw CR into LF anyway (XML end-of-line handling),
        // so what a reader sees would differ from what was written.
        out += '\n';
        ++pos;
        continue;
      }
      if (c == '\t' || c == '\n' || (c >= 0x20 && c < 0x7f)) {
        out += static_cast<char>(c);
      } else if (c == 0x7f) {
        AppendUtf8(out, 0x2421);  // SYMBOL FOR DELETE
      } else {
        AppendUtf8(out, 0x2400 + c);  // control pictures: NUL -> U+2400
      }
      ++pos;
      continue;
    }
    std::uint32_t cp;
    const std::size_t n = DecodeUtf8(raw, pos, &cp);
    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff) {
      // Legal or not in XML 1.0, they are invisible and confuse viewers.
      out += fmt::format("<U+{:04X}>", cp);
    } else if (cp == kReplacement) {  // invalid input, or a real U+FFFD
      AppendUtf8(out, kReplacement);
    } else {
      out.append(raw.substr(pos, n));
    }
    pos += n;
  }
  return out;
}

std::string SanitizeOneLine(std::string_view raw) {
  const std::string clean = SanitizeForXml(raw);
  std::string out;
  out.reserve(clean.size());
  bool pending_space = false;
  for (const char c : clean) {
    if (c == '\t' || c == '\n' || c == '\r' || c == ' ') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string CapBytes(std::string_view raw, std::size_t max_bytes) {
  if (raw.size() <= max_bytes) return std::string(raw);
  const std::size_t head = max_bytes / 4;
  const std::size_t tail = max_bytes - head;
  const std::size_t cut = raw.size() - head - tail;
  std::string out;
  out.reserve(max_bytes + 48);
  out.append(raw.substr(0, head));
  out += fmt::format("\n[... {} bytes cut ...]\n", cut);
  out.append(raw.substr(raw.size() - tail));
  return out;
}

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace ezone::report
