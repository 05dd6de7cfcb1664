// dynamic_rdns.cpp - classify_dynamic_rdns(): the built-in generic
// dynamic-rDNS heuristic.
//
// SYNOPSIS
//   auto hit = classify_dynamic_rdns("93-184-216-34.dyn.example.net", &client);
//   // hit->heuristic == "ipv4-dashed", hit->detail == "93-184-216-34 in name"
//
// WHAT IS LOOKED AT
//   Only the host part: the labels left of the registrable domain, taken as
//   the last two labels, or three under a two-letter TLD with a generic
//   second level ("co.uk", "com.mx"). So a TLD such as "mx" or "biz", or an
//   ISP's own domain ("alicedsl.de"), neither exempts nor convicts a name.
//   Tokens are the runs of letters and digits between '.', '-', '_'.
//
// EXEMPT (checked first; nothing fires on such a name)
//   a token static, business, biz, mx, mta, relay, out, outbound, each also
//   with a number (mx1, mta12, relay3), or a token starting with mail or smtp
//   (mail, mail2, mailout, smtp, smtp03, smtpgw). ISPs name fixed lines
//   "static-..."/"...business..."; mail servers carry these words.
//
// HEURISTICS, in this order
//   ipv4-dotted, ipv4-dashed, ipv4-mixed     the client's IPv4 address as four
//                                            groups (zero padding allowed)
//   ipv4-reversed-dotted / -dashed / -mixed  the same, octets reversed
//   ipv4-hex                                 8 hex digits (c0000207 for
//                                            192.0.2.7), not inside a longer hex run
//   ipv4-digits, ipv4-reversed-digits        12 zero-padded digits
//                                            (192000002007), or the plain
//                                            concatenation when 8+ digits long
//   ipv4-like   (no IPv4 client address only) four groups 0-255 in a row
//   keyword     a dynamic keyword as a token or a token of keyword + digits,
//               and at least 3 digits in the host part
//
// KEYWORDS, and what was left out
//   dyn dynamic dynip dsl adsl vdsl xdsl cable cablemodem pool ppp pppoe
//   dial dialup dialin dip (T-Online's dial-in pools) dhcp client cpe res
//   resid residential broadband user wireless wlan ftth.
//   Whole tokens only: "resolver", "pools", "dslreports", "userdata" do not
//   count, and the digit rule keeps "pool.ntp.org" and "dial1.example" out.
//   Left out: host (hosting companies name static servers host123), ip (EC2
//   and servers), cust/customer and home (static business and hosting use),
//   mobile, cm, bb (too short or too broad).
//
// Pure; never throws except std::bad_alloc. Names over kMaxHostnameLength
// never match. IPv6 clients get only the address-independent forms.
#include <algorithm>
#include <array>
#include <string>

#include "harden/policy/ascii.hpp"
#include "harden/policy/rdns.hpp"

namespace harden::policy {

namespace {

using Octets = std::array<std::uint8_t, 4>;

constexpr std::array<std::string_view, 27> kKeywords = {
    "dyn",         "dynamic",    "dynip", "dsl",      "adsl",  "vdsl", "xdsl",
    "cable",       "cablemodem", "pool",  "ppp",      "pppoe", "dial", "dialup",
    "dialin",      "dip",        "dhcp",  "client",   "cpe",   "res",  "resid",
    "residential", "broadband",  "user",  "wireless", "wlan",  "ftth"};
constexpr std::array<std::string_view, 8> kExemptTokens = {"static", "business", "biz", "mx",
                                                           "mta",    "relay",    "out", "outbound"};
constexpr std::array<std::string_view, 2> kExemptPrefixes = {"mail", "smtp"};
constexpr std::array<std::string_view, 18> kSecondLevels = {
    "ac",  "co", "com", "edu", "gen", "gob", "go",  "gov", "ltd",
    "mil", "ne", "net", "nic", "nom", "or",  "org", "plc", "sch"};
constexpr std::size_t kMinKeywordDigits = 3;
constexpr std::size_t kMinPlainDigits = 8;

// Every name below is lower-cased first (classify_dynamic_rdns), so the ASCII
// classes read as lower-case letters, digits and lower-case hex digits here.
using ascii::is_alnum;
using ascii::is_digit;
using ascii::is_xdigit;

// The host part of a lower-cased name (see the header comment); may be empty.
std::string_view host_part(std::string_view name) {
  std::array<std::size_t, 3> dots{};  // positions of the last three dots, last first
  std::size_t found = 0;
  for (std::size_t i = name.size(); i-- > 0 && found < dots.size();)
    if (name[i] == '.') dots[found++] = i;
  if (found < 2) return {};
  const std::string_view tld = name.substr(dots[0] + 1);
  const std::string_view second = name.substr(dots[1] + 1, dots[0] - dots[1] - 1);
  const bool generic_second =
      tld.size() == 2 &&
      std::find(kSecondLevels.begin(), kSecondLevels.end(), second) != kSecondLevels.end();
  if (!generic_second) return name.substr(0, dots[1]);
  return found == 3 ? name.substr(0, dots[2]) : std::string_view{};
}

// Calls f(token) for each run of letters and digits; stops when f returns true.
template <typename F>
bool any_token(std::string_view s, F f) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !is_alnum(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && is_alnum(s[i])) ++i;
    if (i > start && f(s.substr(start, i - start))) return true;
  }
  return false;
}

