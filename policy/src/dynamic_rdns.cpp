// dynamic_rdns.cpp - classify_rdns(): the built-in generic-name heuristic
// (dynamic | hosting | static-or-unknown), and classify_dynamic_rdns().
//
// SYNOPSIS
//   auto hit = classify_rdns("93-184-216-34.dyn.example.net", &client);
//   // hit->kind == RdnsClass::dynamic, hit->heuristic == "ipv4-dashed",
//   // hit->detail == "93-184-216-34 in name"
//   hit = classify_rdns("ec2-54-1-2-3.compute-1.amazonaws.com", &client);
//   // hit->kind == RdnsClass::hosting, hit->detail names the hosting word
//
// WHAT IS LOOKED AT
//   The host part: the labels left of the registrable domain, taken as the
//   last two labels, or three under a two-letter TLD with a generic second
//   level ("co.uk", "com.mx"). Keywords and exempt words count only there, so
//   a TLD such as "mx" or "biz", or an ISP's own domain ("alicedsl.de"),
//   neither exempts nor convicts a name. The registrable domain is read for
//   two things only: hosting words in it ("contaboserver.net",
//   "googleusercontent.com", "pq.hosting") and the client's address in it
//   (OVH's "ip-51-75-33.eu": an ISP registers no domain per /24).
//   Tokens are the runs of letters and digits between '.', '-', '_'.
//
// DECISION, in this order
//   1. a mail word in the host part -> nothing: a token mx, mta, relay, out,
//      outbound, each also with a number and one letter (mx1, mx0a, mta12),
//      or a token starting with mail or smtp (mail2, mailout, smtp03); or a
//      registrable domain starting with mail or smtp (a mail provider:
//      m43-7.mailgun.net, whose numbers are its own address).
//   2. the client's IPv4 address in the name (forms below) with hosting
//      context (a hosting word in the host part or the domain, srv beside
//      the address, a large provider's domain, or the address in the
//      registrable domain) -> hosting.
//   3. a fixed-line word in the host part -> nothing: a token containing
//      static, business, fixed, fixo or fixip, a token sta, biz (also with a
//      number), or business/static in the domain ("comcastbusiness.net").
//   4. the address in the host part -> dynamic.
//   5. a dynamic keyword as a token or keyword + digits, and at least 3
//      digits in the host part (1 for dyn, dynamic, dynip, dynamicip, ddns)
//      -> dynamic; or an access-technology keyword (dsl, cable, ppp, dial,
//      dhcp, ftth, dyn..., also followed by a digit and more: ppp0c199) and
//      the client's last octet (10 or more) as a group of digits
//      (abvb70.neoplus.adsl for 83.8.199.70) -> dynamic (keyword-last-octet).
//   6. a hosting word as a token or word + digits in the host part, or in
//      the domain, or a large provider's domain, and at least 2 digits in
//      the host part, or the token hosted or hosting in the host part ->
//      hosting.
//   7. no hosting word and a CPE's MAC address in the host part: a token
//      ending in 12 hex digits, both digits and letters among them
//      (s0106000cf16f58b1), or six 2-digit hex tokens in a row
//      (x1-6-00-04-bd-d2-e0-a3) -> dynamic (mac-address).
//
// ADDRESS FORMS
//   ipv4-dotted, ipv4-dashed, ipv4-mixed     four groups (zero padding allowed)
//   ipv4-reversed-dotted / -dashed / -mixed  the same, octets reversed
//   ipv4-split       the first three octets in a row, the fourth as a group
//                    elsewhere in the host part (131.host-49-50-209,
//                    86.red-2-138-111, ip125.51-77-82)
//   ipv4-partial     the first three octets in a row in the registrable
//                    domain (ip120.ip-51-75-33.eu): hosting context only
//   ipv4-hex         8 hex digits (c0000207 for 192.0.2.7), not inside a
//                    longer hex run unless only letters precede them in
//                    their token (ac5b0a1c2d, ip1f11c30d)
//   ipv4-digits, ipv4-reversed-digits        12 zero-padded digits
//                    (192000002007), or the plain concatenation when 8+
//                    digits long
//   ipv4-permuted    the four octets as four groups in a row in another
//                    order (d53-64-35-171 for 64.53.171.35)
//   ipv4-tail        the last two octets: two groups in a row (98-153,
//                    157-050), or one run of 6 zero-padded digits or of 5+
//                    plain ones (sagami134136 for 210.251.134.136)
//   ipv4-like   (no IPv4 client address only) four groups 0-255 in a row
//
// KEYWORDS, and what was left out
//   dynamic: dyn dynamic dynip dynamicip dsl adsl vdsl xdsl cable cablemodem
//   modemcable catv pool pools ppp pppoe dial dialup dialin dip (T-Online)
//   dhcp client dclient cpe res resi resid residential broadband user
//   wireless wlan ftth hsd (cable high-speed data) abo (French "abonné")
//   lns bras (access concentrators).
//   Whole tokens only: "resolver", "dslreports", "userdata" do not count,
//   and the digit rule keeps "pool.ntp.org" and "dial1.example" out.
//   Left out: host (hosting companies name static servers host123), ip (EC2
//   and servers), cust/customer and home (static business and hosting use),
//   mobile, cm, bb (too short or too broad).
//   hosting, in the host part: vps vds vm vmi server dedi dedicated colo
//   cloud hosted hosting compute instance instances ec2 ecs hwsrv, and srv
//   beside the address only (srv2, tomts43-srv: a company's servers); in the
//   domain's labels (substrings): cloud server hosting host usercontent
//   colo vps vds dedi datacenter compute aws ("idc" was tried and left out:
//   it is inside "midco", a cable ISP); and the registrable domains of
//   large providers whose generic names carry none of these words
//   (kHostingDomains: linode.com, kimsufi.com, poneytelecom.eu, ...).
//   A bare last octet counts beside access keywords only: a sender's
//   "33.pool.example.com" is a mail pool, not a subscriber line.
//
// Pure; never throws except std::bad_alloc. Names over kMaxHostnameLength
// never match. IPv6 clients get only the address-independent forms.
#include <algorithm>
#include <array>
#include <string>

