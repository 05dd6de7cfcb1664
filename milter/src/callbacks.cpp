// callbacks.cpp - the libmilter callbacks (see adapter.hpp).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstring>
#include <memory>

#include "greet.hpp"
#include "harden/milter/adapter.hpp"
#include "harden/milter/reply.hpp"
#include "harden/mtaconf/macros.hpp"
#include "session_glue.hpp"
#include "session_state.hpp"

namespace harden::milter {
namespace {

using policy::Decision;

std::atomic<MilterRuntime*> g_runtime{nullptr};
constexpr std::size_t kMaxMacroLength = 1024;
char kFilterName[] = "milter-harden";

MilterRuntime& runtime() {
  MilterRuntime* rt = g_runtime.load(std::memory_order_acquire);
  if (!rt) throw std::logic_error("milter runtime not installed");
  return *rt;
}

std::string macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  if (!v) return {};
  return std::string(v, strnlen(v, kMaxMacroLength));
}

SessionState* state_of(SMFICTX* ctx) {
  return static_cast<SessionState*>(smfi_getpriv(ctx));
}

// Takes the session state back from libmilter; the caller's unique_ptr frees it.
std::unique_ptr<SessionState> take_state(SMFICTX* ctx) {
  std::unique_ptr<SessionState> st(state_of(ctx));
  smfi_setpriv(ctx, nullptr);
  return st;
}

void finish_session(MilterRuntime& rt, std::unique_ptr<SessionState> st) {
  if (!st) return;
  rt.metrics.add(Metric::sessions_open, -1);
  rt.engine.close(st->session);
}

sfsistat internal_error(const char* where, const char* what) noexcept {
  MilterRuntime* rt = g_runtime.load(std::memory_order_acquire);
  const bool tempfail = rt && rt->options.tempfail_on_internal_error;
  try {
    if (rt) rt->metrics.bump(Metric::internal_errors_total);
    spdlog::error("internal error in {}: {}; answering {}", where, what,
                  tempfail ? "tempfail" : "continue");
  } catch (...) {
  }
  return tempfail ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
}

// Counts a callback as running while it is in our code (see drain in daemon.cpp).
class CallbackScope {
 public:
  CallbackScope() : rt_(g_runtime.load(std::memory_order_acquire)) {
    if (rt_) rt_->callbacks_active.fetch_add(1);
  }
  ~CallbackScope() {
    if (!rt_) return;
    rt_->callbacks_run.fetch_add(1);
    rt_->callbacks_active.fetch_sub(1);
  }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  MilterRuntime* rt_;
};

template <class F>
sfsistat guarded(const char* where, F&& f) noexcept {
  const CallbackScope scope;
  try {
    return f();
  } catch (const std::exception& e) {
    return internal_error(where, e.what());
  } catch (...) {
    return internal_error(where, "unknown exception");
  }
}

// The ONE place a Decision becomes a reply: count, log, smfi_setreply, status.
sfsistat respond(SMFICTX* ctx, const SessionState& st, const Decision& d, Stage stage) {
  MilterRuntime& rt = runtime();
  MilterReply r = enforce(rt.metrics, st, d, stage);
  if (r.has_reply() &&
      smfi_setreply(ctx, r.rcode.data(), r.xcode.empty() ? nullptr : r.xcode.data(),
                    r.text.empty() ? nullptr : r.text.data()) != MI_SUCCESS) {
    spdlog::warn("smfi_setreply refused reply \"{}\"; the MTA's default reply is used",
                 r.to_string());
  }
  return r.status;
}

std::optional<policy::IpAddress> address_of(const sockaddr* sa, std::uint16_t& port) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (sa && sa->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, sa, sizeof in);
    port = ntohs(in.sin_port);
    if (inet_ntop(AF_INET, &in.sin_addr, buf.data(), buf.size()))
      return policy::IpAddress::try_parse(buf.data());
  } else if (sa && sa->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sa, sizeof in6);
    port = ntohs(in6.sin6_port);
    if (inet_ntop(AF_INET6, &in6.sin6_addr, buf.data(), buf.size()))
      return policy::IpAddress::try_parse(buf.data());
  }
  return std::nullopt;
}

ConnectInfo connect_info(SMFICTX* ctx, const char* hostname, const sockaddr* sa, GreetTarget& g) {
  std::uint16_t port = 0;
  const auto addr = address_of(sa, port);
  const std::string_view host =
      hostname ? std::string_view(hostname, strnlen(hostname, kMaxMacroLength)) : "";
  return milter::connect_info([ctx](const char* name) { return macro(ctx, name); }, addr, port,
                              host, g);
}

SessionState& new_state(SMFICTX* ctx, MilterRuntime& rt) {
  finish_session(rt, take_state(ctx));  // a session that never saw close
  auto st = std::make_unique<SessionState>();
  if (smfi_setpriv(ctx, st.get()) != MI_SUCCESS) throw std::runtime_error("smfi_setpriv failed");
  rt.metrics.add(Metric::sessions_open, 1);
  return *st.release();
}

