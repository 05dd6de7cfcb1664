// import_sendmail.cpp - sendmail access map source (makemap input) -> rules.
//
// See importers.hpp for the mapping. The entries sendmail's rulesets look up
// for a connecting client are ClientRate:, ClientConn: (ratecontrol and
// conncontrol: address, then the empty key), GreetPause: and Connect:
// (host name and its parent domains, then the address and its networks).
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "harden/db/importers.hpp"
#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"
#include "import_util.hpp"
#include "text_util.hpp"

namespace harden::db {
namespace {

using ascii::iequals;
using detail::istarts_with;
using detail::LineReader;
using detail::quote;
using policy::Attr;
using policy::Selector;

enum class Tag { client_rate, client_conn, greet_pause, connect };

constexpr std::string_view tag_name(Tag t) {
  switch (t) {
    case Tag::client_rate:
      return "ClientRate:";
    case Tag::client_conn:
      return "ClientConn:";
    case Tag::greet_pause:
      return "GreetPause:";
    case Tag::connect:
      return "Connect:";
  }
  return "?";
}

// One selector a key stands for. `weak`: the suffix half of a plain domain
// key, which a ".domain" key for the same suffix overrides.
struct Target {
  Selector selector;
  bool weak = false;
};

struct Verdict {
  policy::Action action;
  std::string reason;
};

class AccessImporter {
 public:
  AccessImporter(std::istream& in, std::string_view file, std::chrono::seconds window)
      : reader_(in, file), window_(window) {}

  ImportResult run() {
    std::string text;
    while (reader_.next(text)) {
      line_ = reader_.line_no();
      entry(text);
    }
    result_.rules = rules_.take();
    return std::move(result_);
  }

 private:
  [[noreturn]] void fail(std::string_view msg) const { reader_.fail(line_, msg); }
  void note(std::string_view msg) { reader_.note(result_, line_, msg); }

  void entry(std::string_view text) {
    if (text.empty() || text.front() == '#' || detail::trim(text).empty()) return;
    if (ascii::is_space(text.front())) {
      fail("line starts with a blank (makemap refuses it; there are no continuation lines)");
    }
    std::size_t end = 0;
    while (end < text.size() && !ascii::is_space(text[end])) ++end;
    const std::string_view key = text.substr(0, end);
    const std::string_view value = detail::trim(text.substr(end));
    if (value.empty()) fail("no value for " + quote(key));
    const auto colon = key.find(':');
    if (colon == std::string_view::npos || iequals(key.substr(0, colon), "IPv6")) {
      note("skipped untagged entry " + quote(key) +
           " (it also matches envelope addresses; tag it Connect: to import it)");
      return;
    }
    const std::string_view tag = key.substr(0, colon);
    const std::string_view k = key.substr(colon + 1);
    if (iequals(tag, "ClientRate")) return tagged(Tag::client_rate, k, value);
    if (iequals(tag, "ClientConn")) return tagged(Tag::client_conn, k, value);
    if (iequals(tag, "GreetPause")) return tagged(Tag::greet_pause, k, value);
    if (iequals(tag, "Connect")) return tagged(Tag::connect, k, value);
    note("skipped " + quote(std::string(tag) + ":") +
         " entry (only ClientRate:, ClientConn:, GreetPause: and Connect: are imported)");
  }

  void tagged(Tag tag, std::string_view key, std::string_view value) {
    const auto targets = key_targets(tag, key);
    if (targets.empty()) return;  // skipped with a note
    const std::string what = quote(std::string(tag_name(tag)) + std::string(key));
    switch (tag) {
      case Tag::client_rate: {
        std::uint32_t n = 0;
        try {
          n = policy::parse_count(value, "ClientRate value");
        } catch (const policy::PolicyError& e) {
          fail(what + ": " + e.what());
        }
        const std::string rate =
            n == 0 ? "0" : std::to_string(n) + "/" + std::to_string(window_.count()) + "s";
        set(targets, Attr::conn_rate, what, [&](auto& a) { a.set(Attr::conn_rate, rate); });
        return;
      }
      case Tag::client_conn:
        set(targets, Attr::conn_limit, what, [&](auto& a) { a.set(Attr::conn_limit, value); });
        return;
      case Tag::greet_pause:
        // sendmail reads bare milliseconds; "2s" there is not 2000 ms, so the
        // rule grammar's units are not taken here.
        if (!policy::parse_decimal(value, UINT64_MAX)) {
          fail(what + ": GreetPause value " + quote(value) + " is not a number of milliseconds");
        }
        set(targets, Attr::greet_pause, what, [&](auto& a) { a.set(Attr::greet_pause, value); });
        return;
      case Tag::connect:
        if (auto v = connect_value(value)) {
          set(targets, Attr::action, what, [&](policy::Attributes& a) {
            a.action = v->action;
            a.reason.reset();
            if (!v->reason.empty()) a.set(Attr::reason, v->reason);
          });
        }
        return;
    }
  }