#include "harden/policy/ascii.hpp"
#include "harden/policy/rdns.hpp"

namespace harden::policy {

std::string_view to_string(RdnsClass c) {
  return c == RdnsClass::dynamic ? "dynamic" : "hosting";
}

namespace {

using Octets = std::array<std::uint8_t, 4>;

constexpr std::array<std::string_view, 38> kKeywords = {
    "dyn",         "dynamic",   "dynip",   "dynamicip",  "ddns",       "dsl",    "adsl",
    "vdsl",        "xdsl",      "cable",   "cablemodem", "modemcable", "catv",   "pool",
    "pools",       "ppp",       "pppoe",   "dial",       "dialup",     "dialin", "dip",
    "dhcp",        "client",    "dclient", "cpe",        "res",        "resi",   "resid",
    "residential", "broadband", "user",    "wireless",   "wlan",       "ftth",   "hsd",
    "abo",         "lns",       "bras"};
// Keywords no mail host is named after: one digit is enough.
constexpr std::array<std::string_view, 5> kStrongKeywords = {"dyn", "dynamic", "dynip", "dynamicip",
                                                             "ddns"};
// Keywords that name an access technology: only these count beside a bare
// last octet (a mail provider's "33.pool.example.com" does not).
constexpr std::array<std::string_view, 20> kAccessKeywords = {
    "dyn",   "dynamic", "dynip",  "dynamicip",  "ddns",       "dsl",  "adsl",
    "vdsl",  "xdsl",    "cable",  "cablemodem", "modemcable", "catv", "ppp",
    "pppoe", "dial",    "dialup", "dialin",     "dhcp",       "ftth"};
constexpr std::array<std::string_view, 5> kMailTokens = {"mx", "mta", "relay", "out", "outbound"};
constexpr std::array<std::string_view, 2> kMailPrefixes = {"mail", "smtp"};
constexpr std::array<std::string_view, 5> kFixedInToken = {"static", "business", "fixed", "fixo",
                                                           "fixip"};
constexpr std::array<std::string_view, 2> kFixedTokens = {"sta", "biz"};
constexpr std::array<std::string_view, 17> kHostingTokens = {
    "vps",    "vds",     "vm",      "vmi",      "server",    "dedi", "dedicated", "colo", "cloud",
    "hosted", "hosting", "compute", "instance", "instances", "ec2",  "ecs",       "hwsrv"};
constexpr std::array<std::string_view, 12> kHostingInDomain = {
    "cloud", "server", "hosting", "host",       "usercontent", "colo",
    "vps",   "vds",    "dedi",    "datacenter", "compute",     "aws"};
// Host tokens that are hosting context beside the client's address only:
// srv-45-125-66-252 is a provider's generic name, srv2 and tomts43-srv a
// company's own servers.
constexpr std::array<std::string_view, 1> kAddressHostingTokens = {"srv"};
// Registrable domains under which large cloud, hosting and CDN providers
// publish their customers' generic names (their documented default reverse
// DNS), for the names that carry no hosting word: EC2, Linode, OVH and its
// Kimsufi/So you Start lines, Scaleway/Online, SoftLayer, Akamai, Rackspace,
// Vultr, Hostwinds, GoDaddy, Leaseweb, M247, DigitalOcean, Oracle, Azure.
constexpr std::array<std::string_view, 19> kHostingDomains = {"amazonaws.com",
                                                              "linode.com",
                                                              "ovh.net",
                                                              "kimsufi.com",
                                                              "poneytelecom.eu",
                                                              "sl-reverse.com",
                                                              "akamaitechnologies.com",
                                                              "cloud-ips.com",
                                                              "vultr.com",
                                                              "hostwindsdns.com",
                                                              "secureserver.net",
                                                              "leaseweb.com",
                                                              "leaseweb.net",
                                                              "m247.com",
                                                              "digitalocean.com",
                                                              "oraclecloud.com",
                                                              "cloudapp.net",
                                                              "azure.com",
                                                              "cloudfront.net"};
// Host tokens that say "hosting" without any number (hosted-by.example.net).
constexpr std::array<std::string_view, 2> kHostingPhrases = {"hosted", "hosting"};
constexpr std::array<std::string_view, 18> kSecondLevels = {
    "ac",  "co", "com", "edu", "gen", "gob", "go",  "gov", "ltd",
    "mil", "ne", "net", "nic", "nom", "or",  "org", "plc", "sch"};
constexpr std::size_t kMinKeywordDigits = 3;
constexpr std::size_t kMinStrongKeywordDigits = 1;
constexpr std::size_t kMinHostingDigits = 2;
constexpr std::size_t kMinPlainDigits = 8;
constexpr std::size_t kMinTailDigits = 5;  // a plain last-two-octets run (134136)
constexpr int kMinLastOctet = 10;          // a last octet that counts beside a keyword

// Every name below is lower-cased first (classify_rdns), so the ASCII
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

// ---- tokens ----
// Word lists are checked often (every name, every token), so each token
// carries the set of letters it holds and each list the set of its words'
// first letters: a word is compared only with tokens that could hold it.

constexpr std::uint32_t letter_bit(char c) {
  return c >= 'a' && c <= 'z' ? std::uint32_t{1} << (c - 'a') : 0;
}

constexpr std::uint32_t letters_of(std::string_view s) {
  std::uint32_t m = 0;
  for (char c : s) m |= letter_bit(c);
  return m;
}

template <std::size_t N>
constexpr std::uint32_t first_letters(const std::array<std::string_view, N>& words) {
  std::uint32_t m = 0;
  for (std::string_view w : words) m |= letter_bit(w[0]);
  return m;
}

// Trivially constructible (no string_view member), so the arrays below cost
// nothing until filled.
struct Token {
  const char* data;
  std::uint32_t size;
  std::uint32_t letters;  // letters_of(text())
  std::string_view text() const { return {data, size}; }
};

// The runs of letters and digits of a host part.
struct Tokens {
  std::array<Token, kMaxHostnameLength / 2 + 1> t;  // left uninitialized past `count`
  std::size_t count = 0;
  std::uint32_t firsts = 0;  // letter_bit of each token's first character
};

Tokens tokens_of(std::string_view s) {
  Tokens out;  // t is filled up to count, never read past it
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !is_alnum(s[i])) ++i;
    const std::size_t start = i;
    std::uint32_t letters = 0;
    while (i < s.size() && is_alnum(s[i])) letters |= letter_bit(s[i++]);
    if (i == start) continue;
    out.t[out.count++] = Token{s.data() + start, static_cast<std::uint32_t>(i - start), letters};
    out.firsts |= letter_bit(s[start]);
  }
  return out;
}

