#include "text/utf8.h"

#include <cstdint>

namespace hh {

namespace {

// Sequence length announced by a lead byte; 0 for continuation bytes and bytes never used.
inline size_t lead_length(uint8_t b) {
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;  // continuation byte, or C0/C1 (always overlong)
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  if (b < 0xF5) return 4;
  return 0;  // F5..FF would encode beyond U+10FFFF
}

// Allowed range of the second byte given the lead (Unicode Table 3-7): this is what rules out
// overlong forms, surrogates and code points above U+10FFFF.
inline bool second_byte_ok(uint8_t lead, uint8_t b) {
  switch (lead) {
    case 0xE0:
      return b >= 0xA0 && b <= 0xBF;
    case 0xED:
      return b >= 0x80 && b <= 0x9F;
    case 0xF0:
      return b >= 0x90 && b <= 0xBF;
    case 0xF4:
      return b >= 0x80 && b <= 0x8F;
    default:
      return b >= 0x80 && b <= 0xBF;
  }
}

inline bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Length of the maximal ill-formed subpart starting at `pos` (at least 1): the lead byte plus
// the continuation bytes that were still acceptable before the sequence broke off.
size_t ill_formed_length(std::string_view s, size_t pos) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  const size_t need = lead_length(lead);
  if (need <= 1) return 1;
  size_t len = 1;
  while (len < need && pos + len < s.size()) {
    const auto b = static_cast<uint8_t>(s[pos + len]);
    const bool ok = len == 1 ? second_byte_ok(lead, b) : is_continuation(b);
    if (!ok) break;
    ++len;
  }
  return len;
}

}  // namespace

size_t utf8_sequence_at(std::string_view s, size_t pos, char32_t* cp) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  if (lead < 0x80) {
    *cp = lead;
    return 1;
  }
  const size_t need = lead_length(lead);
  if (need == 0 || pos + need > s.size()) return 0;
  const auto b1 = static_cast<uint8_t>(s[pos + 1]);
  if (!second_byte_ok(lead, b1)) return 0;
  char32_t value = 0;
  switch (need) {
    case 2:
      value = (char32_t{lead} & 0x1F) << 6 | (b1 & 0x3F);
      break;
    case 3: {
      const auto b2 = static_cast<uint8_t>(s[pos + 2]);
      if (!is_continuation(b2)) return 0;
      value = (char32_t{lead} & 0x0F) << 12 | char32_t{b1 & 0x3Fu} << 6 | (b2 & 0x3F);
      break;
    }
    default: {
      const auto b2 = static_cast<uint8_t>(s[pos + 2]);
      const auto b3 = static_cast<uint8_t>(s[pos + 3]);
      if (!is_continuation(b2) || !is_continuation(b3)) return 0;
      value = (char32_t{lead} & 0x07) << 18 | char32_t{b1 & 0x3Fu} << 12 |
              char32_t{b2 & 0x3Fu} << 6 | (b3 & 0x3F);
      break;
    }
  }
  *cp = value;
  return need;
}

size_t utf8_valid_prefix(std::string_view s) {
  size_t pos = 0;
  const size_t n = s.size();
  while (pos < n) {
    // ASCII runs are by far the most common input; skip them eight bytes at a time.
    while (pos + 8 <= n) {
      uint64_t word = 0;
      for (int i = 0; i < 8; ++i) word |= uint64_t{static_cast<uint8_t>(s[pos + i])} << (8 * i);
      if (word & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= n) break;
    char32_t cp = 0;
    const size_t len = utf8_sequence_at(s, pos, &cp);
    if (len == 0) return pos;
    pos += len;
  }
  return n;
}

size_t utf8_incomplete_suffix(std::string_view s) {
  // A character is at most 4 bytes, so only the last 3 bytes can start an unfinished one.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t pos = n - back;
    const auto b = static_cast<uint8_t>(s[pos]);
    if (is_continuation(b)) continue;
    const size_t need = lead_length(b);
    if (need <= back) return 0;  // ASCII, invalid lead, or a sequence already complete
    return ill_formed_length(s, pos) == back ? back : 0;
  }
  return 0;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp & kUtf8StrayByte) {
    out.push_back(static_cast<char>(cp & 0xFF));  // a stray byte goes back out as it came
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_make_valid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t valid = utf8_valid_prefix(s.substr(pos));
    out.append(s.substr(pos, valid));
    pos += valid;
    if (pos >= s.size()) break;
    out.append("\xEF\xBF\xBD");
    pos += ill_formed_length(s, pos);
  }
  return out;
}

std::string quote_bytes(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = 0;
    const size_t len = utf8_sequence_at(s, pos, &cp);
    if (len == 0) {
      const auto b = static_cast<uint8_t>(s[pos]);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
      ++pos;
      continue;
    }
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {  // C0, DEL, C1: invisible or disruptive
          out += "\\u00";
          out += kHex[cp >> 4];
          out += kHex[cp & 15];
        } else {
          out.append(s.substr(pos, len));
        }
    }
    pos += len;
  }
  out += '"';
  return out;
}

}  // namespace hh