  std::vector<Target> key_targets(Tag tag, std::string_view key) {
    const bool names = tag == Tag::greet_pause || tag == Tag::connect;
    if (key.empty()) {
      if (!names) return {Target{Selector::for_default()}};
      note(std::string("skipped empty ") + std::string(tag_name(tag)) +
           " key (sendmail never looks it up" +
           (tag == Tag::greet_pause ? "; the default pause is FEATURE(greet_pause, ms))" : ")"));
      return {};
    }
    if (istarts_with(key, "IPv6:")) return {Target{Selector::for_network(ipv6_key(key))}};
    if (key.find_first_not_of("0123456789.") == std::string_view::npos) {
      auto net = detail::parse_octets(key);
      if (!net) fail("bad IPv4 key " + quote(key) + " (expected 1 to 4 octets 0..255)");
      return {Target{Selector::for_network(*net)}};
    }
    if (!names) {
      note("skipped " + quote(std::string(tag_name(tag)) + std::string(key)) +
           ": sendmail looks up this tag by address only");
      return {};
    }
    try {
      if (key.front() == '.') return {Target{Selector::for_suffix(key.substr(1))}};
      return {Target{Selector::for_host(key)}, Target{Selector::for_suffix(key), true}};
    } catch (const policy::PolicyError& e) {
      fail("bad key " + quote(key) + ": " + e.what());
    }
  }

  // "IPv6:2001:db8::7" (an address) or "IPv6:2001:db8" (leading whole groups).
  policy::IpNetwork ipv6_key(std::string_view key) {
    const std::string_view rest = key.substr(5);
    const auto colons = std::count(rest.begin(), rest.end(), ':');
    if (rest.find("::") != std::string_view::npos || colons == 7) {
      try {
        return policy::IpNetwork::parse(rest);
      } catch (const policy::PolicyError& e) {
        fail("bad IPv6 key " + quote(key) + ": " + e.what());
      }
    }
    auto net = ipv6_groups(rest);
    if (!net) {
      fail("bad IPv6 key " + quote(key) +
           " (expected an address or leading whole groups such as IPv6:2001:db8)");
    }
    return *net;
  }

