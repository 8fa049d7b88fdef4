#pragma once
// UTF-8 helpers shared by the tokenizer: validation with the same rules as Rust's `str` and
// utf8proc (no overlong forms, no surrogates, nothing above U+10FFFF), code point decoding and
// encoding, and the test the streaming decoder needs ("could these bytes still become a
// character?").
#include <cstddef>
#include <string>
#include <string_view>

namespace hh {

// Length (1-4) of the well-formed UTF-8 sequence starting at `s[pos]`, or 0 when the bytes
// there do not form one (ill-formed or cut off by the end of `s`). `*cp` receives the code
// point when the result is non-zero.
size_t utf8_sequence_at(std::string_view s, size_t pos, char32_t* cp);

// Bytes of the longest prefix of `s` that is well-formed UTF-8.
size_t utf8_valid_prefix(std::string_view s);

inline bool utf8_is_valid(std::string_view s) { return utf8_valid_prefix(s) == s.size(); }

// Number of trailing bytes of `s` that are an incomplete but still completable sequence (a lead
// byte followed by fewer continuation bytes than it announces, every byte allowed so far);
// 0 when `s` ends on a character boundary or on bytes that can never become a character.
size_t utf8_incomplete_suffix(std::string_view s);

// Set in a decoded value that stands for one stray byte (not part of well-formed UTF-8) rather
// than a code point: the byte is in the low 8 bits. The Jinja engine decodes this way so that no
// input is rejected and such bytes go back out unchanged.
inline constexpr char32_t kUtf8StrayByte = 0x80000000u;

// Appends the UTF-8 form of `cp` (a Unicode code point), or the byte itself when `cp` carries
// kUtf8StrayByte.
void append_utf8(std::string& out, char32_t cp);

// Replaces every ill-formed part of `s` with U+FFFD, one per maximal ill-formed subpart (the
// W3C/Unicode practice that Python's and Rust's lossy decoders follow).
std::string utf8_make_valid(std::string_view s);

// `s` as a double-quoted JSON string literal for display (tokenize's pieces): UTF-8 kept as is,
// quotes, backslashes and control characters escaped (\n, \t, \r, \u001b ...), and each byte
// that is not part of a well-formed character written \xNN (an extension of JSON, so that
// tokens holding part of a character stay visible).
std::string quote_bytes(std::string_view s);

}  // namespace hh
