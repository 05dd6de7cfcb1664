// postfix_native_test.cpp - a private Postfix with the lines and tables of
// `hardenctl gen postfix --no-milter` / `gen postfix-tables` and NO milter:
// what Postfix enforces by itself. The client is 127.0.0.1 (the runner's
// mynetworks, which Postfix's default event-limit exceptions would skip; the
// generated exceptions hold only the policy's allow rules).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include "harden/mtaconf/postfix.hpp"
#include "mta_runner.hpp"
#include "support/process.hpp"
#include "support/smtp_client.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const policy::UnixTime kNow =
    std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());

policy::Rule rule(const std::string& selector,
                  const std::vector<std::pair<std::string, std::string>>& attrs) {
  policy::Rule r;
  r.selector = policy::Selector::parse(selector);
  for (const auto& [k, v] : attrs) r.attrs.set(k, v);
  return r;
}

class PostfixNative : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = mta_unavailable("postfix");
    if (why.starts_with("needs root")) GTEST_SKIP() << why;
    ASSERT_EQ(why, "") << "postfix cannot run here";
    dir_ = std::make_unique<TempDir>("harden-mta", "/run");
  }

  void TearDown() override {
    if (mta_ && (HasFailure() || std::getenv("HARDEN_TEST_VERBOSE"))) {
      std::cerr << "---- main.cf lines ----\n"
                << main_cf_ << "---- postfix log ----\n"
                << mta_->log() << "---- end ----\n";
    }
    mta_.reset();
  }

  // Postfix with the generated lines and tables for `rules`.
  void start(std::vector<policy::Rule> rules) {
    const auto p = policy::Policy::build(std::move(rules));
    const mtaconf::Provenance from{"postfix_native_test", "(memory)"};
    mtaconf::PostfixOptions o;
    o.milter.clear();
    o.table_dir = (dir_->path() / "tables").string();
    std::filesystem::create_directories(o.table_dir);
    for (const auto& t : mtaconf::postfix_tables(*p, from, kNow)) {
      write_file(std::filesystem::path(o.table_dir) / t.file_name, t.text);
    }
    main_cf_ = mtaconf::postfix_main_cf(*p, o, from, kNow);
    mta_ = make_postfix(dir_->path(), main_cf_);
    mta_->start(0);
  }

  // The number a generated parameter is set to.
  int generated(const std::string& name) const {
    std::smatch m;
    const std::regex re("\n" + name + " = ([0-9]+)\n");
    if (!std::regex_search(main_cf_, m, re)) {
      ADD_FAILURE() << "no " << name << " in the generated lines";
      return -1;
    }
    return std::stoi(m[1]);
  }

  SmtpClient client() { return SmtpClient::connect("127.0.0.1", mta_->smtp_port(), 30s); }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Mta> mta_;
  std::string main_cf_;
};

TEST_F(PostfixNative, AnvilRefusesTheConnectionOverTheRateWith421) {
  start({rule("default", {{"conn_rate", "4/1m"}})});
  const int limit = generated("smtpd_client_connection_rate_limit");
  ASSERT_GE(limit, 1);
  for (int i = 1; i <= limit; ++i) {
    SmtpClient c = client();
    const SmtpReply g = c.read_reply();
    EXPECT_EQ(g.code, 220) << "connection " << i << ": " << g.describe();
    EXPECT_EQ(c.command("EHLO client.test.example").code, 250);
    c.command("QUIT");
  }
  SmtpClient over = client();
  SmtpReply r = over.read_reply();
  if (r.code == 220) r = over.command("EHLO client.test.example");
  EXPECT_EQ(r.code, 421) << r.describe();
  EXPECT_THAT(r.text, HasSubstr("too many connections")) << r.describe();
}

TEST_F(PostfixNative, ABlockedNetworkIsRefusedWith550AndItsReason) {
  start({rule("127.0.0.0/8", {{"action", "block"}, {"reason", "no $mail from here"}}),
         rule("default", {{"conn_rate", "100/1m"}})});
  SmtpClient c = client();
  EXPECT_EQ(c.read_reply().code, 220);
  EXPECT_EQ(c.command("EHLO client.test.example").code, 250);
  // smtpd_delay_reject = yes (Postfix's default): client restrictions answer at RCPT.
  const SmtpReply m = c.command("MAIL FROM:<sender@example.org>");
  SmtpReply r = m.code == 250 ? c.command("RCPT TO:<root@localhost>") : m;
  EXPECT_EQ(r.code, 550) << r.describe();
  EXPECT_THAT(r.text, HasSubstr("5.7.1 "));
  EXPECT_THAT(r.text, HasSubstr("no $mail from here"));
}

}  // namespace
}  // namespace harden::testing
