// make_seeds.cpp - writes the fuzz target's seed corpus: the packet
// sequences Postfix and sendmail send (as read from milter8.c and libmilter's
// engine.c, and as the protocol unit tests build them) and, from RECORDED,
// what real Postfix and sendmail sent in the real-MTA tests
// (tests/fuzz/corpus-real), each behind a script byte.
// Usage: make_seeds DIR [RECORDED]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../unit/milter/protocol_packets.hpp"

using namespace harden::milter::testing;  // NOLINT

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: make_seeds DIR [RECORDED]\n");
    return 2;
  }
  const std::string conn_macros =
      macro('C', {"j", "mx.test", "{daemon_name}", "mx", "{daemon_addr}", "127.0.0.1",
                  "{daemon_port}", "25", "{client_addr}", "192.0.2.7", "{client_port}", "40000",
                  "{client_name}", "client.example", "{client_resolve}", "OK", "v", "Postfix"});
  const std::string postfix =
      optneg(6, 0x1ff, 0x1fffff) + conn_macros +
      connect_inet("client.example", '4', 40000, "192.0.2.7") + macro('H', {}) +
      helo("client.example") + macro('M', {"i", "ABC", "{mail_addr}", "a@example.org"}) +
      mail({"<a@example.org>", "SIZE=100"}) + macro('R', {"{rcpt_mailer}", "error"}) +
      rcpt({"<x@test>"}) + macro('R', {"{rcpt_mailer}", "local"}) + rcpt({"<b@test>"}) +
      macro('T', {}) + packet('T', "") + macro('L', {}) + header("Subject", "hi") + macro('N', {}) +
      packet('N', "") + macro('B', {}) + packet('B', "body\r\n") + macro('E', {}) +
      packet('E', "") + packet('A', "") + macro('U', {}) + unknown("VRFY x") + packet('Q', "");
  const std::string sendmail = optneg(6, 0x1ff, 0x1fffff) + conn_macros +
                               connect_inet("[2001:db8::7]", '6', 40001, "2001:db8::7") +
                               helo("x") + mail({"<a@b>"}) + rcpt({"<c@d>"}) + packet('A', "") +
                               packet('K', "") + connect_inet("localhost", 'L', 0, "/run/x") +
                               packet('Q', "");
  std::vector<std::string> seeds = {
      postfix,
      sendmail,
      optneg(2, 0, 0) + packet('C', std::string("h\0U", 3)) + packet('Q', ""),
      optneg(6, 0x1ff, 0x1fffff) +
          macro_raw('C', std::string("{client_addr}\0"
                                     "192.0.2.93\0injected\0",
                                     34)) +
          connect_inet("h", '4', 1, "192.0.2.93"),
      optneg(6, 0x1ff, 0x1fffff) + connect_inet("h", '4', 1, "1.2.3.4") +
          connect_inet("h", '4', 1, "1.2.3.4"),
  };
  if (argc == 3) {
    for (const auto& e : std::filesystem::directory_iterator(argv[2])) {
      std::ifstream in(e.path(), std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  int n = 0;
  for (const std::string& s : seeds) {
    for (unsigned char script : {0x00, 0x01, 0x08, 0x19, 0x35}) {
      std::ofstream f(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
      f << static_cast<char>(script) << s;
    }
  }
  return 0;
}
