// protocol_test.cpp - the sans-I/O milter protocol session: negotiation,
// every command, replies, the pending flow, and every violation kind.
#include "harden/milter/protocol.hpp"

#include <gtest/gtest.h>
#include <libmilter/mfapi.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "protocol_packets.hpp"

namespace harden::milter {
namespace {

using namespace harden::milter::testing;  // NOLINT: packet builders

// Records what the session tells the Engine side; answers from a script.
struct Recorder : ProtocolHandler {
  std::vector<std::string> events;
  Negotiation want{6, 0, SMFIP_RCPT_REJ | SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH};
  std::vector<SymList> symlists{{SMFIM_CONNECT, "{client_addr} {daemon_port}"}};
  std::optional<Reply> connect_reply = Reply{};
  std::optional<Reply> mail_reply = Reply{};
  std::optional<Reply> rcpt_reply = Reply{};
  std::string seen_client_addr;
  int message_ends = 0;
  int session_ends = 0;

  Negotiation negotiate(const Negotiation& offered, std::vector<SymList>& out) override {
    events.push_back("optneg v" + std::to_string(offered.version));
    out = symlists;
    return want;
  }
  Response connect(const ProtocolSession& s, const ConnectCommand& c) override {
    events.push_back("connect " + std::string(c.hostname) + " " +
                     std::string(1, static_cast<char>(c.family)) + " " + std::to_string(c.port) +
                     " " + std::string(c.address));
    seen_client_addr = std::string(s.lookup("{client_addr}").value_or("-"));
    return connect_reply ? Response::now(*connect_reply) : Response::later();
  }
  Response helo(const ProtocolSession&, std::string_view name) override {
    events.push_back("helo " + std::string(name));
    return Response::now(Reply{});
  }
  Response mail(const ProtocolSession&, const std::vector<std::string_view>& args) override {
    events.push_back("mail " + std::string(args.at(0)) + " +" + std::to_string(args.size() - 1));
    return mail_reply ? Response::now(*mail_reply) : Response::later();
  }
  Response rcpt(const ProtocolSession& s, const std::vector<std::string_view>& args) override {
    events.push_back("rcpt " + std::string(args.at(0)) +
                     " mailer=" + std::string(s.lookup("rcpt_mailer").value_or("-")));
    return rcpt_reply ? Response::now(*rcpt_reply) : Response::later();
  }
  void message_end() override {
    ++message_ends;
    events.push_back("message_end");
  }
  void session_end() override {
    ++session_ends;
    events.push_back("session_end");
  }
};

Reply replycode(std::string rcode, std::string xcode, std::string text) {
  Reply r;
  r.kind = Reply::Kind::replycode;
  r.rcode = std::move(rcode);
  r.xcode = std::move(xcode);
  r.text = std::move(text);
  return r;
}

Reply of(Reply::Kind k) {
  Reply r;
  r.kind = k;
  return r;
}

// The packets a Postfix smtpd sends for one whole message.
std::string postfix_message_session() {
  return optneg(6, 0x1ff, 0x1fffff) +
         macro('C', {"j", "mx.test", "{daemon_addr}", "127.0.0.1", "{client_addr}", "192.0.2.7"}) +
         connect_inet("client.example", '4', 40000, "192.0.2.7") + helo("client.example") +
         macro('M', {"{mail_addr}", "a@example.org"}) + mail({"<a@example.org>", "SIZE=10"}) +
         macro('R', {"{rcpt_mailer}", "local"}) + rcpt({"<b@test>"}) + packet('T', "") +
         header("Subject", "hi") + packet('N', "") + packet('B', "body\r\n") + packet('E', "") +
         packet('Q', "");
}

TEST(ProtocolSessionTest, WholePostfixSessionGetsEveryReplyInOrder) {
  Recorder h;
  ProtocolSession s(h);
  const Feed f = s.feed(postfix_message_session());
  EXPECT_EQ(f.status, Feed::Status::closed);
  EXPECT_EQ(h.events,
            (std::vector<std::string>{"optneg v6", "connect client.example 4 40000 192.0.2.7",
                                      "helo client.example", "mail <a@example.org> +1",
                                      "rcpt <b@test> mailer=local", "message_end", "session_end"}));
  EXPECT_EQ(h.seen_client_addr, "192.0.2.7");
  const std::vector<Packet> out = parse_packets(s.take_output());
  // optneg, connect, helo, mail, rcpt, data, header, eoh, body, eom
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(out[0].cmd, 'O');
  for (std::size_t i = 1; i < out.size(); ++i) EXPECT_EQ(out[i].cmd, 'c') << i;
}

TEST(ProtocolSessionTest, NegotiationIsCutToTheOfferAndCarriesTheMacroLists) {
  Recorder h;
  h.want.actions = SMFIF_ADDHDRS | 0x4000;  // asks for an action nobody offered
  h.want.protocol |= SMFIP_NOCONNECT | SMFIP_NOMAIL | SMFIP_NR_HDR;
  ProtocolSession s(h);
  s.feed(optneg(6, SMFIF_ADDHDRS | SMFIF_SETSYMLIST,
                SMFIP_RCPT_REJ | SMFIP_NOBODY | SMFIP_NOCONNECT | SMFIP_NOMAIL | 0x40000000));
  const std::vector<Packet> out = parse_packets(s.take_output());
  ASSERT_EQ(out.size(), 1u);
  const std::string& d = out[0].data;
  ASSERT_GE(d.size(), 12u);
  EXPECT_EQ(be32(d, 0), 6u);
  EXPECT_EQ(be32(d, 4), static_cast<std::uint32_t>(SMFIF_ADDHDRS | SMFIF_SETSYMLIST));
  EXPECT_EQ(be32(d, 8), static_cast<std::uint32_t>(SMFIP_RCPT_REJ | SMFIP_NOBODY));
  EXPECT_EQ(d.substr(12), std::string("\0\0\0\0{client_addr} {daemon_port}\0", 32));
  EXPECT_EQ(s.negotiated().protocol, static_cast<std::uint32_t>(SMFIP_RCPT_REJ | SMFIP_NOBODY));
}

TEST(ProtocolSessionTest, NoMacroListsWhenTheMtaCannotTakeThem) {
  Recorder h;
  ProtocolSession s(h);
  s.feed(optneg(2, SMFI_V2_ACTS, SMFI_V2_PROT));
  const std::vector<Packet> out = parse_packets(s.take_output());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data.size(), 12u);
  EXPECT_EQ(be32(out[0].data, 0), 2u);  // the MTA's older version is answered
}

TEST(ProtocolSessionTest, ReplyCodesAreSentAsLibmilterDoes) {
  Recorder h;
  h.connect_reply = replycode("421", "4.3.2", "Connection rate limit exceeded.");
  ProtocolSession s(h);
  s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1"));
  const std::vector<Packet> out = parse_packets(s.take_output());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].cmd, 'y');
  EXPECT_EQ(out[1].data, std::string("421 4.3.2 Connection rate limit exceeded.\0", 42));
}

