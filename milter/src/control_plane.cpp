// control_plane.cpp - the Asio thread: acceptors, connections, signals, timers.
#include "harden/milter/control_plane.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <filesystem>
#include <thread>

#include "harden/milter/privileges.hpp"

namespace harden::milter {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::local::stream_protocol;
using std::chrono::seconds;

constexpr seconds kControlIdle{30};
constexpr seconds kHttpTimeout{5};
constexpr std::size_t kMaxHttpHead = 8192;

// Counts live connections of one kind; refuses past the cap.
struct ConnectionSlots {
  std::atomic<std::size_t> open{0};
  bool take() {
    if (open.fetch_add(1) >= ControlPlane::kMaxConnections) {
      open.fetch_sub(1);
      return false;
    }
    return true;
  }
};

// What both kinds of connection share: the socket, a timer that closes an
// idle one, the slot it holds, and a last answer written before closing.
template <class Derived, class Socket>
class Connection : public std::enable_shared_from_this<Derived> {
 public:
  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    sock_.shutdown(Socket::shutdown_both, ignored);
    sock_.close(ignored);
  }

 protected:
  Connection(Socket s, ConnectionSlots& slots)
      : sock_(std::move(s)), timer_(sock_.get_executor()), slots_(slots) {}
  ~Connection() { slots_.open.fetch_sub(1); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void arm_timer(std::chrono::steady_clock::duration idle) {
    timer_.expires_after(idle);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->close();
    });
  }

  void reply_and_close(std::string text) {
    out_ = std::move(text);
    asio::async_write(sock_, asio::buffer(out_),
                      [self = this->shared_from_this()](boost::system::error_code, std::size_t) {
                        self->close();
                      });
  }

  Socket sock_;
  asio::steady_timer timer_;
  std::string out_;

 private:
  ConnectionSlots& slots_;
};

class ControlConnection : public Connection<ControlConnection, stream_protocol::socket> {
 public:
  ControlConnection(stream_protocol::socket s, ControlHooks& hooks, ConnectionSlots& slots)
      : Connection(std::move(s), slots), hooks_(hooks) {}

  void start() {
    ucred cred{};
    socklen_t len = sizeof cred;
    const bool ok =
        ::getsockopt(sock_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
        ControlPlane::peer_allowed(cred.uid, cred.gid, ::geteuid(), ::getegid());
    if (!ok) {
      if (hooks_.metrics) hooks_.metrics->bump(Metric::control_denied_total);
      spdlog::warn("control: refused peer uid {} gid {} pid {}", cred.uid, cred.gid, cred.pid);
      reply_and_close(control_error_reply("permission denied") + "\n");
      return;
    }
    read();
  }

 private:
  void read() {
    arm_timer(kControlIdle);
    asio::async_read_until(sock_, buf_, '\n',
                           [self = shared_from_this()](boost::system::error_code ec,
                                                       std::size_t n) { self->on_line(ec, n); });
  }

  void on_line(boost::system::error_code ec, std::size_t n) {
    if (ec == asio::error::not_found) {  // the buffer filled up without a newline
      reply_and_close(control_error_reply("request too long") + "\n");
      return;
    }
    if (ec) return close();
    std::string line(asio::buffers_begin(buf_.data()),
                     asio::buffers_begin(buf_.data()) + static_cast<std::ptrdiff_t>(n - 1));
    buf_.consume(n);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (hooks_.metrics) hooks_.metrics->bump(Metric::control_requests_total);
    out_ = hooks_.service ? handle_control_line(line, *hooks_.service)
                          : control_error_reply("no control service");
    out_ += '\n';
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](boost::system::error_code wec, std::size_t) {
                        if (wec) return self->close();
                        self->read();
                      });
  }

  asio::streambuf buf_{kMaxControlRequest + 1};
  ControlHooks& hooks_;
};

// "GET /metrics HTTP/1.0" -> status line and body.
std::pair<std::string, std::string> http_answer(std::string_view head, const ControlHooks& hooks) {
  const auto eol = head.find_first_of("\r\n");
  const std::string_view line = head.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos) return {"400 Bad Request", "bad request\n"};
  const std::string_view method = line.substr(0, sp1);
  std::string_view target =
      line.substr(sp1 + 1, sp2 == std::string_view::npos ? sp2 : sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") return {"405 Method Not Allowed", "GET only\n"};
  if (target != "/metrics") return {"404 Not Found", "try /metrics\n"};
  return {"200 OK", hooks.metrics_text ? hooks.metrics_text() : std::string()};
}

class HttpConnection : public Connection<HttpConnection, tcp::socket> {
 public:
  HttpConnection(tcp::socket s, ControlHooks& hooks, ConnectionSlots& slots)
      : Connection(std::move(s), slots), hooks_(hooks) {}

  void start() {
    arm_timer(kHttpTimeout);
    asio::async_read_until(sock_, buf_, "\r\n\r\n",
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->on_head(ec);
                           });
  }

 private:
  void on_head(boost::system::error_code ec) {
    if (ec && ec != asio::error::not_found) return close();
    std::string head(asio::buffers_begin(buf_.data()), asio::buffers_end(buf_.data()));
    auto [status, body] =
        ec ? std::pair<std::string, std::string>{"431 Request Header Fields Too Large",
                                                 "too large\n"}
           : http_answer(head, hooks_);
    const bool head_only = head.starts_with("HEAD ");
    reply_and_close("HTTP/1.0 " + status +
                    "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n" +
                    "Content-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n" + (head_only ? std::string() : body));
  }

  asio::streambuf buf_{kMaxHttpHead};
  ControlHooks& hooks_;
};

