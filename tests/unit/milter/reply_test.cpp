// reply_test.cpp - Decision -> milter reply mapping, reply text sanitizing,
// and the enforcement log line (format and fail2ban-matchability).
#include "harden/milter/reply.hpp"

#include <gtest/gtest.h>
#include <libmilter/mfapi.h>

#include <regex>

namespace harden::milter {
namespace {

using policy::Decision;
using policy::DecisionKind;
using policy::Verdict;

Decision refusal(Verdict v, std::string rcode, std::string xcode, std::string text) {
  Decision d;
  d.verdict = v;
  d.kind = DecisionKind::conn_rate;
  d.rcode = std::move(rcode);
  d.xcode = std::move(xcode);
  d.text = std::move(text);
  d.rule = "default";
  d.figure = "conn_rate 6/1m > 5/1m";
  return d;
}

TEST(MilterReplyTest, MapsEveryVerdict) {
  struct Case {
    Decision d;
    Stage stage;
    int status;
    std::string reply;
  };
  Decision accept;
  accept.verdict = Verdict::accept_all;
  Decision monitor = refusal(Verdict::proceed, "421", "4.3.2", "x");
  monitor.monitor = true;
  Decision throttle;
  throttle.kind = DecisionKind::bad_rcpt_throttle;
  throttle.delay = std::chrono::seconds{1};
  for (const Case& c : std::vector<Case>{
           {Decision{}, Stage::connect, SMFIS_CONTINUE, ""},
           {accept, Stage::connect, SMFIS_ACCEPT, ""},
           {accept, Stage::envrcpt, SMFIS_CONTINUE, ""},
           {monitor, Stage::connect, SMFIS_CONTINUE, ""},
           {throttle, Stage::envrcpt, SMFIS_CONTINUE, ""},
           {refusal(Verdict::tempfail, "421", "4.3.2", "Connection rate limit exceeded."),
            Stage::connect, SMFIS_TEMPFAIL, "421 4.3.2 Connection rate limit exceeded."},
           {refusal(Verdict::reject, "550", "5.7.1", "Access denied"), Stage::connect, SMFIS_REJECT,
            "550 5.7.1 Access denied"},
           {refusal(Verdict::tempfail, "452", "4.5.3", "Too many recipients"), Stage::envrcpt,
            SMFIS_TEMPFAIL, "452 4.5.3 Too many recipients"},
           // the status follows the reply code: libmilter sends the text only when they agree
           {refusal(Verdict::tempfail, "554", "5.7.1", "x"), Stage::connect, SMFIS_REJECT,
            "554 5.7.1 x"},
           // bad reply codes fall back by verdict; bad enhanced codes are dropped
           {refusal(Verdict::reject, "250", "2.0.0", "x"), Stage::connect, SMFIS_REJECT, "550 x"},
           {refusal(Verdict::tempfail, "4444", "", "x"), Stage::connect, SMFIS_TEMPFAIL, "451 x"},
           {refusal(Verdict::reject, "", "", ""), Stage::connect, SMFIS_REJECT, "550"},
           {refusal(Verdict::reject, "550", "4.7.1", "x"), Stage::connect, SMFIS_REJECT, "550 x"},
           {refusal(Verdict::reject, "550", "5.7", "x"), Stage::connect, SMFIS_REJECT, "550 x"},
           {refusal(Verdict::reject, "550", "5.1234.1", "x"), Stage::connect, SMFIS_REJECT,
            "550 x"},
           {refusal(Verdict::reject, "550", "5.7.1x", "x"), Stage::connect, SMFIS_REJECT, "550 x"},
           {refusal(Verdict::reject, "550", "5.700.100", "x"), Stage::connect, SMFIS_REJECT,
            "550 5.700.100 x"},
       }) {
    SCOPED_TRACE(c.reply);
    const MilterReply r = to_milter_reply(c.d, c.stage);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.has_reply() ? r.to_string() : "", c.reply);
  }
}

TEST(MilterReplyTest, SanitizesTextForSmfiSetreply) {
  struct Case {
    std::string in, out;
  };
  for (const Case& c : std::vector<Case>{
           {"Access denied", "Access denied"},
           {"100% sure", "100%% sure"},
           {"%s%n%%", "%%s%%n%%%%"},
           {"line1\r\n250 OK", "line1  250 OK"},
           {std::string("nul\0byte", 8), "nul?byte"},
           {"caf\xc3\xa9 \x01\x7f", "caf?? ??"},
           {"  padded  ", "padded"},
           {"\r\n", ""},
           {"", ""},
       }) {
    EXPECT_EQ(sanitize_reply_text(c.in), c.out);
  }
}

TEST(MilterReplyTest, LongTextIsCutWithoutSplittingAnEscape) {
  const std::string long_text = std::string(kMaxReplyText - 1, 'a') + "%%%%";
  const std::string out = sanitize_reply_text(long_text);
  EXPECT_LE(out.size(), kMaxReplyText);
  EXPECT_EQ(out.size(), kMaxReplyText - 1);  // a lone '%' would not fit as "%%"
  const std::string out2 = sanitize_reply_text(std::string(5000, 'x'));
  EXPECT_EQ(out2.size(), kMaxReplyText);
  const std::string out3 = sanitize_reply_text(std::string(5000, '%'));
  EXPECT_EQ(out3.size() % 2, 0u);
  EXPECT_EQ(out3.find_first_not_of('%'), std::string::npos);
}

TEST(EnforcementLineTest, RejectLineHasEveryField) {
  const Decision d = refusal(Verdict::tempfail, "421", "4.3.2", "Connection rate limit exceeded.");
  const std::string line = enforcement_line(d, {"192.0.2.7", "dsl-1-2.example.net"});
  EXPECT_EQ(line,
            "reject: client=[192.0.2.7] name=dsl-1-2.example.net kind=conn_rate rule=default "
            "figure=\"conn_rate 6/1m > 5/1m\" reply=\"421 4.3.2 Connection rate limit exceeded.\"");
}

TEST(EnforcementLineTest, MonitorSaysWouldRejectWithTheSameDetail) {
  Decision d = refusal(Verdict::reject, "550", "5.7.1", "100% dial-in");
  d.kind = DecisionKind::dialin;
  d.rule = "dialin ipv4-dashed";
  d.verdict = Verdict::proceed;  // what Engine::finish makes of it
  d.monitor = true;
  EXPECT_EQ(enforcement_line(d, {"2001:db8::7", "unknown"}),
            "would reject: client=[2001:db8::7] name=unknown kind=dialin "
            "rule=\"dialin ipv4-dashed\" figure=\"conn_rate 6/1m > 5/1m\" "
            "reply=\"550 5.7.1 100% dial-in\"");
}

TEST(EnforcementLineTest, ThrottleLinesAndSilentDecisions) {
  Decision t;
  t.kind = DecisionKind::bad_rcpt_throttle;
  t.delay = std::chrono::milliseconds{1000};
  t.rule = "default";
  t.figure = "bad_rcpt_throttle 2 >= 2";
  EXPECT_EQ(enforcement_line(t, {"192.0.2.7", "[192.0.2.7]"}),
            "throttle: client=[192.0.2.7] name=[192.0.2.7] kind=bad_rcpt_throttle rule=default "
            "figure=\"bad_rcpt_throttle 2 >= 2\" reply=\"delayed 1000ms\"");
  t.delay = std::chrono::milliseconds{0};
  t.monitor = true;
  EXPECT_TRUE(enforcement_line(t, {"192.0.2.7", "x"}).starts_with("would throttle: "));
  Decision accept;
  accept.verdict = Verdict::accept_all;
  accept.kind = DecisionKind::allowed;
  EXPECT_EQ(enforcement_line(accept, {"192.0.2.7", "x"}), "");
  EXPECT_EQ(enforcement_line(Decision{}, {"192.0.2.7", "x"}), "");
}

TEST(EnforcementLineTest, HostileNamesCannotBreakTheLine) {
  const Decision d = refusal(Verdict::reject, "550", "5.7.1", "x");
  const std::string line =
      enforcement_line(d, {"192.0.2.7", "evil\n\" reject: client=[10.0.0.1] x=\\"});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find(R"(name="evil\x0a\" reject: client=[10.0.0.1] x=\\")"), std::string::npos)
      << line;
  // fail2ban's <HOST> is the first bracketed client, never the injected one.
  const std::regex fail2ban(R"(^(?:would )?reject: client=\[([^\]]+)\] )");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(line, m, fail2ban));
  EXPECT_EQ(m[1], "192.0.2.7");
}

TEST(LogValueTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(log_value("default"), "default");
  EXPECT_EQ(log_value("/^dsl-[0-9-]+\\./"), "\"/^dsl-[0-9-]+\\\\./\"");
  EXPECT_EQ(log_value(""), "\"\"");
  EXPECT_EQ(log_value("a=b"), "\"a=b\"");
  EXPECT_EQ(log_value("tab\there"), "\"tab\\x09here\"");
}

}  // namespace
}  // namespace harden::milter
