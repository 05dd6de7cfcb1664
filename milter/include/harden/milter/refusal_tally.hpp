// refusal_tally.hpp - the client keys refused most since the daemon started,
// for `hardenctl top`: a bounded heavy-hitters table, cheap on the hot path.
//
// SYNOPSIS
//   RefusalTally t;
//   t.count(key, DecisionKind::conn_rate);       // one refusal (session_glue's enforce())
//   std::vector<RefusalCount> top = t.top(10);   // most refused first
//   t.total();                                   // every refusal counted
//
// ALGORITHM
//   Space-Saving (Metwally, Agrawal, El Abbadi 2005), per shard: kShards
//   shards chosen by the key's hash, each with at most kSlotsPerShard keys.
//   A key not in its full shard takes the slot of the shard's least counted
//   key and inherits that count + 1, remembering the inherited part as its
//   `error`. So a key's `refusals` is never below its true refusals since it
//   entered and at most `error` above them, and a key refused more than
//   1/kSlotsPerShard of its shard's refusals is always in the table. Under a
//   spray of one refusal per address every count stays small and the table
//   churns; the heavy hitters stay. Nothing decays (hardenctl top shows
//   rates as differences between two samples).
//
//   What counts: decisions that refused (reject or tempfail), whatever the
//   kind, penalties included; "would reject" (monitor) and delays do not.
//
// COST
//   One mutex per shard, held for one hash lookup, and on a replacement a
//   scan of kSlotsPerShard slots. Memory is fixed: kShards * kSlotsPerShard
//   keys (1,024).
//
// THREAD SAFETY
//   All members may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/decision.hpp"

namespace harden::milter {

struct RefusalCount {
  policy::IpNetwork key;
  std::uint64_t refusals = 0;  // an upper bound of its true refusals ...
  std::uint64_t error = 0;     // ... at most this much above them
  policy::DecisionKind last = policy::DecisionKind::none;  // the kind of its latest refusal
};

class RefusalTally {
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kSlotsPerShard = 64;

  RefusalTally();
  ~RefusalTally();
  RefusalTally(const RefusalTally&) = delete;
  RefusalTally& operator=(const RefusalTally&) = delete;

  void count(const policy::IpNetwork& key, policy::DecisionKind kind);
  // The `n` keys with the highest counts, highest first (ties: lower key first).
  std::vector<RefusalCount> top(std::size_t n) const;
  std::uint64_t total() const;
  std::size_t capacity() const { return kShards * kSlotsPerShard; }

 private:
  struct Shard;
  std::array<std::unique_ptr<Shard>, kShards> shards_;
};

}  // namespace harden::milter
