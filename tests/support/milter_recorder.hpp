// milter_recorder.hpp - a loopback TCP relay between an MTA and a milter that
// writes what the MTA sends into files: real Postfix and sendmail sessions
// for the fuzz target's seed corpus (tests/fuzz/corpus-real, make_seeds).
//
// SYNOPSIS
//   MilterRecorder rec(milter_port, "/tmp/rec", "postfix");   // listens on a free port
//   mta->start(rec.port());       // the MTA talks to the relay
//   ...                           // each MTA connection: /tmp/rec/postfix-N.bin
//
// Bytes are relayed both ways unchanged; only the MTA -> milter direction is
// written. Loopback only; at most 64 connections; stops in its destructor.
// The real-MTA tests use it when HARDEN_RECORD_MILTER_DIR is set.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace harden::testing {

class MilterRecorder {
 public:
  MilterRecorder(std::uint16_t milter_port, std::filesystem::path dir, std::string prefix);
  ~MilterRecorder();
  MilterRecorder(const MilterRecorder&) = delete;
  MilterRecorder& operator=(const MilterRecorder&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  void accept_loop();
  void relay(int mta, int milter, std::filesystem::path file);

  std::uint16_t target_;
  std::filesystem::path dir_;
  std::string prefix_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> relays_;
};

}  // namespace harden::testing
