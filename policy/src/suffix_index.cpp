// suffix_index.cpp - SuffixIndex: exact-host and domain-suffix lookups.
//
// SYNOPSIS
//   SuffixIndex idx;
//   idx.add_host("mx.example.org", 1);
//   idx.add_suffix(".adsl.example.net", 2);    // leading dot optional
//   idx.find_host("mx.example.org")            -> 1
//   idx.find_suffixes("a.b.adsl.example.net")  -> {2}
//
// Suffixes are stored with their leading dot (".example.net"); a name matches
// one when it ends with it, as in hosts.deny, so ".example.net" matches
// "a.example.net" but not "example.net". find_suffixes() looks up the name's
// tail at each label boundary, leftmost (longest) first: O(labels) hash
// lookups, never a scan of the suffixes.
//
// Entries are lower-cased with a trailing dot dropped; lookups take the name
// as given (callers pass normalized names) and return nothing for a name
// longer than kMaxHostnameLength or holding a byte no host name has (NUL,
// control, non-ASCII...), so "evil\0.trusted.example" never reaches a rule
// for ".trusted.example". Adding a key again replaces its value.
// Copies share their tables until one of them is added to (copy on write).
#include <algorithm>
#include <string>
#include <unordered_map>

#include "harden/policy/ascii.hpp"
#include "harden/policy/error.hpp"
#include "harden/policy/rdns.hpp"

namespace harden::policy {

namespace {

struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
using NameMap = std::unordered_map<std::string, std::uint32_t, NameHash, std::equal_to<>>;

std::string lower_key(std::string_view what, std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) throw PolicyError(std::string(what) + " is empty");
  if (name.size() > kMaxHostnameLength + 1)
    throw PolicyError(std::string(what) + " '" + std::string(name.substr(0, 64)) +
                      "...' is longer than " + std::to_string(kMaxHostnameLength) + " characters");
  std::string key(name);
  return ascii::to_lower(key);
}

// Length bound and host-name bytes only: letters, digits, '-', '_', '.'.
bool lookup_ok(std::string_view name) {
  return name.size() <= kMaxHostnameLength && std::all_of(name.begin(), name.end(), [](char c) {
           return ascii::is_alnum(c) || c == '-' || c == '.' || c == '_';
         });
}

}  // namespace

struct SuffixIndex::Impl {
  NameMap hosts;
  NameMap suffixes;         // keys start with '.'
  std::size_t longest = 0;  // longest suffix key, to skip hopeless lookups
};

SuffixIndex::SuffixIndex() : impl_(std::make_shared<Impl>()) {}

void SuffixIndex::add_host(std::string_view host, std::uint32_t value) {
  std::string key = lower_key("host name", host);
  if (key.size() > kMaxHostnameLength)
    throw PolicyError("host name '" + key.substr(0, 64) + "...' is too long");
  if (impl_.use_count() > 1) impl_ = std::make_shared<Impl>(*impl_);
  impl_->hosts.insert_or_assign(std::move(key), value);
}

void SuffixIndex::add_suffix(std::string_view suffix, std::uint32_t value) {
  std::string key = lower_key("suffix", suffix);
  if (key.front() != '.') key.insert(key.begin(), '.');
  if (key.size() < 2) throw PolicyError("suffix '.' would match every name");
  if (impl_.use_count() > 1) impl_ = std::make_shared<Impl>(*impl_);
  impl_->longest = std::max(impl_->longest, key.size());
  impl_->suffixes.insert_or_assign(std::move(key), value);
}

std::optional<std::uint32_t> SuffixIndex::find_host(std::string_view hostname) const {
  if (impl_->hosts.empty() || !lookup_ok(hostname)) return std::nullopt;
  const auto it = impl_->hosts.find(hostname);
  if (it == impl_->hosts.end()) return std::nullopt;
  return it->second;
}

std::vector<std::uint32_t> SuffixIndex::find_suffixes(std::string_view hostname) const {
  std::vector<std::uint32_t> out;
  find_suffixes(hostname, out);
  return out;
}

void SuffixIndex::find_suffixes(std::string_view hostname, std::vector<std::uint32_t>& out) const {
  out.clear();
  const Impl& im = *impl_;
  if (im.suffixes.empty() || !lookup_ok(hostname)) return;
  for (std::size_t i = hostname.find('.'); i != std::string_view::npos;
       i = hostname.find('.', i + 1)) {
    const std::string_view tail = hostname.substr(i);
    if (tail.size() > im.longest) continue;
    const auto it = im.suffixes.find(tail);
    if (it != im.suffixes.end()) out.push_back(it->second);
  }
}

}  // namespace harden::policy