TEST(ProtocolSessionTest, EncodeReplyKeepsTheReplyOnOneLineAndValid) {
  EXPECT_EQ(parse_packets(encode_reply(Reply{})).at(0).cmd, 'c');
  EXPECT_EQ(parse_packets(encode_reply(of(Reply::Kind::accept))).at(0).cmd, 'a');
  EXPECT_EQ(parse_packets(encode_reply(of(Reply::Kind::reject))).at(0).cmd, 'r');
  EXPECT_EQ(parse_packets(encode_reply(of(Reply::Kind::tempfail))).at(0).cmd, 't');
  // no 4xx/5xx code: a plain reject, never a success code from a milter
  EXPECT_EQ(parse_packets(encode_reply(replycode("250", "", "ok"))).at(0).cmd, 'r');
  EXPECT_EQ(parse_packets(encode_reply(replycode("55", "", "x"))).at(0).cmd, 'r');
  // an enhanced code of the other class is dropped; CR, LF, NUL become spaces
  const Packet p =
      parse_packets(encode_reply(replycode("550", "4.7.1", std::string("a\r\nb\0c", 6)))).at(0);
  EXPECT_EQ(p.data, std::string("550 a  b c\0", 11));
  const Packet longp =
      parse_packets(encode_reply(replycode("550", "", std::string(5000, 'x')))).at(0);
  EXPECT_LE(longp.data.size(), 981u);
}

