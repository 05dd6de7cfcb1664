// fuzz_protocol.cpp - libFuzzer target for the milter protocol session
// (milter/src/protocol.cpp): the packet parser and the state machine.
//
// The input's first byte scripts the handler (which commands answer later,
// which reply kinds it gives); the rest is fed in chunks whose sizes come
// from the input too, so packet boundaries fall everywhere. Checked on every
// input, beyond the sanitizers: session_end follows a CONNECT and comes at
// most once per CONNECT; nothing is processed after closed/violation; every
// reply is a whole, well-formed packet of a reply command; buffered input
// stays within its bound.
//
// Build and run: make fuzz-short (in make test), make fuzz (the long run).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "harden/milter/protocol.hpp"

namespace {

using harden::milter::ConnectCommand;
using harden::milter::Feed;
using harden::milter::Negotiation;
using harden::milter::ProtocolHandler;
using harden::milter::ProtocolOptions;
using harden::milter::ProtocolSession;
using harden::milter::Reply;
using harden::milter::Response;
using harden::milter::SymList;

void check(bool ok) {
  if (!ok) std::abort();
}

struct ScriptedHandler : ProtocolHandler {
  std::uint8_t script = 0;
  int connects = 0;
  int session_ends = 0;
  bool open = false;
  bool in_message = false;
  unsigned calls = 0;

  Reply next_reply() {
    Reply r;
    switch ((script >> 4) + calls++ % 5) {
      case 0:
        break;
      case 1:
        r.kind = Reply::Kind::accept;
        break;
      case 2:
        r.kind = Reply::Kind::tempfail;
        break;
      case 3:
        r.kind = Reply::Kind::reject;
        break;
      default:
        r.kind = Reply::Kind::replycode;
        r.rcode = (calls & 1) ? "421" : "2x0";
        r.xcode = "4.3.2";
        r.text = std::string("text\r\n%\0x", 10);
    }
    return r;
  }
  Response answer() {
    if ((script & 1) && (calls & 3) == 0) {
      ++calls;
      return Response::later();
    }
    return Response::now(next_reply());
  }
  Negotiation negotiate(const Negotiation& offered, std::vector<SymList>& lists) override {
    lists.push_back({0, "{client_addr} {client_port}"});
    if (script & 2) lists.push_back({99, "bad stage"});
    return Negotiation{offered.version, offered.actions, (script & 4) ? 0xffffffffu : 0x800u};
  }
  Response connect(const ProtocolSession& s, const ConnectCommand& c) override {
    check(!open);
    open = true;
    ++connects;
    (void)s.lookup("{client_addr}");
    (void)s.lookup("j");
    check(c.address.size() < harden::milter::kMaxPacketLength);
    return answer();
  }
  Response helo(const ProtocolSession&, std::string_view) override {
    check(open);
    return answer();
  }
  Response mail(const ProtocolSession&, const std::vector<std::string_view>& a) override {
    check(open && !a.empty());
    in_message = true;
    return answer();
  }
  Response rcpt(const ProtocolSession& s, const std::vector<std::string_view>& a) override {
    check(open && in_message && !a.empty());
    (void)s.lookup("{rcpt_mailer}");
    return answer();
  }
  void message_end() override {
    check(in_message);
    in_message = false;
  }
  void session_end() override {
    check(open && !in_message);
    open = false;
    ++session_ends;
  }
};

bool is_reply_command(char c) {
  return std::string_view("cartyO").find(c) != std::string_view::npos;
}

void check_output(const std::string& out) {
  std::size_t at = 0;
  while (at < out.size()) {
    check(out.size() - at >= 5);
    const std::uint32_t len = (std::uint32_t{static_cast<unsigned char>(out[at])} << 24) |
                              (std::uint32_t{static_cast<unsigned char>(out[at + 1])} << 16) |
                              (std::uint32_t{static_cast<unsigned char>(out[at + 2])} << 8) |
                              std::uint32_t{static_cast<unsigned char>(out[at + 3])};
    check(len >= 1 && out.size() - at - 4 >= len);
    check(is_reply_command(out[at + 4]));
    if (out[at + 4] == 'y') {
      check(out[at + 4 + len - 1] == '\0');  // NUL-terminated reply text
      check(out[at + 5] == '4' || out[at + 5] == '5');
    }
    at += 4 + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ScriptedHandler h;
  h.script = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  ProtocolSession s(h, ProtocolOptions{.max_buffered = 4096});
  std::size_t at = 0;
  bool ended = false;
  std::size_t step = 0;
  while (at < in.size() && !ended) {
    // chunk sizes 1..64 or the rest, picked from the script and position
    const std::size_t want = (h.script & 8) ? in.size() : 1 + (step++ * 7 + h.script) % 64;
    const std::size_t n = std::min(want, in.size() - at);
    Feed f = s.feed(in.substr(at, n));
    at += n;
    while (f.status == Feed::Status::pending) {
      check(s.buffered() <= 4096);
      f = s.complete(h.next_reply());
    }
    check_output(s.take_output());
    if (f.status == Feed::Status::closed || f.status == Feed::Status::violation) {
      ended = true;
      const int ends = h.session_ends;
      const Feed again = s.feed(in.substr(0, std::min<std::size_t>(in.size(), 32)));
      check(again.status == f.status);
      check(h.session_ends == ends && !s.has_output());
    }
  }
  s.close();
  check(!h.open && h.session_ends == h.connects);
  return 0;
}
