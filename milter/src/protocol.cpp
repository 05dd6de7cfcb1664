// protocol.cpp - the milter side of the milter protocol, sans I/O (see
// protocol.hpp). Constants come from libmilter-dev's mfdef.h / mfapi.h; the
// state rules follow libmilter's engine.c and Postfix's milter8.c as read,
// made strict where they are lenient (see protocol.hpp, WHAT IS CHECKED).
#include "harden/milter/protocol.hpp"

#include <libmilter/mfapi.h>

#include <algorithm>
#include <array>

#include "harden/policy/ascii.hpp"

namespace harden::milter {
namespace {

constexpr std::size_t kHeaderBytes = 4;
constexpr std::uint32_t kOurVersion = SMFI_PROT_VERSION;  // 6
// Compact the input buffer once this much has been consumed.
constexpr std::size_t kCompactAt = 16 * 1024;
// Longest reply text the MTAs take (libmilter's MAXREPLYLEN is 980).
constexpr std::size_t kMaxReplyText = 980;

std::uint32_t read_be32(std::string_view s) {
  return (std::uint32_t{static_cast<unsigned char>(s[0])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(s[1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(s[2])} << 8) |
         std::uint32_t{static_cast<unsigned char>(s[3])};
}

void put_be32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xff);
  out += static_cast<char>((v >> 16) & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

void put_packet(std::string& out, char cmd, std::string_view data) {
  put_be32(out, static_cast<std::uint32_t>(data.size() + 1));
  out += cmd;
  out.append(data);
}

// The macro stage of a MACRO packet's command byte (libmilter's CI_*, the
// same numbers as SMFIM_*), or -1 for a command whose macros the protocol
// carries but no milter can read (Postfix sends them for UNKNOWN, HEADER,
// BODY; libmilter drops them), or -2 for a byte that is no command at all.
int macro_stage(char cmd) {
  switch (cmd) {
    case SMFIC_CONNECT:
      return SMFIM_CONNECT;
    case SMFIC_HELO:
      return SMFIM_HELO;
    case SMFIC_MAIL:
      return SMFIM_ENVFROM;
    case SMFIC_RCPT:
      return SMFIM_ENVRCPT;
    case SMFIC_DATA:
      return SMFIM_DATA;
    case SMFIC_BODYEOB:
      return SMFIM_EOM;
    case SMFIC_EOH:
      return SMFIM_EOH;
    case SMFIC_UNKNOWN:
    case SMFIC_HEADER:
    case SMFIC_BODY:
    case SMFIC_ABORT:
    case SMFIC_QUIT:
    case SMFIC_QUIT_NC:
    case SMFIC_OPTNEG:
    case SMFIC_MACRO:
      return -1;
    default:
      return -2;
  }
}
constexpr std::size_t kStages = SMFIM_EOH + 1;

// Splits `data` into NUL-terminated strings. False when the data does not end
// with a NUL (the last string unterminated). Empty data gives no strings.
bool split_strings(std::string_view data, std::vector<std::string_view>& out) {
  out.clear();
  if (data.empty()) return true;
  if (data.back() != '\0') return false;
  std::size_t start = 0;
  while (start < data.size()) {
    const std::size_t nul = data.find('\0', start);
    out.push_back(data.substr(start, nul - start));
    start = nul + 1;
  }
  return true;
}

// "j" and "{j}" name the same macro, as smfi_getsymval has it.
std::string_view bare_name(std::string_view n) {
  if (n.size() >= 2 && n.front() == '{' && n.back() == '}') return n.substr(1, n.size() - 2);
  return n;
}

// The no-reply flag of a command, 0 when the command always gets a reply.
std::uint32_t no_reply_flag(char cmd) {
  switch (cmd) {
    case SMFIC_CONNECT:
      return SMFIP_NR_CONN;
    case SMFIC_HELO:
      return SMFIP_NR_HELO;
    case SMFIC_MAIL:
      return SMFIP_NR_MAIL;
    case SMFIC_RCPT:
      return SMFIP_NR_RCPT;
    case SMFIC_DATA:
      return SMFIP_NR_DATA;
    case SMFIC_UNKNOWN:
      return SMFIP_NR_UNKN;
    case SMFIC_HEADER:
      return SMFIP_NR_HDR;
    case SMFIC_EOH:
      return SMFIP_NR_EOH;
    case SMFIC_BODY:
      return SMFIP_NR_BODY;
    default:
      return 0;
  }
}

}  // namespace

std::string_view to_string(Violation v) {
  switch (v) {
    case Violation::zero_length:
      return "zero_length";
    case Violation::oversized:
      return "oversized";
    case Violation::unknown_command:
      return "unknown_command";
    case Violation::malformed:
      return "malformed";
    case Violation::odd_macros:
      return "odd_macros";
    case Violation::macro_limits:
      return "macro_limits";
    case Violation::out_of_order:
      return "out_of_order";
    case Violation::duplicate_connect:
      return "duplicate_connect";
    case Violation::bad_version:
      return "bad_version";
    case Violation::buffer_overflow:
      return "buffer_overflow";
  }
  return "unknown";
}

bool valid_reply_code(std::string_view r) {
  return r.size() == 3 && (r[0] == '4' || r[0] == '5') && ascii::is_digit(r[1]) &&
         ascii::is_digit(r[2]);
}

bool valid_enhanced_code(std::string_view x, char klass) {
  if (x.size() < 5 || x[0] != klass || x[1] != '.') return false;
  std::size_t i = 2;
  for (int group = 0; group < 2; ++group) {
    const std::size_t start = i;
    while (i < x.size() && ascii::is_digit(x[i]) && i - start < 3) ++i;
    if (i == start) return false;
    if (group == 0 && (i >= x.size() || x[i++] != '.')) return false;
  }
  return i == x.size();
}

std::string encode_reply(const Reply& r) {
  std::string out;
  switch (r.kind) {
    case Reply::Kind::continue_:
      put_packet(out, SMFIR_CONTINUE, {});
      break;
    case Reply::Kind::accept:
      put_packet(out, SMFIR_ACCEPT, {});
      break;
    case Reply::Kind::reject:
      put_packet(out, SMFIR_REJECT, {});
      break;
    case Reply::Kind::tempfail:
      put_packet(out, SMFIR_TEMPFAIL, {});
      break;
    case Reply::Kind::replycode: {
      if (!valid_reply_code(r.rcode)) {
        put_packet(out, SMFIR_REJECT, {});
        break;
      }
      std::string text = r.rcode;
      if (valid_enhanced_code(r.xcode, r.rcode[0])) text += " " + r.xcode;
      if (!r.text.empty()) {
        text += ' ';
        for (char c : r.text) {
          if (text.size() >= kMaxReplyText) break;
          text += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
        }
      }
      text += '\0';
      put_packet(out, SMFIR_REPLYCODE, text);
      break;
    }
  }
  return out;
}

ProtocolSession::ProtocolSession(ProtocolHandler& handler, ProtocolOptions options)
    : handler_(handler), options_(options), macros_(kStages) {}

Feed ProtocolSession::fail(Violation v) {
  end_session();
  done_ = true;
  final_ = Feed{Feed::Status::violation, v};
  in_.clear();
  in_pos_ = 0;
  return final_;
}

void ProtocolSession::end_message() {
  if (!in_transaction_) return;
  in_transaction_ = false;
  handler_.message_end();
}

void ProtocolSession::end_session() {
  end_message();
  if (!connected_) return;
  connected_ = false;
  handler_.session_end();
}

Feed ProtocolSession::feed(std::string_view bytes) {
  if (done_) return final_;
  if (pending_ != 0) {
    if (bytes.size() > options_.max_buffered - std::min(options_.max_buffered, buffered()))
      return fail(Violation::buffer_overflow);
    in_.append(bytes);
    return Feed{Feed::Status::pending};
  }
  in_.append(bytes);
  return run();
}

Feed ProtocolSession::complete(const Reply& reply) {
  if (done_) return final_;
  if (pending_ == 0) return Feed{Feed::Status::more};
  const char cmd = pending_;
  pending_ = 0;
  apply(cmd, reply);
  return run();
}

void ProtocolSession::close() {
  if (done_) return;
  end_session();
  done_ = true;
  final_ = Feed{Feed::Status::closed};
  pending_ = 0;
}

std::string ProtocolSession::take_output() {
  std::string out;
  out.swap(out_);
  return out;
}

std::optional<std::string_view> ProtocolSession::lookup(std::string_view name) const {
  const std::string_view want = bare_name(name);
  for (std::size_t stage = macros_.size(); stage-- > 0;) {
    const MacroStage& m = macros_[stage];
    const std::string_view text(m.text);
    for (std::size_t i = 0; i + 1 < m.spans.size(); i += 2)
      if (bare_name(text.substr(m.spans[i].first, m.spans[i].second)) == want)
        return text.substr(m.spans[i + 1].first, m.spans[i + 1].second);
  }
  return std::nullopt;
}

Feed ProtocolSession::run() {
  for (;;) {
    if (done_) return final_;
    if (pending_ != 0) {
      if (buffered() > options_.max_buffered) return fail(Violation::buffer_overflow);
      return Feed{Feed::Status::pending};
    }
    const std::size_t avail = in_.size() - in_pos_;
    if (avail < kHeaderBytes) break;
    const std::string_view view(in_);
    const std::uint32_t len = read_be32(view.substr(in_pos_, kHeaderBytes));
    if (len == 0) return fail(Violation::zero_length);
    if (len > kMaxPacketLength) return fail(Violation::oversized);
    if (avail < kHeaderBytes + len) break;
    const char cmd = view[in_pos_ + kHeaderBytes];
    const std::string_view data = view.substr(in_pos_ + kHeaderBytes + 1, len - 1);
    // Processing appends to out_ and calls the handler; only fail() (which
    // ends the session) touches in_, so nothing is read after it.
    dispatch(cmd, data);
    if (done_) return final_;
    in_pos_ += kHeaderBytes + len;  // a pending reply is seen at the loop top
  }
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ >= kCompactAt) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  return Feed{Feed::Status::more};
}

void ProtocolSession::send(char cmd, const Reply& reply) {
  const std::uint32_t nr = no_reply_flag(cmd);
  if (nr != 0 && (negotiated_.protocol & nr) != 0) return;
  out_ += encode_reply(reply);
}

void ProtocolSession::apply(char cmd, const Reply& reply) {
  send(cmd, reply);
  const bool refused = reply.kind != Reply::Kind::continue_;
  // As libmilter: an answer other than continue ends the message, except
  // for RCPT where only accept does (a refused recipient leaves the rest).
  if (cmd == SMFIC_RCPT ? reply.kind == Reply::Kind::accept : refused) {
    if (cmd == SMFIC_MAIL || cmd == SMFIC_RCPT || cmd == SMFIC_DATA || cmd == SMFIC_HEADER ||
        cmd == SMFIC_EOH || cmd == SMFIC_BODY)
      end_message();
  }
}

std::optional<Feed> ProtocolSession::respond(char cmd, const Response& r) {
  if (!r.reply) {
    pending_ = cmd;
    return Feed{Feed::Status::pending};
  }
  apply(cmd, *r.reply);
  return std::nullopt;
}

std::optional<Feed> ProtocolSession::dispatch(char cmd, std::string_view data) {
  if (macro_stage(cmd) == -2) return fail(Violation::unknown_command);
  if (!negotiated_done_) {
    if (cmd != SMFIC_OPTNEG) return fail(Violation::out_of_order);
    return optneg(data);
  }
  std::vector<std::string_view>& args = args_;
  switch (cmd) {
    case SMFIC_OPTNEG:
      return fail(Violation::out_of_order);
    case SMFIC_MACRO:
      return macro(data);
    case SMFIC_CONNECT:
      return connect(data);
    case SMFIC_HELO: {
      if (!connected_) return fail(Violation::out_of_order);
      if (!split_strings(data, args) || args.size() != 1) return fail(Violation::malformed);
      end_message();  // a HELO inside a transaction ends it, as in libmilter
      return respond(cmd, handler_.helo(*this, args[0]));
    }
    case SMFIC_MAIL: {
      if (!connected_) return fail(Violation::out_of_order);
      if (!split_strings(data, args) || args.empty()) return fail(Violation::malformed);
      end_message();  // MAIL inside a transaction: the old one is over
      in_transaction_ = true;
      return respond(cmd, handler_.mail(*this, args));
    }
    case SMFIC_RCPT: {
      if (!in_transaction_) return fail(Violation::out_of_order);
      if (!split_strings(data, args) || args.empty()) return fail(Violation::malformed);
      return respond(cmd, handler_.rcpt(*this, args));
    }
    case SMFIC_HEADER:
      if (!in_transaction_) return fail(Violation::out_of_order);
      if (!split_strings(data, args) || args.size() != 2) return fail(Violation::malformed);
      send(cmd, Reply{});
      return std::nullopt;
    case SMFIC_DATA:
    case SMFIC_EOH:
      if (!in_transaction_) return fail(Violation::out_of_order);
      if (!data.empty()) return fail(Violation::malformed);
      send(cmd, Reply{});
      return std::nullopt;
    case SMFIC_BODY:
      if (!in_transaction_) return fail(Violation::out_of_order);
      send(cmd, Reply{});
      return std::nullopt;
    case SMFIC_BODYEOB:  // may carry the last body chunk
      if (!in_transaction_) return fail(Violation::out_of_order);
      send(cmd, Reply{});
      end_message();
      return std::nullopt;
    case SMFIC_UNKNOWN:
      if (!connected_) return fail(Violation::out_of_order);
      if (!split_strings(data, args) || args.size() != 1) return fail(Violation::malformed);
      send(cmd, Reply{});
      return std::nullopt;
    case SMFIC_ABORT:
      end_message();
      for (std::size_t s = SMFIM_ENVFROM; s < kStages; ++s) macros_[s].clear();
      return std::nullopt;
    case SMFIC_QUIT:
      end_session();
      done_ = true;
      final_ = Feed{Feed::Status::closed};
      return final_;
    case SMFIC_QUIT_NC:
      end_session();
      for (auto& m : macros_) m.clear();
      return std::nullopt;
    default:
      return fail(Violation::unknown_command);
  }
}

std::optional<Feed> ProtocolSession::optneg(std::string_view data) {
  if (data.size() < 12) return fail(Violation::malformed);
  Negotiation offered;
  offered.version = read_be32(data.substr(0, 4));
  offered.actions = read_be32(data.substr(4, 4));
  offered.protocol = read_be32(data.substr(8, 4));
  if (offered.version < 2) return fail(Violation::bad_version);
  if (offered.actions == 0) offered.actions = SMFI_V1_ACTS;  // as libmilter
  if (offered.protocol == 0) offered.protocol = SMFI_V1_PROT;
  offered.protocol &= ~static_cast<std::uint32_t>(SMFI_INTERNAL);

  std::vector<SymList> symlists;
  const Negotiation want = handler_.negotiate(offered, symlists);
  negotiated_.version = std::min(offered.version, kOurVersion);
  negotiated_.actions = want.actions & offered.actions;
  // The state rules need CONNECT and MAIL: never ask the MTA to skip them.
  negotiated_.protocol = want.protocol & offered.protocol &
                         ~static_cast<std::uint32_t>(SMFIP_NOCONNECT | SMFIP_NOMAIL);
  const bool send_symlists = !symlists.empty() && (offered.actions & SMFIF_SETSYMLIST) != 0;
  if (send_symlists) negotiated_.actions |= SMFIF_SETSYMLIST;
  negotiated_done_ = true;

  std::string reply;
  put_be32(reply, negotiated_.version);
  put_be32(reply, negotiated_.actions);
  put_be32(reply, negotiated_.protocol);
  if (send_symlists) {
    for (const SymList& l : symlists) {
      if (l.stage >= kStages || l.macros.find('\0') != std::string_view::npos) continue;
      put_be32(reply, l.stage);
      reply += l.macros;
      reply += '\0';
    }
  }
  put_packet(out_, SMFIC_OPTNEG, reply);
  return std::nullopt;
}

std::optional<Feed> ProtocolSession::macro(std::string_view data) {
  if (data.empty()) return fail(Violation::malformed);
  const int stage = macro_stage(data[0]);
  if (stage == -2) return fail(Violation::malformed);
  std::vector<std::string_view>& strings = args_;
  if (!split_strings(data.substr(1), strings)) return fail(Violation::malformed);
  if (strings.size() % 2 != 0) return fail(Violation::odd_macros);
  if (strings.size() / 2 > kMaxMacros) return fail(Violation::macro_limits);
  for (std::size_t i = 0; i < strings.size(); i += 2) {
    if (strings[i].empty() || strings[i].size() > kMaxMacroName ||
        strings[i + 1].size() > kMaxMacroValue)
      return fail(Violation::macro_limits);
  }
  if (stage < 0) return std::nullopt;  // carried, but no milter reads them
  MacroStage& m = macros_[static_cast<std::size_t>(stage)];
  const std::string_view all = data.substr(1);
  m.text.assign(all);  // one copy for the whole stage
  m.spans.clear();
  for (const std::string_view s : strings)
    m.spans.emplace_back(static_cast<std::uint32_t>(s.data() - all.data()),
                         static_cast<std::uint32_t>(s.size()));
  return std::nullopt;
}

std::optional<Feed> ProtocolSession::connect(std::string_view data) {
  if (connected_) return fail(Violation::duplicate_connect);
  const std::size_t nul = data.find('\0');
  if (nul == std::string_view::npos || nul + 1 >= data.size()) return fail(Violation::malformed);
  ConnectCommand c;
  c.hostname = data.substr(0, nul);
  const char family = data[nul + 1];
  const std::string_view rest = data.substr(nul + 2);
  switch (family) {
    case SMFIA_UNKNOWN:
      if (!rest.empty()) return fail(Violation::malformed);
      c.family = AddressFamily::unknown;
      break;
    case SMFIA_UNIX:
    case SMFIA_INET:
    case SMFIA_INET6: {
      if (rest.size() < 3 || rest.back() != '\0') return fail(Violation::malformed);
      const std::string_view address = rest.substr(2, rest.size() - 3);
      if (address.find('\0') != std::string_view::npos) return fail(Violation::malformed);
      c.family = static_cast<AddressFamily>(family);
      c.port = static_cast<std::uint16_t>((static_cast<unsigned char>(rest[0]) << 8) |
                                          static_cast<unsigned char>(rest[1]));
      c.address = address;
      break;
    }
    default:
      return fail(Violation::malformed);
  }
  connected_ = true;
  in_transaction_ = false;
  return respond(SMFIC_CONNECT, handler_.connect(*this, c));
}

}  // namespace harden::milter