TEST(ProtocolSessionTest, PendingConnectHoldsLaterCommandsUntilCompleted) {
  Recorder h;
  h.connect_reply.reset();  // later
  ProtocolSession s(h);
  Feed f = s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1"));
  EXPECT_EQ(f.status, Feed::Status::pending);
  EXPECT_TRUE(s.pending());
  EXPECT_EQ(parse_packets(s.take_output()).size(), 1u);  // only the optneg reply
  f = s.feed(helo("c.example"));
  EXPECT_EQ(f.status, Feed::Status::pending);
  EXPECT_EQ(h.events.size(), 2u);  // helo not processed yet
  EXPECT_FALSE(s.has_output());
  f = s.complete(replycode("554", "5.7.1", "Rejected: pre-greeting traffic"));
  EXPECT_EQ(f.status, Feed::Status::more);
  EXPECT_EQ(h.events.back(), "helo c.example");
  const std::vector<Packet> out = parse_packets(s.take_output());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].cmd, 'y');
  EXPECT_EQ(out[1].cmd, 'c');
}

TEST(ProtocolSessionTest, PendingMailRefusedEndsTheTransaction) {
  Recorder h;
  h.mail_reply.reset();
  ProtocolSession s(h);
  s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1") + mail({"<a@b>"}));
  ASSERT_TRUE(s.pending());
  s.complete(replycode("450", "4.7.1", "too many messages"));
  EXPECT_EQ(h.message_ends, 1);
  // RCPT without a transaction is out of order now
  const Feed f = s.feed(rcpt({"<x@y>"}));
  EXPECT_EQ(f.status, Feed::Status::violation);
  EXPECT_EQ(f.violation, Violation::out_of_order);
}

TEST(ProtocolSessionTest, ByteByByteGivesTheSameAsAllAtOnce) {
  Recorder whole_h;
  ProtocolSession whole(whole_h);
  whole.feed(postfix_message_session());
  Recorder bytes_h;
  ProtocolSession bytes(bytes_h);
  const std::string in = postfix_message_session();
  std::string out;
  for (char c : in) {
    bytes.feed(std::string_view(&c, 1));
    out += bytes.take_output();
  }
  EXPECT_EQ(out, whole.take_output());
  EXPECT_EQ(bytes_h.events, whole_h.events);
}

TEST(ProtocolSessionTest, NoReplyFlagsSuppressTheirReplies) {
  Recorder h;
  h.want.protocol = SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_DATA;
  ProtocolSession s(h);
  s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1") + mail({"<a@b>"}) +
         rcpt({"<c@d>"}) + packet('T', "") + header("A", "b") + packet('N', "") + packet('B', "x") +
         packet('E', ""));
  const std::vector<Packet> out = parse_packets(s.take_output());
  // optneg, connect, mail, rcpt, eom
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[4].cmd, 'c');
}

TEST(ProtocolSessionTest, QuitNcEndsTheSessionAndANewConnectFollows) {
  Recorder h;
  ProtocolSession s(h);
  const Feed f = s.feed(optneg(6, 0x1ff, 0x1fffff) + macro('C', {"{client_addr}", "192.0.2.1"}) +
                        connect_inet("a", '4', 1, "192.0.2.1") + packet('K', "") +
                        connect_inet("b", '6', 2, "2001:db8::1"));
  EXPECT_EQ(f.status, Feed::Status::more);
  EXPECT_EQ(h.session_ends, 1);
  EXPECT_EQ(h.events.back(), "connect b 6 2 2001:db8::1");
  EXPECT_EQ(h.seen_client_addr, "-");  // QUIT_NC cleared the old macros
  s.close();
  EXPECT_EQ(h.session_ends, 2);
  s.close();  // idempotent
  EXPECT_EQ(h.session_ends, 2);
}

