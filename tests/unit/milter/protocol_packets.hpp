// protocol_packets.hpp - builders for the MTA side of milter protocol
// packets, and a parser for the milter's replies: for the protocol unit
// tests and the fuzz target's seed corpus. Header-only, no libmilter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace harden::milter::testing {

inline std::string be32_bytes(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
          static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

inline std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s.at(at + i));
  return v;
}

inline std::string packet(char cmd, const std::string& data) {
  return be32_bytes(static_cast<std::uint32_t>(data.size() + 1)) + cmd + data;
}

inline std::string optneg(std::uint32_t version, std::uint32_t actions, std::uint32_t protocol) {
  return packet('O', be32_bytes(version) + be32_bytes(actions) + be32_bytes(protocol));
}

inline std::string strings(std::initializer_list<std::string> list) {
  std::string d;
  for (const std::string& s : list) {
    d += s;
    d += '\0';
  }
  return d;
}

inline std::string macro_raw(char stage, const std::string& data) {
  return packet('D', std::string(1, stage) + data);
}
inline std::string macro(char stage, std::initializer_list<std::string> name_values) {
  return macro_raw(stage, strings(name_values));
}

inline std::string connect_inet(const std::string& host, char family, std::uint16_t port,
                                const std::string& address) {
  std::string d = host;
  d += '\0';
  d += family;
  d += static_cast<char>(port >> 8);
  d += static_cast<char>(port & 0xff);
  d += address;
  d += '\0';
  return packet('C', d);
}

inline std::string helo(const std::string& name) {
  return packet('H', strings({name}));
}
inline std::string mail(std::initializer_list<std::string> args) {
  return packet('M', strings(args));
}
inline std::string rcpt(std::initializer_list<std::string> args) {
  return packet('R', strings(args));
}
inline std::string header(const std::string& name, const std::string& value) {
  return packet('L', strings({name, value}));
}
inline std::string unknown(const std::string& line) {
  return packet('U', strings({line}));
}

struct Packet {
  char cmd = 0;
  std::string data;
};

// Whole packets of `bytes`; a trailing partial packet is ignored.
inline std::vector<Packet> parse_packets(const std::string& bytes) {
  std::vector<Packet> out;
  std::size_t at = 0;
  while (bytes.size() - at >= 5) {
    const std::uint32_t len = be32(bytes, at);
    if (len == 0 || bytes.size() - at - 4 < len) break;
    out.push_back(Packet{bytes[at + 4], bytes.substr(at + 5, len - 1)});
    at += 4 + len;
  }
  return out;
}

}  // namespace harden::milter::testing
