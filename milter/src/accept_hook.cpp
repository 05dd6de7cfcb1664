// accept_hook.cpp - libmilter's accept() goes through the daemon's guard
// (linked into milter-harden only; see milter_accept.hpp).
//
// libmilter.so calls accept through the PLT, so the executable's definition
// wins, as with sigwait_hook.cpp. It calls accept4(), a separate libc
// symbol, so nothing recurses; sockets other than libmilter's listener (the
// control plane's acceptors) are passed through unchanged.
#include <sys/socket.h>

#include "milter_accept.hpp"

extern "C" int accept(int fd, sockaddr* addr, socklen_t* len) {
  return harden::milter::guarded_accept(fd, addr, len);
}