  // "2001:db8" -> 2001:db8::/32; nullopt unless 1..7 groups of 1..4 hex digits.
  static std::optional<policy::IpNetwork> ipv6_groups(std::string_view s) {
    const auto groups = detail::split_any(s, ":");
    const auto colons = std::count(s.begin(), s.end(), ':');
    if (groups.empty() || groups.size() > 7 || static_cast<long>(groups.size()) != colons + 1) {
      return std::nullopt;
    }
    std::array<std::uint8_t, 16> bytes{};
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].size() > 4) return std::nullopt;
      unsigned v = 0;
      for (char c : groups[g]) {
        const int d = hex(c);
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<unsigned>(d);
      }
      bytes[2 * g] = static_cast<std::uint8_t>(v >> 8);
      bytes[2 * g + 1] = static_cast<std::uint8_t>(v & 0xff);
    }
    return policy::IpNetwork(policy::IpAddress::v6(bytes),
                             static_cast<unsigned>(16 * groups.size()));
  }

  static int hex(char c) {
    if (ascii::is_digit(c)) return c - '0';
    if (ascii::is_xdigit(c)) return ascii::to_lower(c) - 'a' + 10;
    return -1;
  }

  // nullopt: understood but not imported (a note says so).
  std::optional<Verdict> connect_value(std::string_view v) {
    using policy::Action;
    if (iequals(v, "REJECT")) return Verdict{Action::block, {}};
    if (iequals(v, "OK") || iequals(v, "RELAY") || iequals(v, "SKIP")) {
      return Verdict{Action::limit, {}};
    }
    if (iequals(v, "DISCARD") || istarts_with(v, "QUARANTINE:")) {
      note("skipped Connect: " + quote(v) + " (accepts and then discards or quarantines mail)");
      return std::nullopt;
    }
    if (istarts_with(v, "ERROR:")) return error_value(v.substr(6));
    if (ascii::is_digit(v.front()) || v.front() == '"') return error_value(v);
    fail("unknown Connect: value " + quote(v) +
         " (expected OK, RELAY, SKIP, REJECT, DISCARD, QUARANTINE:text or ERROR:code text)");
  }

  // "[d.s.n:]NNN text", "\"NNN text\"", "text" (5xx).
  Verdict error_value(std::string_view t) {
    t = detail::trim(t);
    char cls = '5';
    if (const auto colon = t.find(':');
        colon != std::string_view::npos && detail::is_enhanced_code(t.substr(0, colon))) {
      cls = t.front();
      t = detail::trim(t.substr(colon + 1));
    }
    if (!t.empty() && t.front() == '"') {
      if (t.size() < 2 || t.back() != '"') fail("unbalanced quote in " + quote(t));
      t = detail::trim(t.substr(1, t.size() - 2));
    }
    const bool has_code = t.size() >= 3 && ascii::is_digit(t[0]) && ascii::is_digit(t[1]) &&
                          ascii::is_digit(t[2]) && (t.size() == 3 || ascii::is_space(t[3]));
    if (has_code) {
      cls = t.front();
      t = t.substr(3);
    }
    if (cls != '4' && cls != '5') fail("reply code in " + quote(t) + " is not a rejection");
    return Verdict{cls == '4' ? policy::Action::tempfail : policy::Action::block,
                   detail::clean_reason(reader_, result_, line_, t)};
  }

  // Sets one attribute (via `apply`) on every target, refusing a second
  // entry for the same key and tag; a strong target overrides a weak one.
  template <typename Apply>
  void set(const std::vector<Target>& targets, Attr attr, const std::string& what, Apply apply) {
    for (const auto& t : targets) {
      const std::string key = t.selector.text() + '\n' + std::string(policy::info(attr).name);
      auto [it, fresh] = origins_.try_emplace(key, Origin{line_, t.weak});
      if (!fresh) {
        if (!it->second.weak && t.weak) continue;
        if (it->second.weak == t.weak) {
          fail(what + ": " + std::string(policy::info(attr).name) + " for " + t.selector.text() +
               " already given at line " + std::to_string(it->second.line));
        }
        it->second = Origin{line_, t.weak};
      }
      try {
        apply(rules_.get(t.selector, reader_.comment(line_)).attrs);
      } catch (const policy::PolicyError& e) {
        fail(what + ": " + e.what());
      }
    }
  }

  struct Origin {
    std::size_t line;
    bool weak;
  };

  LineReader reader_;
  std::chrono::seconds window_;
  detail::RuleSet rules_;
  ImportResult result_;
  std::unordered_map<std::string, Origin> origins_;  // "selector\nattr" -> where set
  std::size_t line_ = 0;
};

}  // namespace

ImportResult parse_sendmail_access(std::istream& in, std::string_view filename,
                                   std::chrono::seconds rate_window) {
  if (rate_window < std::chrono::seconds{1} || rate_window > policy::kMaxWindow) {
    throw ImportError(std::string(filename) + ": rate window " +
                      std::to_string(rate_window.count()) + "s out of range (1s..7d)");
  }
  return AccessImporter(in, filename, rate_window).run();
}

ImportResult parse_sendmail_access(std::istream& in, std::string_view filename) {
  return parse_sendmail_access(in, filename, std::chrono::seconds{60});
}

}  // namespace harden::db