// `token` is `word`, or `word` followed by digits only.
bool token_is(std::string_view token, std::string_view word) {
  if (!token.starts_with(word)) return false;
  return std::all_of(token.begin() + static_cast<std::ptrdiff_t>(word.size()), token.end(),
                     is_digit);
}

bool exempt(std::string_view host) {
  return any_token(host, [](std::string_view t) {
    return std::any_of(kExemptTokens.begin(), kExemptTokens.end(),
                       [&](std::string_view w) { return token_is(t, w); }) ||
           std::any_of(kExemptPrefixes.begin(), kExemptPrefixes.end(),
                       [&](std::string_view w) { return t.starts_with(w); });
  });
}

std::string octets_text(const Octets& a) {
  return std::to_string(a[0]) + '.' + std::to_string(a[1]) + '.' + std::to_string(a[2]) + '.' +
         std::to_string(a[3]);
}

// ---- four groups of digits ----

struct Group {
  std::size_t begin, end;
  int value;  // -1: more than 3 digits
};

struct Groups {
  std::array<Group, kMaxHostnameLength / 2 + 1> g;  // left uninitialized past `count`
  std::size_t count = 0;
  std::size_t longest = 0;  // digits in the longest group
};

Groups digit_groups(std::string_view s) {
  Groups out;  // g is filled up to count, never read past it
  for (std::size_t i = 0; i < s.size();) {
    if (!is_digit(s[i])) {
      ++i;
      continue;
    }
    Group grp{i, i, 0};
    int v = 0;
    while (i < s.size() && is_digit(s[i])) v = std::min(v * 10 + (s[i++] - '0'), 1000);
    grp.end = i;
    grp.value = grp.end - grp.begin <= 3 ? v : -1;
    out.longest = std::max(out.longest, grp.end - grp.begin);
    out.g[out.count++] = grp;
  }
  return out;
}

// Groups k..k+3 are four octets joined by single separators; returns the
// separator style ("dotted", "dashed", "mixed") or an empty view.
std::string_view quad_style(std::string_view s, const Groups& gs, std::size_t k) {
  bool dots = true, dashes = true;
  for (std::size_t j = k; j < k + 4; ++j) {
    if (gs.g[j].value < 0 || gs.g[j].value > 255) return {};
    if (j == k + 3) break;
    if (gs.g[j].end + 1 != gs.g[j + 1].begin) return {};
    const char sep = s[gs.g[j].end];
    if (sep != '.' && sep != '-' && sep != '_') return {};
    dots = dots && sep == '.';
    dashes = dashes && sep == '-';
  }
  return dots ? "dotted" : dashes ? "dashed" : "mixed";
}

bool quad_equals(const Groups& gs, std::size_t k, const Octets& a, bool reversed) {
  for (std::size_t j = 0; j < 4; ++j)
    if (gs.g[k + j].value != a[reversed ? 3 - j : j]) return false;
  return true;
}

std::optional<DynamicRdnsHit> quad_in_name(std::string_view s, const Groups& gs, const Octets* a) {
  for (std::size_t k = 0; k + 4 <= gs.count; ++k) {
    const std::string_view style = quad_style(s, gs, k);
    if (style.empty()) continue;
    const std::string text(s.substr(gs.g[k].begin, gs.g[k + 3].end - gs.g[k].begin));
    if (a == nullptr) return DynamicRdnsHit{"ipv4-like", "4 numeric groups '" + text + "'"};
    if (quad_equals(gs, k, *a, false))
      return DynamicRdnsHit{"ipv4-" + std::string(style), text + " in name"};
    if (quad_equals(gs, k, *a, true))
      return DynamicRdnsHit{"ipv4-reversed-" + std::string(style), text + " in name"};
  }
  return std::nullopt;
}