// `token` is `word`, or `word` followed by digits only.
bool token_is(std::string_view token, std::string_view word) {
  if (!token.starts_with(word)) return false;
  return std::all_of(token.begin() + static_cast<std::ptrdiff_t>(word.size()), token.end(),
                     is_digit);
}

// `token` is `word`, `word` + digits, or `word` + digits + one letter (mx0a).
bool token_is_numbered(std::string_view token, std::string_view word) {
  if (token_is(token, word)) return true;
  return token.size() > word.size() + 1 && !is_digit(token.back()) &&
         token_is(token.substr(0, token.size() - 1), word);
}

// The first word of `words` some token is (per `match`: token_is and the
// like); empty when none is.
template <std::size_t N, typename Match>
std::string_view token_word(const Tokens& ts, const std::array<std::string_view, N>& words,
                            std::uint32_t firsts, Match match) {
  if ((ts.firsts & firsts) == 0) return {};
  for (std::size_t i = 0; i < ts.count; ++i) {
    const std::string_view t = ts.t[i].text();
    if ((letter_bit(t[0]) & firsts) == 0) continue;
    for (std::string_view w : words)
      if (w[0] == t[0] && match(t, w)) return w;
  }
  return {};
}

template <std::size_t N>
constexpr std::array<std::uint32_t, N> letter_sets(const std::array<std::string_view, N>& words) {
  std::array<std::uint32_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = letters_of(words[i]);
  return out;
}

