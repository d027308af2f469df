// The one escaping function for human output. Host strings (process names, argv, paths, unit
// names, error messages that quote them) are hostile: before any of them reaches a terminal,
// every byte or code point a terminal could act on or that could disguise the text is replaced
// by a visible escape. JSON output does not use this (json_writer.h is lossless).
#pragma once

#include <string>
#include <string_view>

namespace twin {

// Printable ASCII and valid UTF-8 letters stay as they are; '\\' becomes "\\\\"; \n \r \t become
// "\n" "\r" "\t"; other C0 bytes and DEL become "\x1b"-style escapes; C1 controls (U+0080-U+009F),
// bidi controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069), zero-width and other format
// characters (U+00AD, U+180E, U+200B-U+200D, U+2028/9, U+2060-U+2064, U+FEFF, U+FFF9-U+FFFB,
// U+E0000-U+E007F), noncharacters (U+FDD0-U+FDEF, U+xxFFFE/F) and private use planes 15-16 become
// "\u{202e}"; every byte that is not part of valid UTF-8 (overlong forms, surrogates, code points
// above U+10FFFF, truncated sequences, stray continuation bytes) becomes "\xff".
std::string EscapeForTerminal(std::string_view s);

// For twind's log lines: every byte outside printable ASCII, and '\\', becomes "\x1b"-style, so
// a log line is one line of ASCII whatever a unit or path holds.
std::string LogEscape(std::string_view s);

// Prints "<prefix><escaped message>\n" to stderr: the way every error that may quote host data
// (paths, names) is shown. prefix is ours ("twin-replay export: ").
void PrintError(std::string_view prefix, std::string_view message);

}  // namespace twin
