// listener_wake.cpp - one throw-away connection to our own milter socket.
#include "listener_wake.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace harden::milter {

void wake_listener(const SocketSpec& spec) noexcept {
  namespace asio = boost::asio;
  try {
    asio::io_context io;
    boost::system::error_code ec;
    if (spec.kind == SocketSpec::Kind::unix_path) {
      asio::local::stream_protocol::socket s(io);
      s.connect(asio::local::stream_protocol::endpoint(spec.path), ec);
      return;
    }
    const bool v6 = spec.kind == SocketSpec::Kind::inet6;
    const std::string host = !spec.host.empty() ? spec.host : (v6 ? "::1" : "127.0.0.1");
    asio::ip::tcp::resolver resolver(io);
    const auto results = resolver.resolve(host, std::to_string(spec.port), ec);
    if (ec) return;
    asio::ip::tcp::socket s(io);
    asio::connect(s, results, ec);
  } catch (...) {
  }
}

}  // namespace harden::milter