// The first word of `words` inside `s` (whose letters are `letters`); `sets`
// are letter_sets(words).
template <std::size_t N>
std::string_view contained(std::string_view s, std::uint32_t letters,
                           const std::array<std::string_view, N>& words,
                           const std::array<std::uint32_t, N>& sets) {
  for (std::size_t i = 0; i < N; ++i)
    if ((sets[i] & ~letters) == 0 && s.find(words[i]) != std::string_view::npos) return words[i];
  return {};
}

constexpr std::array<std::string_view, 2> kFixedInDomain = {"business", "static"};
constexpr auto kFixedInDomainSets = letter_sets(kFixedInDomain);
constexpr auto kFixedInTokenSets = letter_sets(kFixedInToken);
constexpr auto kHostingInDomainSets = letter_sets(kHostingInDomain);
constexpr std::uint32_t kMailFirsts = first_letters(kMailTokens) | first_letters(kMailPrefixes);
constexpr std::uint32_t kFixedFirsts = first_letters(kFixedTokens);
constexpr std::uint32_t kHostingFirsts = first_letters(kHostingTokens);
constexpr std::uint32_t kKeywordFirsts = first_letters(kKeywords);

// A mail word in the host part, or a registrable domain whose first label
// starts with mail or smtp (a mail provider: mailgun.net, smtp.com).
bool mail_word(const Tokens& ts, std::string_view domain) {
  for (std::string_view w : kMailPrefixes)
    if (domain.starts_with(w)) return true;
  if (!token_word(ts, kMailTokens, kMailFirsts, token_is_numbered).empty()) return true;
  return !token_word(ts, kMailPrefixes, kMailFirsts, [](std::string_view t, std::string_view w) {
            return t.starts_with(w);
          }).empty();
}

