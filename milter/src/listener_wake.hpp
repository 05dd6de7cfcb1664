// listener_wake.hpp - wakes libmilter's accept loop at shutdown (internal).
//
// libmilter's listener sits in select() for up to 5 s between checks of its
// stop flag, holding the lock smfi_stop() needs. After smfi_stop() has set
// the flag (on another thread), one connection to our own milter socket
// makes select() return at once; the listener then sees the flag and ends.
// The connection is closed straight away (libmilter sees EOF during option
// negotiation, which is harmless).
#pragma once

#include "harden/milter/config.hpp"

namespace harden::milter {

// Connects to `spec` (loopback when it names no host) and closes. Never throws.
void wake_listener(const SocketSpec& spec) noexcept;

}  // namespace harden::milter
