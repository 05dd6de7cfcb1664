// top_view.hpp - the screen of `hardenctl top`, as a pure function of the
// daemon's replies (no I/O, no clock, no terminal): unit-tested as text.
//
// SYNOPSIS
//   TopSample s{stats_reply, top_reply, offenders_reply, steady_seconds, "06:40:12"};
//   std::string screen = render_top(previous /* or nullptr */, s, {.n = 10});
//   std::string up = compact_duration(3725);        // "1h 2m"
//
// THE SCREEN (every line at most kTopWidth = 80 columns, plain text)
//   milter-harden 0.1.0  pid 4242  up 1h 2m  mode enforce  counters local   06:40:12
//   sessions   12.0/s   1234 total   5 open     refusals   3.0/s   456 total
//   clients    7 counted of 1398101, 0 evicted  penalties 3 in force, 12 passes
//
//   REFUSALS BY KIND       /s    total  would  PENALTIES IN FORCE       left    n
//   conn_rate             1.0      120      0  192.0.2.66/32          9m 58s    2
//   ...
//   TOP BY REFUSALS            refused     /s  TOP BY OPEN CONNECTIONS      open
//   192.0.2.66/32                   12    1.0  192.0.2.7/32                    3
//
// Rates (/s) are differences between `previous` and `current` over the
// seconds between them; without a previous sample they read "n/a". A
// client's refusal rate is "-" when it was not in the previous top list.
// "refusals" are decisions answered 4xx or 5xx (decisions_total outcomes
// reject + tempfail); "would" counts monitor decisions ("would reject").
// Keys longer than their column are cut with a trailing '~'. Text from the
// daemon is shown through printable() (control bytes as \xNN).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace harden::cli {

inline constexpr std::size_t kTopWidth = 80;

struct TopSample {
  nlohmann::json stats;      // the reply to {"cmd":"stats"}
  nlohmann::json top;        // the reply to {"cmd":"top","n":N}
  nlohmann::json offenders;  // the reply to {"cmd":"offenders","limit":N}
  double at_seconds = 0;     // when it was taken, on any monotonic clock
  std::string wall;          // the wall-clock time shown ("06:40:12")
};

struct TopViewOptions {
  std::size_t n = 10;  // rows per client list
  std::string status;  // the last line ("q quits, every 1s"; an error)
};

// The whole screen, lines separated by '\n' (no ANSI sequences).
std::string render_top(const TopSample* previous, const TopSample& current,
                       const TopViewOptions& options);

// "45s", "3m 5s", "1h 2m", "2d 3h".
std::string compact_duration(std::int64_t seconds);

}  // namespace harden::cli