bool fixed_line_word(const Tokens& ts, std::string_view domain) {
  const std::string_view label = domain.substr(0, domain.find('.'));
  if (!contained(label, letters_of(label), kFixedInDomain, kFixedInDomainSets).empty()) return true;
  if (!token_word(ts, kFixedTokens, kFixedFirsts, token_is).empty()) return true;
  for (std::size_t i = 0; i < ts.count; ++i)
    if (!contained(ts.t[i].text(), ts.t[i].letters, kFixedInToken, kFixedInTokenSets).empty())
      return true;
  return false;
}

// The hosting word in the host part (as a token) or in the domain (as a
// substring of a label); empty when there is none.
std::string_view hosting_word(const Tokens& ts, std::string_view domain) {
  const std::string_view found = token_word(ts, kHostingTokens, kHostingFirsts, token_is);
  if (!found.empty()) return found;
  for (std::string_view d : kHostingDomains)
    if (d == domain) return d;
  return contained(domain, letters_of(domain), kHostingInDomain, kHostingInDomainSets);
}

std::string octets_text(const Octets& a) {
  return std::to_string(a[0]) + '.' + std::to_string(a[1]) + '.' + std::to_string(a[2]) + '.' +
         std::to_string(a[3]);
}

// ---- groups of digits ----

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

bool is_separator(char c) {
  return c == '.' || c == '-' || c == '_';
}

// Groups k..k+n-1 are octets joined by single separators; returns the
// separator style ("dotted", "dashed", "mixed") or an empty view.
std::string_view run_style(std::string_view s, const Groups& gs, std::size_t k, std::size_t n) {
  bool dots = true, dashes = true;
  for (std::size_t j = k; j < k + n; ++j) {
    if (gs.g[j].value < 0 || gs.g[j].value > 255) return {};
    if (j == k + n - 1) break;
    if (gs.g[j].end + 1 != gs.g[j + 1].begin) return {};
    const char sep = s[gs.g[j].end];
    if (!is_separator(sep)) return {};
    dots = dots && sep == '.';
    dashes = dashes && sep == '-';
  }
  return dots ? "dotted" : dashes ? "dashed" : "mixed";
}

bool run_equals(const Groups& gs, std::size_t k, const Octets& a, std::size_t n, bool reversed) {
  for (std::size_t j = 0; j < n; ++j)
    if (gs.g[k + j].value != a[reversed ? 3 - j : j]) return false;
  return true;
}

std::string_view text_of(std::string_view s, const Groups& gs, std::size_t k, std::size_t n) {
  return s.substr(gs.g[k].begin, gs.g[k + n - 1].end - gs.g[k].begin);
}

std::optional<RdnsHit> quad_in_name(std::string_view s, const Groups& gs, const Octets* a) {
  for (std::size_t k = 0; k + 4 <= gs.count; ++k) {
    const std::string_view style = run_style(s, gs, k, 4);
    if (style.empty()) continue;
    const std::string text(text_of(s, gs, k, 4));
    if (a == nullptr)
      return RdnsHit{RdnsClass::dynamic, "ipv4-like", "4 numeric groups '" + text + "'"};
    if (run_equals(gs, k, *a, 4, false))
      return RdnsHit{RdnsClass::dynamic, "ipv4-" + std::string(style), text + " in name"};
    if (run_equals(gs, k, *a, 4, true))
      return RdnsHit{RdnsClass::dynamic, "ipv4-reversed-" + std::string(style), text + " in name"};
  }
  return std::nullopt;
}

// Four octet groups in a row holding the address's four octets in another
// order (d53-64-35-171 for 64.53.171.35).
std::optional<RdnsHit> permuted_in_name(std::string_view s, const Groups& gs, const Octets& a) {
  Octets sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t k = 0; k + 4 <= gs.count; ++k) {
    if (run_style(s, gs, k, 4).empty()) continue;
    Octets run{};
    for (std::size_t j = 0; j < 4; ++j) run[j] = static_cast<std::uint8_t>(gs.g[k + j].value);
    std::sort(run.begin(), run.end());
    if (run == sorted)
      return RdnsHit{
          RdnsClass::dynamic, "ipv4-permuted",
          std::string(text_of(s, gs, k, 4)) + " (the octets of " + octets_text(a) + ") in name"};
  }
  return std::nullopt;
}

