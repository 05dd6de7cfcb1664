// sigwait_hook.cpp - parks libmilter's signal thread (linked into milter-harden only).
//
// smfi_main() starts a thread that sigwait()s for SIGHUP, SIGTERM and SIGINT
// and stops the milter on any of them, SIGHUP included. milter-harden wants
// SIGHUP to reload the policy and SIGTERM to also cut short greet pauses, all
// on its control thread. Two threads waiting for the same signal would race
// for it, so this file interposes sigwait() for the executable: those three
// signals are taken out of the set, and a thread left waiting for nothing
// sleeps forever (it is libmilter's, and it ends with the process).
//
// libmilter.so calls sigwait through the PLT, so the executable's definition
// wins (the executable comes first in symbol lookup); the real one is found
// with dlsym(RTLD_NEXT). Nothing else in the daemon calls sigwait. The control
// thread, started before smfi_main and so with these signals unblocked, is
// then the only thread they are delivered to. The daemon checks a few seconds
// after start-up that the hook ran and warns if it did not.
#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "harden/milter/daemon.hpp"

extern "C" int sigwait(const sigset_t* set, int* sig) {
  using Real = int (*)(const sigset_t*, int*);
  static const Real real = [] {
    void* p = dlsym(RTLD_NEXT, "sigwait");
    Real fn = nullptr;
    std::memcpy(&fn, &p, sizeof fn);
    return fn;
  }();
  sigset_t mine = *set;
  sigdelset(&mine, SIGHUP);
  sigdelset(&mine, SIGTERM);
  sigdelset(&mine, SIGINT);
  if (sigisemptyset(&mine)) {
    harden::milter::note_libmilter_signals_parked();
    for (;;) pause();
  }
  return real ? real(&mine, sig) : EINVAL;
}

#if defined(__SANITIZE_THREAD__)
// libmilter's own shutdown races, as with its stock SIGTERM handling: the
// listener and the worker-pool controller destroy their locks on the way out
// while smfi_stop() and the workers may still take them. Nothing of ours is
// involved (daemon.cpp bounds the stop); ThreadSanitizer builds are told so.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libmilter.so\nmutex:libmilter.so\n";
}
#endif
