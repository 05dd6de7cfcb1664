// control_commands.cpp - hardenctl's side of the daemon's control socket.
#include "control_commands.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "output.hpp"
#include "top_view.hpp"

namespace harden::cli {
namespace {

using nlohmann::json;

struct ControlOptions {
  std::string socket{kDefaultControlSocket};
  std::string ip, hostname;
  bool json = false;
};

// Owns one file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string connect_error(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
      return fmt::format(
          "no control socket at {} (is milter-harden running? see its control_socket)", path);
    case ECONNREFUSED:
      return fmt::format("nothing listens on {} (stale socket; is milter-harden running?)", path);
    case EACCES:
    case EPERM:
      return fmt::format("permission denied on {} (run as root or as the daemon's user or group)",
                         path);
    default:
      return fmt::format("cannot connect to {}: {}", path, std::strerror(err));
  }
}

int connect_to(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    throw UsageError(fmt::format("--socket: '{}' is not a usable socket path", printable(path)));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw UsageError(fmt::format("socket: {}", std::strerror(errno)));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    throw UsageError(connect_error(path, err));
  }
  return fd;
}

void send_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw UsageError(fmt::format("{}: send failed: {}", path, std::strerror(errno)));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string receive_line(int fd, const std::string& path) {
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      throw UsageError(fmt::format("{}: the daemon did not answer in time", path));
    if (n < 0) throw UsageError(fmt::format("{}: receive failed: {}", path, std::strerror(errno)));
    if (n == 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
    if (reply.size() > kMaxControlReply)
      throw UsageError(fmt::format("{}: reply larger than {} bytes", path, kMaxControlReply));
  }
  const auto eol = reply.find('\n');
  if (eol == std::string::npos)
    throw UsageError(fmt::format("{}: the daemon closed the connection", path));
  return reply.substr(0, eol);
}

// The reply of a request that must succeed.
json ok_reply(const ControlOptions& o, const json& request) {
  json reply = control_request(o.socket, request);
  if (!reply.value("ok", false))
    throw UsageError(fmt::format("milter-harden: {}", reply.value("error", std::string("failed"))));
  return reply;
}

std::string decisions_text(const json& decisions) {
  std::string out;
  for (const auto& [kind, outcomes] : decisions.items()) {
    std::string parts;
    for (const auto& [outcome, n] : outcomes.items())
      parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", outcome, n.dump());
    out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", kind, parts);
  }
  return out.empty() ? "none yet" : out;
}

std::string n(const json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() ? "?" : it->dump();
}

void print_status(const json& r) {
  const json& p = r["policy"];
  const json& c = r["counters"];
  const json& m = r["metrics"];
  std::cout << fmt::format(
      "milter-harden {}, pid {}, up {}, mode {}\n", r.value("version", "?"), n(r, "pid"),
      compact_duration(r.value("uptime_seconds", std::int64_t{0})), r.value("mode", "?"));
  std::cout << fmt::format("policy     {} rules from {}, data_version {}\n", n(p, "rules"),
                           printable(p.value("store", "?")), n(p, "data_version"));
  std::cout << fmt::format("sessions   {} total, {} open\n", n(m, "sessions_total"),
                           n(m, "sessions_open"));
  if (c.value("backend", "local") == "redis") {
    std::cout << fmt::format("backend    redis {}: {}, latency {} us, {} errors\n",
                             printable(c.value("target", "?")),
                             c.value("fallback", false) ? "DOWN, redis_failure in force" : "ok",
                             n(c, "latency_us"), n(c, "errors"));
  } else {
    std::cout << "backend    local (this process; counts do not survive a restart)\n";
  }
  std::cout << fmt::format("counters   {} clients (capacity {}, {} bytes), {} evictions\n",
                           n(c, "entries"), n(c, "capacity"), n(c, "memory_bytes"),
                           n(c, "evictions"));
  std::cout << fmt::format("decisions  {}\n",
                           printable(decisions_text(m.value("decisions", json::object()))));
  std::cout << fmt::format("greeting   {} pauses, {} pre-greeting talkers, {} without detection\n",
                           n(m, "greet_pauses_total"), n(m, "pregreet_detections_total"),
                           n(m, "pregreet_unavailable_total"));
  std::cout << fmt::format("reloads    {} ok, {} refused; internal errors {}\n",
                           n(m, "reload_success_total"), n(m, "reload_failure_total"),
                           n(m, "internal_errors_total"));
}

