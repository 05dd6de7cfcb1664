// import_hosts_deny.cpp - tcpwrappers hosts.deny -> block rules.
//
// sendmail built with TCPWRAPPERS asks hosts_ctl("sendmail", name, addr, ...);
// a line "daemon_list : client_list [: options]" whose daemon list matches
// "sendmail" denies the clients its client list matches. See importers.hpp
// for what each client pattern becomes.
#include <string>

#include "harden/db/importers.hpp"
#include "harden/policy/error.hpp"
#include "import_util.hpp"
#include "text_util.hpp"

namespace harden::db {
namespace {

using ascii::iequals;
using detail::LineReader;
using detail::quote;
using policy::Selector;

constexpr std::string_view kListSeparators = ", \t";

// Splits "a : b : c" at ':' outside [brackets] (IPv6 addresses), as tcpd does.
std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') ++depth;
    if (s[i] == ']') --depth;
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;  // "\:" in options
    } else if (s[i] == ':' && depth == 0) {
      out.push_back(detail::trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(detail::trim(s.substr(start)));
  return out;
}

// tcpd's list_match(): "A B EXCEPT C" matches what A or B matches unless C does.
template <typename Match>
bool list_match(const std::vector<std::string_view>& list, std::size_t from, Match match) {
  for (std::size_t i = from; i < list.size(); ++i) {
    if (iequals(list[i], "EXCEPT")) return false;
    if (!match(list[i])) continue;
    while (i < list.size() && !iequals(list[i], "EXCEPT")) ++i;
    return i == list.size() || !list_match(list, i + 1, match);
  }
  return false;
}

// Dotted netmask -> prefix length; nullopt unless contiguous.
std::optional<unsigned> mask_prefix(std::string_view mask) {
  auto net = detail::parse_octets(mask);
  if (!net || net->prefix() != 32) return std::nullopt;
  const auto& b = net->address().bytes();
  const std::uint32_t m = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                          (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
  const std::uint32_t inv = ~m;
  if ((inv & (inv + 1)) != 0) return std::nullopt;  // ones must all be on the left
  unsigned prefix = 0;
  for (std::uint32_t v = m; v != 0; v <<= 1) ++prefix;
  return prefix;
}

class HostsDenyImporter {
 public:
  HostsDenyImporter(std::istream& in, std::string_view file) : reader_(in, file) {}

  ImportResult run() {
    std::string text;
    std::string logical;
    std::size_t first = 0;
    while (reader_.next(text)) {
      if (logical.empty()) first = reader_.line_no();
      const bool more = !text.empty() && text.back() == '\\';
      if (more) text.pop_back();
      if (logical.size() + text.size() > kMaxImportLineLength) {
        reader_.fail(first,
                     "logical line longer than " + std::to_string(kMaxImportLineLength) + " bytes");
      }
      logical += text;
      if (more) continue;
      line(logical, first);
      logical.clear();
    }
    if (!logical.empty()) line(logical, first);
    result_.rules = rules_.take();
    return std::move(result_);
  }

 private:
  [[noreturn]] void fail(std::string_view msg) const { reader_.fail(line_, msg); }
  void note(std::string_view msg) { reader_.note(result_, line_, msg); }

  void line(std::string_view text, std::size_t number) {
    line_ = number;
    const std::string_view t = detail::trim(text);
    if (t.empty() || t.front() == '#') return;
    const auto fields = split_fields(t);
    if (fields.size() < 2) fail("missing ':' between the daemon list and the client list");
    const auto daemons = detail::split_any(fields[0], kListSeparators);
    const auto clients = detail::split_any(fields[1], kListSeparators);
    if (daemons.empty()) fail("empty daemon list");
    if (clients.empty()) fail("empty client list");
    for (auto d : daemons) {
      if (d.find('@') != std::string_view::npos) {
        return note("skipped: daemon@host patterns (" + quote(d) + ") are not imported");
      }
    }
    const auto is_sendmail = [](std::string_view d) {
      return iequals(d, "ALL") || iequals(d, "sendmail");
    };
    if (!list_match(daemons, 0, is_sendmail)) {
      return note("skipped: the daemon list does not include sendmail");
    }
    for (auto c : clients) {
      if (iequals(c, "EXCEPT")) {
        return note(
            "skipped: a client list with EXCEPT cannot be imported exactly; add its rules by hand");
      }
    }
    if (!options(fields)) return;
    for (auto c : clients) client(c);
  }

  // False when the options turn the line into something else than a deny.
  bool options(const std::vector<std::string_view>& fields) {
    std::string ignored;
    for (std::size_t i = 2; i < fields.size(); ++i) {
      const auto words = detail::split_any(fields[i], " \t");
      if (words.empty()) continue;
      if (iequals(words.front(), "allow")) {
        note("skipped: the ': allow' option makes this line grant access");
        return false;
      }
      if (iequals(words.front(), "deny")) continue;
      ignored += (ignored.empty() ? "" : ", ") + quote(words.front(), 20);
    }
    if (!ignored.empty()) note("ignored the options after the client list (" + ignored + ")");
    return true;
  }

  void client(std::string_view c) {
    if (iequals(c, "ALL")) return note("skipped ALL: it would block every client");
    for (std::string_view w : {"LOCAL", "KNOWN", "UNKNOWN", "PARANOID"}) {
      if (iequals(c, w)) {
        return note("skipped " + std::string(w) +
                    ": not imported (clients without rDNS: see the missing_rdns setting)");
      }
    }
    if (c.front() == '@') return note("skipped netgroup " + quote(c));
    if (c.find('@') != std::string_view::npos) return note("skipped user@host " + quote(c));
    if (c.front() == '/') return note("skipped " + quote(c) + ": patterns from files");
    if (c.find_first_of("*?") != std::string_view::npos) {
      return note("skipped wildcard " + quote(c) + ": write a pattern rule for it");
    }
    if (c.front() == '#')
      fail("'#' is not a client pattern (hosts.deny has no end-of-line comments)");
    block(selector(c));
  }

  Selector selector(std::string_view c) {
    try {
      if (c.front() == '[') return bracketed(c);
      if (const auto slash = c.find('/'); slash != std::string_view::npos) {
        return net_mask(c.substr(0, slash), c.substr(slash + 1));
      }
      if (c.find_first_not_of("0123456789.") == std::string_view::npos) {
        const bool prefix = c.back() == '.';
        auto net = detail::parse_octets(prefix ? c.substr(0, c.size() - 1) : c);
        if (!net || (prefix && net->prefix() == 32) || (!prefix && net->prefix() != 32)) {
          fail("bad address pattern " + quote(c) + " (expected 192.0.2.7 or 192.0.2.)");
        }
        return Selector::for_network(*net);
      }
      if (c.front() == '.') return Selector::for_suffix(c.substr(1));
      return Selector::for_host(c);
    } catch (const policy::PolicyError& e) {
      fail("bad client pattern " + quote(c) + ": " + e.what());
    }
  }

  Selector bracketed(std::string_view c) {
    const auto close = c.find(']');
    if (close == std::string_view::npos) fail("missing ']' in " + quote(c));
    const std::string_view rest = c.substr(close + 1);
    if (!rest.empty() && rest.front() != '/') fail("text after ']' in " + quote(c));
    auto net = policy::IpNetwork::parse(std::string(c.substr(1, close - 1)) + std::string(rest));
    if (net.address().is_v4()) fail("brackets are for IPv6 addresses: " + quote(c));
    return Selector::for_network(net);
  }

  Selector net_mask(std::string_view addr, std::string_view mask) {
    auto net = detail::parse_octets(addr);
    if (!net || net->prefix() != 32) fail("bad network " + quote(addr) + " before '/'");
    std::optional<unsigned> prefix;
    if (mask.find('.') != std::string_view::npos) {
      prefix = mask_prefix(mask);
    } else if (!mask.empty() && mask.size() <= 2 &&
               mask.find_first_not_of("0123456789") == std::string_view::npos) {
      prefix = static_cast<unsigned>(std::stoul(std::string(mask)));
      if (*prefix > 32) prefix.reset();
    }
    if (!prefix) fail("bad netmask " + quote(mask) + " (expected 255.255.255.0 or 24)");
    if (*prefix == 0) fail("netmask " + quote(mask) + " would block every IPv4 client");
    return Selector::for_network(policy::IpNetwork(net->address(), *prefix));
  }

  void block(const Selector& sel) {
    if (rules_.contains(sel)) return;  // listed twice: one rule
    auto& r = rules_.get(sel, reader_.comment(line_));
    r.attrs.action = policy::Action::block;
    r.attrs.reason = std::string(kHostsDenyReason);
  }

  LineReader reader_;
  detail::RuleSet rules_;
  ImportResult result_;
  std::size_t line_ = 0;
};

}  // namespace

ImportResult parse_hosts_deny(std::istream& in, std::string_view filename) {
  return HostsDenyImporter(in, filename).run();
}

}  // namespace harden::db