sfsistat on_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
  return guarded("connect", [&] {
    MilterRuntime& rt = runtime();
    rt.metrics.bump(Metric::sessions_total);
    SessionState& st = new_state(ctx, rt);
    const ConnectInfo info = connect_info(ctx, hostname, hostaddr, st.greet);
    st.log = LogClient{info.client, info.client_name};
    const Decision d = rt.engine.connect(st.session, info);
    const auto pause = st.session.held_greet_pause();
    count_pause_not_held(rt.metrics, st.session, d);
    if (d.verdict != policy::Verdict::proceed || pause.count() == 0)
      return respond(ctx, st, d, Stage::connect);
    respond(ctx, st, d, Stage::connect);  // logs a "would reject" of monitor mode
    return respond(ctx, st, hold_greeting(rt, st, pause), Stage::connect);
  });
}

sfsistat on_envfrom(SMFICTX* ctx, char** /*argv*/) {
  return guarded("envfrom", [&] {
    SessionState* st = state_of(ctx);
    if (!st) return SMFIS_CONTINUE;
    return respond(ctx, *st, runtime().engine.mail(st->session), Stage::envfrom);
  });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** /*argv*/) {
  return guarded("envrcpt", [&] {
    SessionState* st = state_of(ctx);
    if (!st) return SMFIS_CONTINUE;
    MilterRuntime& rt = runtime();
    const bool rejected = macro(ctx, "{rcpt_mailer}") == "error";
    const Decision d = rt.engine.rcpt(st->session, rejected);
    if (d.delay.count() > 0) {
      rt.metrics.bump(Metric::throttle_delays_total);
      rt.waiter.wait_until(rt.waiter.now() + d.delay);
    }
    return respond(ctx, *st, d, Stage::envrcpt);
  });
}

sfsistat on_abort(SMFICTX* ctx) {
  return guarded("abort", [&] {
    if (SessionState* st = state_of(ctx)) st->session.rcpts_in_msg = 0;
    return SMFIS_CONTINUE;
  });
}

sfsistat on_close(SMFICTX* ctx) {
  std::unique_ptr<SessionState> st = take_state(ctx);  // freed on every path below
  guarded("close", [&] {
    finish_session(runtime(), std::move(st));
    return SMFIS_CONTINUE;
  });
  return SMFIS_CONTINUE;
}

int smfim_of(mtaconf::MacroStage s) {
  switch (s) {
    case mtaconf::MacroStage::connect:
      return SMFIM_CONNECT;
    case mtaconf::MacroStage::envfrom:
      return SMFIM_ENVFROM;
    case mtaconf::MacroStage::envrcpt:
      return SMFIM_ENVRCPT;
  }
  return SMFIM_CONNECT;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long /*f2*/,
                      unsigned long /*f3*/, unsigned long* pf0, unsigned long* pf1,
                      unsigned long* pf2, unsigned long* pf3) {
  return guarded("negotiate", [&] {
    *pf0 = f0 & SMFIF_SETSYMLIST;
    *pf1 = negotiated_protocol(f1);
    *pf2 = 0;
    *pf3 = 0;
    if (*pf0 & SMFIF_SETSYMLIST) {
      for (const auto& list : mtaconf::kMacroLists) {
        std::string macros = macro_list_for(smfim_of(list.stage));  // smfi_setsymlist takes char*
        if (smfi_setsymlist(ctx, smfim_of(list.stage), macros.data()) != MI_SUCCESS)
          spdlog::warn("smfi_setsymlist refused the {} macros", list.sendmail_option);
      }
    }
    return SMFIS_CONTINUE;
  });
}

}  // namespace

void install_runtime(MilterRuntime* rt) noexcept {
  g_runtime.store(rt, std::memory_order_release);
}

const std::string& macro_list_for(int smfim_stage) {
  // Every negotiation asks for these: built once, not per milter connection.
  static const auto lists = [] {
    std::array<std::string, SMFIM_EOH + 1> out;  // SMFIM_EOH: the last stage
    for (std::size_t stage = 0; stage < out.size(); ++stage)
      for (const auto& list : mtaconf::kMacroLists) {
        if (smfim_of(list.stage) != static_cast<int>(stage)) continue;
        for (const auto m : list.macros) {
          if (!out[stage].empty()) out[stage] += ' ';
          out[stage] += m;
        }
      }
    return out;
  }();
  static const std::string none;
  if (smfim_stage < 0 || smfim_stage > SMFIM_EOH) return none;
  return lists[static_cast<std::size_t>(smfim_stage)];
}

unsigned long negotiated_protocol(unsigned long offered) noexcept {
  // Steps we never look at: the MTA need not send them (fewer round trips).
  constexpr unsigned long kSkip =
      SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA;
  return offered & (SMFIP_RCPT_REJ | kSkip);
}

smfiDesc milter_descriptor() noexcept {
  smfiDesc d{};
  d.xxfi_name = kFilterName;
  d.xxfi_version = SMFI_VERSION;
  d.xxfi_flags = SMFIF_NONE;
  d.xxfi_connect = on_connect;
  d.xxfi_envfrom = on_envfrom;
  d.xxfi_envrcpt = on_envrcpt;
  d.xxfi_abort = on_abort;
  d.xxfi_close = on_close;
  d.xxfi_negotiate = on_negotiate;
  return d;
}

}  // namespace harden::milter