void print_client(const json& r) {
  std::cout << fmt::format(
      "client {} (counted as {}, rDNS {}{})\n", printable(r.value("ip", "?")),
      printable(r.value("key", "?")), r.value("resolve", "?"),
      r.value("hostname", "").empty() ? "" : " " + printable(r.value("hostname", "")));
  const json& c = r["counters"];
  if (c.value("known", false)) {
    std::cout << fmt::format(
        "live: {} connections in the conn_rate window, {} open, {} recipients, {} messages\n",
        n(c, "conn_count"), n(c, "open"), n(c, "rcpt_count"), n(c, "msg_count"));
  } else {
    std::cout << "live: not in the counter table (no recent connections)\n";
  }
  const json& mem = r.contains("memory") ? r["memory"] : json();
  if (mem.is_object()) {
    const json& p = mem["penalty"];
    std::cout << fmt::format(
        "memory: {}; greet pass {}\n",
        p.is_object() && p.value("in_force", false)
            ? fmt::format("penalty {} until {} ({})", p.value("n", 0), p.value("until", "?"),
                          printable(p.value("reason", "")))
            : std::string("no penalty in force"),
        mem["pass_until"].is_string() ? "until " + mem["pass_until"].get<std::string>()
                                      : std::string("none"));
  }
  Table t({"ATTRIBUTE", "VALUE", "FROM"});
  const json& limits = r["limits"];
  for (const auto& info : policy::attributes()) {  // in the table's order
    const auto it = limits.find(std::string(info.name));
    if (it != limits.end())
      // "text" (greet_pause: the pause held and why) where the daemon gives one.
      t.add({std::string(info.name), it->value("text", it->value("value", "")),
             it->value("source", "")});
  }
  t.print(std::cout, "  ");
}

int run_status(const Globals&, ControlOptions& o) {
  const json r = ok_reply(o, {{"cmd", "stats"}});
  if (o.json) {
    print_json(std::cout, r);
  } else {
    print_status(r);
  }
  return kExitOk;
}

int run_client(const Globals&, ControlOptions& o) {
  json req = {{"cmd", "client"}, {"ip", o.ip}};
  if (!o.hostname.empty()) req["hostname"] = o.hostname;
  const json r = ok_reply(o, req);
  if (o.json) {
    print_json(std::cout, r);
  } else {
    print_client(r);
  }
  return kExitOk;
}

int run_flush(const Globals&, ControlOptions& o) {
  const json r = ok_reply(o, {{"cmd", "flush"}, {"ip", o.ip}});
  std::cout << (r.value("flushed", false)
                    ? fmt::format("flushed {}\n", printable(r.value("key", o.ip)))
                    : fmt::format("{} was not in the counter table\n",
                                  printable(r.value("key", o.ip))));
  return kExitOk;
}

int run_reload(const Globals&, ControlOptions& o) {
  const json r = ok_reply(o, {{"cmd", "reload"}});
  std::cout << fmt::format("reloaded: {}\n", printable(r.value("message", "ok")));
  return kExitOk;
}

constexpr const char* kFooter =
    "\nTalks to the running milter-harden over its control socket (default "
    "/run/milter-harden/control.sock; --socket or HARDEN_CONTROL_SOCKET).";

}  // namespace

void add_socket_option(CLI::App* sub, std::string& socket) {
  sub->add_option("--socket", socket, "the daemon's control socket")
      ->envname(std::string(kControlSocketEnvVar))
      ->type_name("PATH");
}

bool control_socket_answers(const std::string& socket_path) {
  try {
    const Fd fd(connect_to(socket_path, std::chrono::seconds{5}));
    return true;
  } catch (const UsageError&) {
    struct stat st {};
    // No socket, or a stale one nobody listens on: no daemon. Anything else
    // (permissions) is the caller's error to see.
    if (::stat(socket_path.c_str(), &st) != 0) return false;
    const Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.data(),
                std::min(socket_path.size(), sizeof addr.sun_path - 1));
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
        errno == ECONNREFUSED)
      return false;
    throw;
  }
}

json control_request(const std::string& socket_path, const json& request,
                     std::chrono::milliseconds timeout) {
  const Fd fd(connect_to(socket_path, timeout));
  send_all(fd.get(), request.dump() + "\n", socket_path);
  const std::string line = receive_line(fd.get(), socket_path);
  json reply = json::parse(line, nullptr, false);
  if (reply.is_discarded() || !reply.is_object())
    throw UsageError(fmt::format("{}: the reply is not JSON", socket_path));
  return reply;
}

void add_control_commands(CLI::App& app, Dispatch& d) {
  auto status_opts = std::make_shared<ControlOptions>();
  CLI::App* status =
      add_command(app, "status", "the running daemon: policy, counters, decisions", kFooter);
  add_socket_option(status, status_opts->socket);
  status->add_flag("--json", status_opts->json, "the daemon's reply as JSON");
  on_run(status, d, status_opts, run_status);

  auto client_opts = std::make_shared<ControlOptions>();
  CLI::App* client =
      add_command(app, "client", "a client's effective limits and live counters", kFooter);
  client->add_option("ip", client_opts->ip, "client address")->required();
  client->add_option("--hostname", client_opts->hostname, "as if its verified rDNS name were NAME")
      ->type_name("NAME");
  add_socket_option(client, client_opts->socket);
  client->add_flag("--json", client_opts->json, "the daemon's reply as JSON");
  on_run(client, d, client_opts, run_client);

  auto flush_opts = std::make_shared<ControlOptions>();
  CLI::App* flush =
      add_command(app, "flush", "forget a client's rates in the running daemon", kFooter);
  flush->add_option("ip", flush_opts->ip, "client address")->required();
  add_socket_option(flush, flush_opts->socket);
  on_run(flush, d, flush_opts, run_flush);

  auto reload_opts = std::make_shared<ControlOptions>();
  CLI::App* reload =
      add_command(app, "reload", "make the running daemon reload the policy store now", kFooter);
  add_socket_option(reload, reload_opts->socket);
  on_run(reload, d, reload_opts, run_reload);
}

}  // namespace harden::cli
