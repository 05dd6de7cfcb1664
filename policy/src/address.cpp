// address.cpp - IPv4/IPv6 addresses, networks and client keys.
#include "harden/policy/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"

namespace harden::policy {
namespace {

constexpr std::size_t kMaxAddressText = 64;
constexpr std::array<std::uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::v4;
  a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) {
  IpAddress a;
  if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin())) {
    a.family_ = Family::v4;
    std::copy(bytes.begin() + 12, bytes.end(), a.bytes_.begin());
    return a;
  }
  a.family_ = Family::v6;
  a.bytes_ = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::try_parse(std::string_view text) noexcept {
  if (text.size() >= 5 && (text.substr(0, 5) == "IPv6:" || text.substr(0, 5) == "ipv6:")) {
    text.remove_prefix(5);
    if (text.find(':') == std::string_view::npos) return std::nullopt;
  }
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[kMaxAddressText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (text.find(':') == std::string_view::npos) {
    in_addr a4{};
    if (inet_pton(AF_INET, buf, &a4) != 1) return std::nullopt;
    IpAddress a;
    std::memcpy(a.bytes_.data(), &a4, 4);
    return a;
  }
  std::array<std::uint8_t, 16> b{};
  if (inet_pton(AF_INET6, buf, b.data()) != 1) return std::nullopt;
  return v6(b);
}

IpAddress IpAddress::parse(std::string_view text) {
  if (auto a = try_parse(text)) return *a;
  throw PolicyError("not an IP address: " + quote(text));
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[0] == 127;
  static constexpr std::array<std::uint8_t, 16> kOne{0, 0, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kOne;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    inet_ntop(AF_INET, bytes_.data(), buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  }
  return buf;
}

IpAddress IpAddress::masked(unsigned prefix) const {
  IpAddress out = *this;
  const unsigned keep = std::min(prefix, bits());
  std::size_t full = keep / 8;
  if (const unsigned rest = keep % 8; rest != 0) {
    out.bytes_[full] = static_cast<std::uint8_t>(out.bytes_[full] & (0xffu << (8 - rest)));
    ++full;
  }
  std::fill(out.bytes_.begin() + static_cast<std::ptrdiff_t>(full), out.bytes_.end(),
            std::uint8_t{0});
  return out;
}

IpNetwork::IpNetwork(IpAddress base, unsigned prefix) : base_(base), prefix_(prefix) {
  if (prefix > base.bits()) {
    throw PolicyError("prefix /" + std::to_string(prefix) + " is too long for " + base.to_string() +
                      " (at most /" + std::to_string(base.bits()) + ")");
  }
  if (base.masked(prefix) != base) {
    throw PolicyError("network " + base.to_string() + "/" + std::to_string(prefix) +
                      " has host bits set (did you mean " + base.masked(prefix).to_string() + "/" +
                      std::to_string(prefix) + "?)");
  }
}

IpNetwork IpNetwork::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    const IpAddress a = IpAddress::parse(text);
    return IpNetwork(a, a.bits());
  }
  const IpAddress a = IpAddress::parse(text.substr(0, slash));
  const std::string_view p = text.substr(slash + 1);
  unsigned prefix = 0;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (p.empty() || p.size() > 3 || ec != std::errc{} || end != p.data() + p.size()) {
    throw PolicyError("bad prefix length " + quote(p) + " in " + quote(text));
  }
  // An IPv4-mapped IPv6 network is taken as the IPv4 network.
  const bool mapped = a.is_v4() && text.substr(0, slash).find(':') != std::string_view::npos;
  if (mapped) {
    if (prefix < 96)
      throw PolicyError("prefix too short for an IPv4-mapped network: " + quote(text));
    prefix -= 96;
  }
  return IpNetwork(a, prefix);
}

bool IpNetwork::contains(const IpAddress& a) const {
  return a.family() == base_.family() && a.masked(prefix_) == base_;
}

std::string IpNetwork::to_string() const {
  if (is_host()) return base_.to_string();
  return base_.to_string() + "/" + std::to_string(prefix_);
}

void ClientKeyer::validate() const {
  if (v4_prefix < 8 || v4_prefix > 32) {
    throw PolicyError("IPv4 client key prefix /" + std::to_string(v4_prefix) +
                      " out of range (8..32)");
  }
  if (v6_prefix < 16 || v6_prefix > 128) {
    throw PolicyError("IPv6 client key prefix /" + std::to_string(v6_prefix) +
                      " out of range (16..128)");
  }
}

IpNetwork IpNetwork::containing(const IpAddress& a, unsigned prefix) {
  IpNetwork n;
  n.prefix_ = std::min(prefix, a.bits());
  n.base_ = a.masked(n.prefix_);
  return n;
}

IpNetwork ClientKeyer::key(const IpAddress& a) const {
  return IpNetwork::containing(a, a.is_v4() ? v4_prefix : v6_prefix);
}

}  // namespace harden::policy
