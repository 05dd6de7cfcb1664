// address.hpp - IPv4/IPv6 addresses, networks (CIDR) and client keys.
//
// SYNOPSIS
//   IpAddress::parse("192.0.2.7"), IpAddress::parse("2001:db8::7")
//   IpNetwork::parse("192.0.2.0/24")   host bits must be zero, else an error
//   ClientKeyer{32, 64}.key(addr)       the network a client is counted by
//
// IPv4-mapped IPv6 addresses (::ffff:192.0.2.7) are taken as the IPv4 address.
// An optional "IPv6:" prefix (sendmail's form) is accepted by parse().
// All functions are pure; parse errors throw PolicyError with a message
// naming the bad part.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace harden::policy {

enum class Family : std::uint8_t { v4, v6 };

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress v4(std::uint32_t host_order);
  static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);

  // Throws PolicyError naming the input when it is not an address.
  static IpAddress parse(std::string_view text);
  static std::optional<IpAddress> try_parse(std::string_view text) noexcept;

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::v4; }
  // 32 for IPv4, 128 for IPv6.
  unsigned bits() const { return family_ == Family::v4 ? 32u : 128u; }
  // Bytes in network order; IPv4 uses the first 4.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  bool bit(unsigned i) const {
    return ((static_cast<unsigned>(bytes_[i / 8]) >> (7u - i % 8u)) & 1u) != 0u;
  }
  bool is_loopback() const;

  // Canonical text: dotted quad, or RFC 5952 compressed IPv6.
  std::string to_string() const;

  // The address with all bits past `prefix` cleared.
  IpAddress masked(unsigned prefix) const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::v4;
  std::array<std::uint8_t, 16> bytes_{};
};

class IpNetwork {
 public:
  IpNetwork() = default;
  // Throws PolicyError if host bits past `prefix` are set or prefix is too long.
  IpNetwork(IpAddress base, unsigned prefix);

  // "192.0.2.0/24", "2001:db8::/48", or a bare address (full-length prefix).
  static IpNetwork parse(std::string_view text);
  // The network of `prefix` bits (at most a's length) that holds `a`. No throw.
  static IpNetwork containing(const IpAddress& a, unsigned prefix);

  const IpAddress& address() const { return base_; }
  unsigned prefix() const { return prefix_; }
  bool is_host() const { return prefix_ == base_.bits(); }
  bool contains(const IpAddress& a) const;
  std::string to_string() const;  // "192.0.2.0/24"; a host network prints as the address

  friend bool operator==(const IpNetwork&, const IpNetwork&) = default;
  friend auto operator<=>(const IpNetwork&, const IpNetwork&) = default;

 private:
  IpAddress base_;
  unsigned prefix_ = 0;
};

// A hash of a network, for the tables keyed by client key.
// A hash of an address's 16 bytes and a tag (its family, its prefix, a
// port): multiply-xorshift rounds over 64-bit words, not a byte loop (the
// counter tables hash a key on every call, and again for each node a bucket
// walk passes).
inline std::size_t hash_address_bytes(const std::array<std::uint8_t, 16>& bytes,
                                      std::uint64_t tag) noexcept {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::memcpy(&lo, bytes.data(), sizeof lo);
  std::memcpy(&hi, bytes.data() + sizeof lo, sizeof hi);
  std::uint64_t h = (lo * 0x9E3779B97F4A7C15ULL) ^ (tag * 0xD6E8FEB86659FD93ULL);
  h = (h ^ (h >> 32) ^ hi) * 0xC2B2AE3D27D4EB4FULL;
  return static_cast<std::size_t>(h ^ (h >> 29));
}

struct IpNetworkHash {
  std::size_t operator()(const IpNetwork& n) const noexcept {
    return hash_address_bytes(n.address().bytes(), n.prefix());
  }
};

// How clients are counted: an IPv4 host by its /32, an IPv6 host by its /64
// (it owns the whole prefix). Both prefixes are configurable.
struct ClientKeyer {
  unsigned v4_prefix = 32;
  unsigned v6_prefix = 64;

  // Throws PolicyError if a prefix is out of range (v4: 8..32, v6: 16..128).
  void validate() const;
  IpNetwork key(const IpAddress& a) const;
};

}  // namespace harden::policy