// The last two octets: two groups in a row (cm-anto1-98-153 for
// 200.104.98.153, usr-157-050), or one run of their digits, zero-padded to 6
// or plain when 5+ digits long (sagami134136 for 210.251.134.136).
std::optional<RdnsHit> tail_in_name(std::string_view s, const Groups& gs, const Octets& a) {
  // The packed forms as numbers: a[2] * 1000 + a[3] in 6 digits (padded), or
  // a[2] * 10^digits(a[3]) + a[3] in as many digits as both have (plain).
  const std::size_t d2 = a[2] >= 100 ? 3 : a[2] >= 10 ? 2 : 1;
  const std::size_t d3 = a[3] >= 100 ? 3 : a[3] >= 10 ? 2 : 1;
  const long padded_tail = a[2] * 1000L + a[3];
  const long plain_tail = a[2] * (d3 == 3 ? 1000L : d3 == 2 ? 100L : 10L) + a[3];
  for (std::size_t k = 0; k < gs.count; ++k) {
    const bool pair = k + 2 <= gs.count && gs.g[k].value == a[2] && gs.g[k + 1].value == a[3] &&
                      !run_style(s, gs, k, 2).empty();
    const std::string_view run = s.substr(gs.g[k].begin, gs.g[k].end - gs.g[k].begin);
    bool packed = false;
    if (run.size() >= kMinTailDigits && run.size() <= 6) {
      long v = 0;
      for (char c : run) v = v * 10 + (c - '0');
      packed = (run.size() == 6 && v == padded_tail) ||
               (run.size() == d2 + d3 && run[0] != '0' && v == plain_tail);
    }
    if (pair || packed)
      return RdnsHit{RdnsClass::dynamic, "ipv4-tail",
                     std::string(pair ? text_of(s, gs, k, 2) : run) + " (last two octets of " +
                         octets_text(a) + ") in name"};
  }
  return std::nullopt;
}

// The first three octets in a row; with `need_fourth`, the fourth octet must
// also be a group of `s` outside that run (ipv4-split), else it is ipv4-partial.
std::optional<RdnsHit> triple_in_name(std::string_view s, const Groups& gs, const Octets& a,
                                      bool need_fourth) {
  for (std::size_t k = 0; k + 3 <= gs.count; ++k) {
    if (run_style(s, gs, k, 3).empty() || !run_equals(gs, k, a, 3, false)) continue;
    const std::string text(text_of(s, gs, k, 3));
    if (!need_fourth)
      return RdnsHit{RdnsClass::hosting, "ipv4-partial",
                     text + " (3 octets of " + octets_text(a) + ") in domain"};
    for (std::size_t j = 0; j < gs.count; ++j)
      if ((j < k || j >= k + 3) && gs.g[j].value == a[3])
        return RdnsHit{RdnsClass::dynamic, "ipv4-split",
                       text + " and " + std::to_string(a[3]) + " in name"};
  }
  return std::nullopt;
}

// ---- one run of digits, one run of hex ----

std::string padded(std::uint8_t v) {  // 7 -> "007"
  return {static_cast<char>('0' + v / 100), static_cast<char>('0' + v / 10 % 10),
          static_cast<char>('0' + v % 10)};
}

std::optional<RdnsHit> digits_in_name(std::string_view s, const Groups& gs, const Octets& a) {
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
        return RdnsHit{RdnsClass::dynamic, f % 2 == 0 ? "ipv4-digits" : "ipv4-reversed-digits",
                       std::string(run) + " in name"};
    }
  }
  return std::nullopt;
}

// Only letters between the start of the token holding s[i] and s[i].
bool letters_before(std::string_view s, std::size_t i) {
  while (i > 0 && is_alnum(s[i - 1])) {
    if (is_digit(s[i - 1])) return false;
    --i;
  }
  return true;
}