// ---- one run of digits, one run of hex ----

std::string padded(std::uint8_t v) {
  return {static_cast<char>('0' + v / 100), static_cast<char>('0' + v / 10 % 10),
          static_cast<char>('0' + v % 10)};
}

std::optional<DynamicRdnsHit> digits_in_name(std::string_view s, const Groups& gs,
                                             const Octets& a) {
  if (gs.longest < kMinPlainDigits) return std::nullopt;  // every form has 8+ digits
  std::array<std::string, 4> forms;  // padded, reversed padded, plain, reversed plain
  for (std::size_t j = 0; j < 4; ++j) {
    forms[0] += padded(a[j]);
    forms[1] += padded(a[3 - j]);
    forms[2] += std::to_string(a[j]);
    forms[3] += std::to_string(a[3 - j]);
  }
  for (std::size_t k = 0; k < gs.count; ++k) {
    const std::string_view run = s.substr(gs.g[k].begin, gs.g[k].end - gs.g[k].begin);
    for (std::size_t f = 0; f < forms.size(); ++f) {
      if (f >= 2 && forms[f].size() < kMinPlainDigits) continue;
      if (run == forms[f])
        return DynamicRdnsHit{f % 2 == 0 ? "ipv4-digits" : "ipv4-reversed-digits",
                              std::string(run) + " in name"};
    }
  }
  return std::nullopt;
}

std::optional<DynamicRdnsHit> hex_in_name(std::string_view s, const Octets& a) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::array<char, 8> hex{};
  for (std::size_t j = 0; j < 4; ++j) {
    hex[2 * j] = kHex[a[j] >> 4];
    hex[2 * j + 1] = kHex[a[j] & 0xf];
  }
  const std::string_view h(hex.data(), hex.size());
  for (std::size_t i = s.find(h); i != std::string_view::npos; i = s.find(h, i + 1)) {
    const bool left = i == 0 || !is_xdigit(s[i - 1]);
    const bool right = i + 8 == s.size() || !is_xdigit(s[i + 8]);
    if (left && right)
      return DynamicRdnsHit{"ipv4-hex",
                            std::string(h) + " (hex of " + octets_text(a) + ") in name"};
  }
  return std::nullopt;
}

std::optional<DynamicRdnsHit> keyword_in_name(std::string_view s) {
  const auto digits = static_cast<std::size_t>(std::count_if(s.begin(), s.end(), is_digit));
  if (digits < kMinKeywordDigits) return std::nullopt;
  std::string_view found;
  any_token(s, [&](std::string_view t) {
    for (std::string_view w : kKeywords) {
      if (token_is(t, w)) {
        found = w;
        return true;
      }
    }
    return false;
  });
  if (found.empty()) return std::nullopt;
  return DynamicRdnsHit{"keyword", "keyword '" + std::string(found) + "' with numbers"};
}

}  // namespace

std::optional<DynamicRdnsHit> classify_dynamic_rdns(std::string_view hostname,
                                                    const IpAddress* client) {
  if (hostname.empty() || hostname.size() > kMaxHostnameLength) return std::nullopt;
  std::array<char, kMaxHostnameLength> buf{};
  std::transform(hostname.begin(), hostname.end(), buf.begin(),
                 [](char c) { return ascii::to_lower(c); });
  std::string_view name(buf.data(), hostname.size());
  if (name.back() == '.') name.remove_suffix(1);
  const std::string_view host = host_part(name);
  if (host.empty() || exempt(host)) return std::nullopt;

  Octets octets{};
  const Octets* addr = nullptr;
  if (client != nullptr && client->is_v4()) {
    std::copy_n(client->bytes().begin(), 4, octets.begin());
    addr = &octets;
  }
  const Groups groups = digit_groups(host);
  if (auto hit = quad_in_name(host, groups, addr)) return hit;
  if (addr != nullptr) {
    if (auto hit = hex_in_name(host, *addr)) return hit;
    if (auto hit = digits_in_name(host, groups, *addr)) return hit;
  }
  return keyword_in_name(host);
}

}  // namespace harden::policy