TEST(ProtocolSessionTest, AbortEndsTheMessageAndDropsItsMacros) {
  Recorder h;
  ProtocolSession s(h);
  s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1") +
         macro('C', {"j", "mx"}) + macro('M', {"{mail_addr}", "a@b"}) + mail({"<a@b>"}) +
         packet('A', ""));
  EXPECT_EQ(h.message_ends, 1);
  EXPECT_FALSE(s.lookup("{mail_addr}"));
  EXPECT_EQ(s.lookup("{j}").value_or(""), "mx");  // "{j}" finds "j"
  EXPECT_EQ(s.lookup("j").value_or(""), "mx");
}

TEST(ProtocolSessionTest, MailInsideATransactionEndsTheOldOne) {
  Recorder h;
  ProtocolSession s(h);
  const Feed f = s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1") +
                        mail({"<a@b>"}) + rcpt({"<c@d>"}) + mail({"<e@f>"}) + rcpt({"<g@h>"}));
  EXPECT_EQ(f.status, Feed::Status::more);
  EXPECT_EQ(h.message_ends, 1);
}

TEST(ProtocolSessionTest, PostfixMacrosForUnknownHeaderAndBodyAreAccepted) {
  Recorder h;
  ProtocolSession s(h);
  const Feed f = s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1") +
                        macro('U', {}) + unknown("VRFY x") + macro('C', {}) + mail({"<a@b>"}) +
                        rcpt({"<c@d>"}) + macro('L', {"i", "ABC"}) + header("A", "b") +
                        macro('B', {"i", "ABC"}) + packet('B', "x"));
  EXPECT_EQ(f.status, Feed::Status::more);
  EXPECT_FALSE(s.lookup("i"));
}

TEST(ProtocolSessionTest, ConnectFamilies) {
  for (const std::string& c :
       {connect_inet("h", '4', 25, "192.0.2.1"), connect_inet("h", '6', 25, "2001:db8::1"),
        connect_inet("h", 'L', 0, "/run/x.sock"),
        std::string(packet('C', std::string("h\0U", 3)))}) {
    Recorder h;
    ProtocolSession s(h);
    EXPECT_EQ(s.feed(optneg(6, 0x1ff, 0x1fffff) + c).status, Feed::Status::more);
    EXPECT_EQ(h.events.size(), 2u);
  }
}

struct ViolationCase {
  const char* name;
  std::string bytes;  // after a good OPTNEG unless `raw`
  Violation want;
  bool raw = false;
};