std::optional<RdnsHit> hex_in_name(std::string_view s, const Octets& a) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::array<char, 8> hex{};
  for (std::size_t j = 0; j < 4; ++j) {
    hex[2 * j] = kHex[a[j] >> 4];
    hex[2 * j + 1] = kHex[a[j] & 0xf];
  }
  const std::string_view h(hex.data(), hex.size());
  for (std::size_t i = s.find(h); i != std::string_view::npos; i = s.find(h, i + 1)) {
    const bool right = i + 8 == s.size() || !is_alnum(s[i + 8]);
    const bool left = i == 0 || !is_xdigit(s[i - 1]) || (right && letters_before(s, i));
    if (left && (right || !is_xdigit(s[i + 8])))
      return RdnsHit{RdnsClass::dynamic, "ipv4-hex",
                     std::string(h) + " (hex of " + octets_text(a) + ") in name"};
  }
  return std::nullopt;
}

// A cable modem's or CPE's MAC address in the host part: a token ending in
// 12 hex digits with both digits and letters among them (Shaw's
// s0106000cf16f58b1, h000502e08144), or six two-digit hex tokens in a row
// (x1-6-00-04-bd-d2-e0-a3).
std::optional<RdnsHit> mac_in_name(const Tokens& ts) {
  constexpr std::size_t kMacDigits = 12;
  std::size_t pairs = 0;
  for (std::size_t i = 0; i < ts.count; ++i) {
    const std::string_view t = ts.t[i].text();
    const bool pair = t.size() == 2 && is_xdigit(t[0]) && is_xdigit(t[1]);
    pairs = pair ? pairs + 1 : 0;
    if (pairs == kMacDigits / 2)
      return RdnsHit{RdnsClass::dynamic, "mac-address",
                     "six hex pairs ending '" + std::string(t) + "'"};
    if (t.size() < kMacDigits) continue;
    const std::string_view tail = t.substr(t.size() - kMacDigits);
    if (!std::all_of(tail.begin(), tail.end(), is_xdigit)) continue;
    if (std::any_of(tail.begin(), tail.end(), is_digit) &&
        !std::all_of(tail.begin(), tail.end(), is_digit))
      return RdnsHit{RdnsClass::dynamic, "mac-address",
                     "12 hex digits '" + std::string(tail) + "'"};
  }
  return std::nullopt;
}

// The client's last octet (10 or more) as a group of digits of the host part
// (abvb70 for 83.8.199.70); -1 when it is not there.
int last_octet_in(const Groups& gs, const Octets* a) {
  if (a == nullptr || (*a)[3] < kMinLastOctet) return -1;
  for (std::size_t k = 0; k < gs.count; ++k)
    if (gs.g[k].value == (*a)[3]) return (*a)[3];
  return -1;
}

// A dynamic keyword with enough digits in the host part, or with the
// client's last octet (`last_octet` >= 0) beside it.
std::optional<RdnsHit> keyword_in_name(const Tokens& ts, std::size_t digits, int last_octet) {
  if (digits < kMinStrongKeywordDigits) return std::nullopt;
  bool by_octet = false;
  const std::string_view found =
      token_word(ts, kKeywords, kKeywordFirsts, [&](std::string_view t, std::string_view w) {
        const bool strong =
            std::find(kStrongKeywords.begin(), kStrongKeywords.end(), w) != kStrongKeywords.end();
        if (token_is(t, w) && digits >= (strong ? kMinStrongKeywordDigits : kMinKeywordDigits))
          return true;
        // Beside the last octet, an access keyword alone or followed by a
        // digit and anything (ppp0c199) is enough.
        by_octet =
            last_octet >= 0 &&
            std::find(kAccessKeywords.begin(), kAccessKeywords.end(), w) != kAccessKeywords.end() &&
            (token_is(t, w) || (t.size() > w.size() && t.starts_with(w) && is_digit(t[w.size()])));
        return by_octet;
      });
  if (found.empty()) return std::nullopt;
  if (by_octet)
    return RdnsHit{
        RdnsClass::dynamic, "keyword-last-octet",
        "keyword '" + std::string(found) + "' and the last octet " + std::to_string(last_octet)};
  return RdnsHit{RdnsClass::dynamic, "keyword",
                 "keyword '" + std::string(found) + "' with numbers"};
}

// The client's address in the host part (any form), or in the registrable
// domain (the full forms, or its first three octets).
struct AddressEvidence {
  std::optional<RdnsHit> hit;
  bool in_domain = false;
};

