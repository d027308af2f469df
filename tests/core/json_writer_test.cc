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

TEST(Render, TerminalEscapesControlBytes) {
  EXPECT_EQ(EscapeForTerminal("a\nb\x1b[0m\xff"), "a\\nb\\x1b[0m\\xff");
  EXPECT_EQ(EscapeForTerminal("caf\xc3\xa9"), "caf\xc3\xa9");
}

}  // namespace
}  // namespace twin