std::vector<ViolationCase> violation_cases() {
  const std::string conn = connect_inet("c", '4', 1, "192.0.2.1");
  std::string many;
  for (int i = 0; i < 129; ++i) {
    many += "m" + std::to_string(i);
    many += '\0';
    many += 'v';
    many += '\0';
  }
  return {
      {"zero length", std::string(4, '\0'), Violation::zero_length},
      {"huge length", std::string("\x7f\xff\xff\xff", 4), Violation::oversized},
      {"one over the limit", std::string("\x00\x01\x00\x01", 4), Violation::oversized},
      {"unknown command", packet('Z', ""), Violation::unknown_command},
      {"unknown command first", packet('z', ""), Violation::unknown_command, true},
      {"odd macro list",
       macro_raw('C', std::string("{client_addr}\0"
                                  "192.0.2.93\0injected\0",
                                  34)) +
           conn,
       Violation::odd_macros},
      {"macro string unterminated", macro_raw('C', std::string("j\0mx", 4)), Violation::malformed},
      {"macro without stage", packet('D', ""), Violation::malformed},
      {"macro stage no command", macro_raw('z', std::string("j\0mx\0", 5)), Violation::malformed},
      {"macro empty name", macro_raw('C', std::string("\0mx\0", 4)), Violation::macro_limits},
      {"macro name too long", macro('C', {std::string(65, 'n'), "v"}), Violation::macro_limits},
      {"macro value too long", macro('C', {"n", std::string(4097, 'v')}), Violation::macro_limits},
      {"too many macros", macro_raw('C', many), Violation::macro_limits},
      {"command before optneg", conn, Violation::out_of_order, true},
      {"second optneg", optneg(6, 0x1ff, 0x1fffff), Violation::out_of_order},
      {"optneg too short", packet('O', std::string(11, '\0')), Violation::malformed, true},
      {"optneg version 1", optneg(1, 0x1ff, 0x1fffff), Violation::bad_version, true},
      {"second connect", conn + conn, Violation::duplicate_connect},
      {"connect no NUL", packet('C', "host"), Violation::malformed},
      {"connect no family", packet('C', std::string("host\0", 5)), Violation::malformed},
      {"connect bad family", packet('C', std::string("h\0X\0\1a\0", 7)), Violation::malformed},
      {"connect address unterminated",
       packet('C', std::string("h\0"
                               "4\0\1"
                               "1.2.3.4",
                               12)),
       Violation::malformed},
      {"connect NUL in address",
       packet('C', std::string("h\0"
                               "4\0\1"
                               "1.2\0.3\0",
                               12)),
       Violation::malformed},
      {"connect short port",
       packet('C', std::string("h\0"
                               "4\0",
                               4)),
       Violation::malformed},
      {"connect unknown with data", packet('C', std::string("h\0Ux", 4)), Violation::malformed},
      {"helo before connect", helo("x"), Violation::out_of_order},
      {"mail before connect", mail({"<a@b>"}), Violation::out_of_order},
      {"rcpt outside transaction", conn + rcpt({"<a@b>"}), Violation::out_of_order},
      {"eom outside transaction", conn + packet('E', ""), Violation::out_of_order},
      {"data outside transaction", conn + packet('T', ""), Violation::out_of_order},
      {"header outside transaction", conn + header("a", "b"), Violation::out_of_order},
      {"body outside transaction", conn + packet('B', "x"), Violation::out_of_order},
      {"mail no args", conn + packet('M', ""), Violation::malformed},
      {"helo two strings", conn + packet('H', std::string("a\0b\0", 4)), Violation::malformed},
      {"helo unterminated", conn + packet('H', "a"), Violation::malformed},
      {"header one string", conn + mail({"<a@b>"}) + packet('L', std::string("a\0", 2)),
       Violation::malformed},
      {"data with bytes", conn + mail({"<a@b>"}) + packet('T', "x"), Violation::malformed},
      {"unknown before connect", unknown("x"), Violation::out_of_order},
  };
}

TEST(ProtocolSessionTest, EveryViolationEndsTheSessionOnceAndStaysEnded) {
  for (const ViolationCase& c : violation_cases()) {
    SCOPED_TRACE(c.name);
    Recorder h;
    ProtocolSession s(h);
    const std::string in = (c.raw ? "" : optneg(6, 0x1ff, 0x1fffff)) + c.bytes;
    const Feed f = s.feed(in);
    EXPECT_EQ(f.status, Feed::Status::violation);
    EXPECT_EQ(to_string(f.violation), to_string(c.want));
    EXPECT_LE(h.session_ends, 1);
    // nothing more is processed; the same answer again
    const std::size_t events = h.events.size();
    const Feed again = s.feed(postfix_message_session());
    EXPECT_EQ(again.status, Feed::Status::violation);
    EXPECT_EQ(h.events.size(), events);
    s.close();
    EXPECT_LE(h.session_ends, 1);
  }
}

TEST(ProtocolSessionTest, ViolationAfterConnectEndsTheSessionForTheHandler) {
  Recorder h;
  ProtocolSession s(h);
  const Feed f =
      s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1") + mail({"<a@b>"}) +
             macro_raw('R', std::string("{rcpt_mailer}\0local\0x\0", 22)));
  EXPECT_EQ(f.violation, Violation::odd_macros);
  EXPECT_EQ(h.message_ends, 1);
  EXPECT_EQ(h.session_ends, 1);
}

