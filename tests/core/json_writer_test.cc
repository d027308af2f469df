#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "format/json_writer.h"
#include "format/render.h"

namespace twin {
namespace {

TEST(JsonWriter, HostileStringsStayValidJsonAndRoundTrip) {
  const std::vector<std::string> hostile = {
      "plain", "new\nline", "quote\"s and \\", "{{ lookup('pipe','id') }}", "\x1b[31mred",
      std::string("nul\0byte", 8), "\xff\xfe raw", "caf\xc3\xa9", "\xed\xa0\x80 surrogate bytes",
      "=HYPERLINK(\"x\")", "tab\t"};
  for (const auto& s : hostile) {
    std::string out;
    AppendJsonString(out, s);
    EXPECT_EQ(out.find('\n'), std::string::npos);
    auto j = nlohmann::json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    std::string back;
    ASSERT_TRUE(DecodeByteEscaped(j.get<std::string>(), &back));
    EXPECT_EQ(back, s) << out;
  }
}

TEST(JsonWriter, ObjectsAndArrays) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("a", "x").FieldU("n", 3).Key("l").BeginArray().String("p").Int(-1).EndArray()
      .FieldB("b", true).EndObject();
  EXPECT_EQ(out, R"({"a":"x","n":3,"l":["p",-1],"b":true})");
}

// Strings are checked eight bytes at a time (WordPlain). The oracle is the byte-at-a-time path:
// a single byte, or a short UTF-8 sequence, escapes the same wherever it sits in a long plain
// string, for every byte value at every offset of the word checks and their tails.
TEST(JsonWriter, EveryByteEscapesTheSameAtEveryOffsetOfALongString) {
  auto inner = [](std::string_view s) {  // the escaped text without the quotes
    std::string out;
    AppendJsonString(out, s);
    return out.substr(1, out.size() - 2);
  };
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.push_back(std::string(1, static_cast<char>(b)));
  for (const char* seq : {"\xc3\xa9", "\xe2\x80\xae", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
                          "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\xe2\x80"}) {
    pieces.push_back(seq);
  }
  for (const std::string& piece : pieces) {
    const std::string escaped = inner(piece);
    const bool plain = std::all_of(piece.begin(), piece.end(), [](char ch) {
      const auto c = static_cast<unsigned char>(ch);
      return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
    });
    for (size_t len : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31}) {
      for (size_t at = 0; at + piece.size() <= len; ++at) {
        std::string s(len, 'a');
        s.replace(at, piece.size(), piece);
        const std::string want = std::string(at, 'a') + escaped +
                                 std::string(len - at - piece.size(), 'a');
        ASSERT_EQ(inner(s), want) << "piece " << escaped << " at " << at << " of " << len;
        EXPECT_EQ(PlainRun(s, 0), plain ? len : at) << escaped << " at " << at;
      }
    }
  }
}

TEST(JsonWriter, KeysFromTheHostAreEscapedLiteralKeysCopied) {
  std::string out;
  JsonWriter w(out);
  const std::string hostile = "a\"b\n";
  w.BeginObject().Field("lit", "v").Field(hostile, "x").Field(std::string_view("k\\"), "y")
      .FieldU("n", 1).EndObject();
  EXPECT_EQ(out, R"({"lit":"v","a\"b\n":"x","k\\":"y","n":1})");
}

TEST(Render, TerminalEscapesControlBytes) {
  EXPECT_EQ(EscapeForTerminal("a\nb\x1b[0m\xff"), "a\\nb\\x1b[0m\\xff");
  EXPECT_EQ(EscapeForTerminal("caf\xc3\xa9"), "caf\xc3\xa9");
}

}  // namespace
}  // namespace twin