AddressEvidence address_in_name(std::string_view host, const Groups& groups,
                                std::string_view domain, const Octets* a) {
  if (auto hit = quad_in_name(host, groups, a)) return {std::move(hit), false};
  if (a == nullptr) return {};
  if (auto hit = hex_in_name(host, *a)) return {std::move(hit), false};
  if (auto hit = digits_in_name(host, groups, *a)) return {std::move(hit), false};
  if (auto hit = triple_in_name(host, groups, *a, true)) return {std::move(hit), false};
  if (auto hit = permuted_in_name(host, groups, *a)) return {std::move(hit), false};
  if (auto hit = tail_in_name(host, groups, *a)) return {std::move(hit), false};
  const std::string_view label = domain.substr(0, domain.find('.'));
  const Groups in_label = digit_groups(label);
  if (in_label.count < 3) return {};
  if (auto hit = quad_in_name(label, in_label, a)) return {std::move(hit), true};
  if (auto hit = triple_in_name(label, in_label, *a, false)) return {std::move(hit), true};
  return {};
}

RdnsHit as_hosting(RdnsHit hit, std::string_view word) {
  hit.kind = RdnsClass::hosting;
  hit.detail += word.empty() ? std::string(", the address in the domain")
                             : ", hosting word '" + std::string(word) + "'";
  return hit;
}

}  // namespace

std::optional<RdnsHit> classify_rdns(std::string_view hostname, const IpAddress* client) {
  if (hostname.empty() || hostname.size() > kMaxHostnameLength) return std::nullopt;
  std::array<char, kMaxHostnameLength> buf;  // filled up to hostname.size() below
  std::transform(hostname.begin(), hostname.end(), buf.begin(),
                 [](char c) { return ascii::to_lower(c); });
  std::string_view name(buf.data(), hostname.size());
  if (name.back() == '.') name.remove_suffix(1);
  const std::string_view host = host_part(name);
  if (host.empty()) return std::nullopt;
  const Tokens tokens = tokens_of(host);
  const std::string_view domain = name.substr(host.size() + 1);
  if (mail_word(tokens, domain)) return std::nullopt;

  Octets octets{};
  const Octets* addr = nullptr;
  if (client != nullptr && client->is_v4()) {
    std::copy_n(client->bytes().begin(), 4, octets.begin());
    addr = &octets;
  }
  const Groups groups = digit_groups(host);
  AddressEvidence evidence = address_in_name(host, groups, domain, addr);
  if (evidence.hit) {
    std::string_view hosting = hosting_word(tokens, domain);
    if (hosting.empty())
      hosting =
          token_word(tokens, kAddressHostingTokens, first_letters(kAddressHostingTokens), token_is);
    if (evidence.in_domain || !hosting.empty())
      return as_hosting(std::move(*evidence.hit), hosting);
  }
  if (fixed_line_word(tokens, domain)) return std::nullopt;
  if (evidence.hit) return evidence.hit;
  const auto digits = static_cast<std::size_t>(std::count_if(host.begin(), host.end(), is_digit));
  if (auto hit = keyword_in_name(tokens, digits, last_octet_in(groups, addr))) return hit;
  const std::string_view hosting = hosting_word(tokens, domain);
  if (hosting.empty()) return mac_in_name(tokens);
  const bool phrase = !token_word(tokens, kHostingPhrases, first_letters(kHostingPhrases),
                                  [](std::string_view t, std::string_view w) { return t == w; })
                           .empty();
  if (digits < kMinHostingDigits && !phrase) return std::nullopt;
  return RdnsHit{RdnsClass::hosting, "hosting-word",
                 "hosting word '" + std::string(hosting) + "' with numbers"};
}

std::optional<DynamicRdnsHit> classify_dynamic_rdns(std::string_view hostname,
                                                    const IpAddress* client) {
  auto hit = classify_rdns(hostname, client);
  if (hit && hit->kind != RdnsClass::dynamic) return std::nullopt;
  return hit;
}

}  // namespace harden::policy
