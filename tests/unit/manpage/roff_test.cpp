// roff_test.cpp - harden::manpage: whatever a table holds comes out as roff
// text that groff prints as written (no request, no escape of its own).
#include "harden/manpage/roff.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <string>

namespace harden::manpage {
namespace {

struct Case {
  const char* in;
  const char* out;
};

TEST(RoffEscape, ProtectsWhatRoffWouldInterpret) {
  const Case cases[] = {
      {"plain text", "plain text"},
      {"--config FILE", "\\-\\-config FILE"},
      {R"(/^dsl-[0-9-]+\./)", R"(/^dsl\-[0\-9\-]+\e./)"},
      {".adsl.example.net", "\\&.adsl.example.net"},
      {"'quoted", "\\&'quoted"},
      {"a\n.b", "a\n\\&.b"},                  // every line start, not only the first
      {"mid.dot it's", "mid.dot it's"},       // only at a line start
      {"a \xE2\x80\x94 b", "a \\[u2014] b"},  // UTF-8 em dash
      {"\xC3\xA9", "\\[u00E9]"},
      {"\xFF", "\\[uFFFD]"},  // not UTF-8
      {"tab\there", "tab        here"},
  };
  for (const auto& c : cases) EXPECT_EQ(escape(c.in), c.out) << c.in;
}

TEST(RoffMacros, QuoteArgumentsAndKeepPreformattedLines) {
  EXPECT_EQ(
      title("milter-harden.yaml", 5, "milter-harden 1.0", "File Formats Manual"),
      ".TH \"MILTER\\-HARDEN.YAML\" 5 \"\" \"milter\\-harden 1.0\" \"File Formats Manual\"\n");
  EXPECT_EQ(section("SEE \"ALSO\""), ".SH \"SEE \\(dqALSO\\(dq\"\n");
  EXPECT_EQ(tagged("--db", "PATH", "the store"), ".TP\n.BI \"\\-\\-db\" \" PATH\"\nthe store\n");
  EXPECT_EQ(tagged("SIGHUP", "", ""), ".TP\n.B \"SIGHUP\"\n\\&\n");
  EXPECT_EQ(preformatted("\n\nExamples:\n  hardenctl init\n\n.x\n\n"),
            ".PP\n.nf\nExamples:\n  hardenctl init\n\\&\n\\&.x\n.fi\n");
  EXPECT_EQ(preformatted("\n\n"), "");
}

TEST(RoffOptions, ListsVisibleOptionsAsHelpNamesThem) {
  CLI::App app{"demo - a demo", "demo"};
  std::string file;
  bool hidden = false;
  app.add_option("-c,--config", file, "YAML configuration file")->type_name("FILE");
  app.add_flag("--secret", hidden, "not shown")->group("");
  CLI::App* sub = app.add_subcommand("run", "run it");
  std::string target;
  sub->add_option("target", target, "what to run")->required();
  const std::string top = options(app);
  EXPECT_NE(top.find(".BI \"\\-c,\\-\\-config\" \" FILE\"\nYAML configuration file\n"),
            std::string::npos)
      << top;
  EXPECT_NE(top.find("\\-h,\\-\\-help"), std::string::npos) << top;
  EXPECT_EQ(top.find("secret"), std::string::npos) << top;
  const std::string run = options(*sub);
  EXPECT_NE(run.find("target"), std::string::npos) << run;
  EXPECT_EQ(run.find("help"), std::string::npos) << run;  // a command's own -h is left out
  EXPECT_EQ(usage(*sub, "demo run"), "demo run [OPTIONS] target");
}

}  // namespace
}  // namespace harden::manpage