// Removes a stale socket file at `path`; refuses a live one or a non-socket.
void clear_socket_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error("control_socket " + path + ": exists and is not a socket");
  asio::io_context probe_io;
  stream_protocol::socket probe(probe_io);
  boost::system::error_code ec;
  probe.connect(stream_protocol::endpoint(path), ec);
  if (!ec)
    throw std::runtime_error("control_socket " + path + ": another daemon is listening on it");
  ::unlink(path.c_str());
}

}  // namespace

struct ControlPlane::Impl {
  ControlPlaneOptions options;
  ControlHooks hooks;
  // Before io: connections still queued in io when it is destroyed give
  // their slot back to these.
  ConnectionSlots control_slots, http_slots;
  asio::io_context io{1};
  asio::signal_set signals{io, SIGHUP, SIGTERM, SIGINT};
  asio::steady_timer poll_timer{io};
  asio::steady_timer control_retry{io}, metrics_retry{io};
  static constexpr std::chrono::milliseconds kAcceptRetry{100};
  bool accept_failing = false;  // the control thread's own
  std::optional<stream_protocol::acceptor> control;
  std::optional<tcp::acceptor> metrics;
  std::thread thread;

  void bind_control(uid_t uid, gid_t gid) {
    const std::string& path = options.control_socket;
    make_socket_directory(path, uid, gid);
    clear_socket_path(path);
    control.emplace(io, stream_protocol::endpoint(path));
    if (::chmod(path.c_str(), 0660) != 0 || ::chown(path.c_str(), uid, gid) != 0)
      throw std::runtime_error("control_socket " + path + ": cannot set owner/mode");
  }

  void bind_metrics() {
    const ListenSpec l = parse_listen_spec(options.metrics_listen);
    const tcp::endpoint ep(asio::ip::make_address(l.host), l.port);
    metrics.emplace(io);
    metrics->open(ep.protocol());
    metrics->set_option(tcp::acceptor::reuse_address(true));
    metrics->bind(ep);
    metrics->listen();
  }

  // A failed accept (out of file descriptors) is retried after a pause, not
  // at once: the listener stays readable and the thread would spin. Logged
  // once until an accept succeeds again.
  void retry_accept(const boost::system::error_code& ec, asio::steady_timer& timer,
                    void (Impl::*again)()) {
    if (!accept_failing)
      spdlog::warn("control plane: accept failed ({}); retrying every {} ms", ec.message(),
                   kAcceptRetry.count());
    accept_failing = true;
    timer.expires_after(kAcceptRetry);
    timer.async_wait([this, again](boost::system::error_code tec) {
      if (!tec) (this->*again)();
    });
  }

  void accept_control() {
    control->async_accept([this](boost::system::error_code ec, stream_protocol::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return retry_accept(ec, control_retry, &Impl::accept_control);
      accept_failing = false;
      if (control_slots.take())
        std::make_shared<ControlConnection>(std::move(s), hooks, control_slots)->start();
      accept_control();
    });
  }

  void accept_metrics() {
    metrics->async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return retry_accept(ec, metrics_retry, &Impl::accept_metrics);
      accept_failing = false;
      if (http_slots.take())
        std::make_shared<HttpConnection>(std::move(s), hooks, http_slots)->start();
      accept_metrics();
    });
  }

  void wait_signal() {
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (hooks.reload) hooks.reload("SIGHUP");
      } else if (hooks.stop) {
        hooks.stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
      }
      wait_signal();
    });
  }

  void arm_poll() {
    if (options.poll_interval.count() <= 0 || !hooks.poll) return;
    poll_timer.expires_after(options.poll_interval);
    poll_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      hooks.poll();
      arm_poll();
    });
  }

  void run() {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("control thread: {}", e.what());
      }
    }
  }
};

ControlPlane::ControlPlane(ControlPlaneOptions options, ControlHooks hooks)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->hooks = std::move(hooks);
}

ControlPlane::~ControlPlane() {
  stop();
  if (impl_->control && !impl_->options.control_socket.empty())
    ::unlink(impl_->options.control_socket.c_str());
}

bool ControlPlane::peer_allowed(uid_t peer_uid, gid_t peer_gid, uid_t self_uid, gid_t self_gid) {
  return peer_uid == 0 || peer_uid == self_uid || peer_gid == self_gid;
}

void ControlPlane::bind(uid_t owner_uid, gid_t owner_gid) {
  try {
    if (!impl_->options.control_socket.empty()) impl_->bind_control(owner_uid, owner_gid);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("control_socket " + impl_->options.control_socket + ": " +
                             e.code().message());
  }
  try {
    if (!impl_->options.metrics_listen.empty()) impl_->bind_metrics();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("metrics_listen " + impl_->options.metrics_listen + ": " +
                             e.code().message());
  }
}

void ControlPlane::start() {
  if (impl_->control) impl_->accept_control();
  if (impl_->metrics) impl_->accept_metrics();
  impl_->wait_signal();
  impl_->arm_poll();
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void ControlPlane::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

void ControlPlane::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->io, delay);
  timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
    if (!ec) fn();
  });
}

}  // namespace harden::milter