TEST(ProtocolSessionTest, OversizedLengthIsRefusedBeforeItsDataArrives) {
  Recorder h;
  ProtocolSession s(h);
  s.feed(optneg(6, 0x1ff, 0x1fffff));
  const Feed f = s.feed(std::string("\x00\x10\x00\x00", 4));  // 1 MiB announced, nothing sent
  EXPECT_EQ(f.status, Feed::Status::violation);
  EXPECT_EQ(f.violation, Violation::oversized);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(ProtocolSessionTest, LargestPacketIsTaken) {
  Recorder h;
  ProtocolSession s(h);
  const Feed f = s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1") +
                        mail({"<a@b>"}) + packet('B', std::string(65535, 'x')));
  EXPECT_EQ(f.status, Feed::Status::more);
}

TEST(ProtocolSessionTest, InputBehindAPendingReplyIsBounded) {
  Recorder h;
  h.connect_reply.reset();
  ProtocolSession s(h, ProtocolOptions{.max_buffered = 1024});
  s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1"));
  ASSERT_TRUE(s.pending());
  EXPECT_EQ(s.feed(std::string(1024, 'x')).status, Feed::Status::pending);
  const Feed f = s.feed("y");
  EXPECT_EQ(f.status, Feed::Status::violation);
  EXPECT_EQ(f.violation, Violation::buffer_overflow);
  EXPECT_EQ(h.session_ends, 1);
}

TEST(ProtocolSessionTest, CloseWhilePendingEndsTheSession) {
  Recorder h;
  h.connect_reply.reset();
  ProtocolSession s(h);
  s.feed(optneg(6, 0x1ff, 0x1fffff) + connect_inet("c", '4', 1, "192.0.2.1"));
  s.take_output();
  s.close();
  EXPECT_EQ(h.session_ends, 1);
  EXPECT_EQ(s.complete(Reply{}).status, Feed::Status::closed);
  EXPECT_FALSE(s.has_output());
}

// What real Postfix 3.7 and sendmail 8.17 sent in the real-MTA tests
// (recorded with HARDEN_RECORD_MILTER_DIR, tests/fuzz/corpus-real): every
// session parses to its end with no violation, fed whole and byte by byte.
TEST(ProtocolSessionTest, RecordedPostfixAndSendmailSessionsParseCleanly) {
  const auto dir = std::filesystem::path(HARDEN_TEST_DATA_DIR) / ".." / "fuzz" / "corpus-real";
  int postfix = 0, sendmail = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(bytes.empty());
    for (bool byte_by_byte : {false, true}) {
      Recorder h;
      ProtocolSession s(h);
      Feed f;
      if (byte_by_byte) {
        for (char c : bytes) {
          f = s.feed(std::string_view(&c, 1));
          if (f.status != Feed::Status::more) break;
        }
      } else {
        f = s.feed(bytes);
      }
      EXPECT_NE(f.status, Feed::Status::violation) << to_string(f.violation);
      EXPECT_GE(h.events.size(), 2u);  // optneg, connect at least
      EXPECT_EQ(h.events.at(1).rfind("connect ", 0), 0u);
      s.close();
      EXPECT_EQ(h.session_ends, 1);
    }
    (entry.path().filename().string().starts_with("postfix") ? postfix : sendmail)++;
  }
  EXPECT_GE(postfix, 5);
  EXPECT_GE(sendmail, 5);
}

TEST(ProtocolSessionTest, QuitBeforeConnectEndsNoSession) {
  Recorder h;
  ProtocolSession s(h);
  EXPECT_EQ(s.feed(optneg(6, 0x1ff, 0x1fffff) + packet('Q', "")).status, Feed::Status::closed);
  EXPECT_EQ(h.session_ends, 0);
}

}  // namespace
}  // namespace harden::milter
