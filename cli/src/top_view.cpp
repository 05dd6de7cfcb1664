// top_view.cpp - see top_view.hpp.
#include "top_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <vector>

#include "output.hpp"

namespace harden::cli {
namespace {

using nlohmann::json;

// `text` in exactly `width` columns: padded, or cut with a trailing '~'.
std::string cell(const std::string& text, std::size_t width, bool right = false) {
  if (text.size() > width) return width == 0 ? "" : text.substr(0, width - 1) + "~";
  const std::string pad(width - text.size(), ' ');
  return right ? pad + text : text + pad;
}

// `text` in at most `width` columns, cut with a trailing '~'.
std::string clip(const std::string& text, std::size_t width) {
  return text.size() > width ? cell(text, width) : text;
}

// `n` in fewer than `width` columns (one stays for the gap): 1234567 in 6 is "1235k".
std::string fit_number(double n, std::size_t width, bool decimal = false) {
  std::string t = decimal && n < 1000 ? fmt::format("{:.1f}", n) : fmt::format("{:.0f}", n);
  static constexpr const char* kUnits[] = {"k", "M", "G", "T", "P", "E"};
  for (const char* unit : kUnits) {
    if (t.size() < width) break;
    n /= 1000;
    t = fmt::format("{:.0f}{}", n, unit);
  }
  return t;
}

std::string number(std::uint64_t n, std::size_t width) {
  return cell(fit_number(static_cast<double>(n), width), width, true);
}

std::uint64_t count(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>()
         : it != j.end() && it->is_number_integer()
             ? static_cast<std::uint64_t>(std::max<std::int64_t>(0, it->get<std::int64_t>()))
             : 0;
}

std::string text(const json& j, const char* key, const char* fallback = "?") {
  const auto it = j.find(key);
  return printable(it != j.end() && it->is_string() ? it->get<std::string>() : fallback);
}

const json& object(const json& j, const char* key) {
  static const json kEmpty = json::object();
  const auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

const json& array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

struct KindCounts {
  std::uint64_t refused = 0;
  std::uint64_t would = 0;
};

// decisions {kind: {outcome: n}} -> refusals (reject + tempfail) and would (monitor) per kind.
std::map<std::string, KindCounts> kinds(const json& stats) {
  std::map<std::string, KindCounts> out;
  for (const auto& [kind, outcomes] : object(object(stats, "metrics"), "decisions").items()) {
    if (!outcomes.is_object()) continue;
    KindCounts c{count(outcomes, "reject") + count(outcomes, "tempfail"),
                 count(outcomes, "monitor")};
    if (c.refused + c.would > 0) out[printable(kind)] = c;
  }
  return out;
}

std::uint64_t total_refused(const std::map<std::string, KindCounts>& k) {
  std::uint64_t t = 0;
  for (const auto& [name, c] : k) t += c.refused;
  return t;
}

class Rates {
 public:
  Rates(const TopSample* prev, const TopSample& cur)
      : seconds_(prev ? cur.at_seconds - prev->at_seconds : 0) {}
  bool known() const { return seconds_ > 0; }
  // The rate from `before` to `now` in `width` columns (right-aligned), or n/a.
  std::string of(std::uint64_t before, std::uint64_t now, std::size_t width) const {
    if (!known()) return cell("n/a", width, true);
    const double r = static_cast<double>(now >= before ? now - before : 0) / seconds_;
    return cell(fit_number(r, width, true), width, true);
  }

 private:
  double seconds_;
};

std::string join(const std::string& left, const std::string& right) {
  std::string line = left + "  " + right;
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line.size() > kTopWidth ? line.substr(0, kTopWidth) : line;
}

// Two column blocks side by side, row by row (the shorter padded).
void side_by_side(std::string& out, const std::vector<std::string>& left, std::size_t left_width,
                  const std::vector<std::string>& right) {
  for (std::size_t i = 0; i < std::max(left.size(), right.size()); ++i)
    out += join(i < left.size() ? left[i] : std::string(left_width, ' '),
                i < right.size() ? right[i] : "") +
           "\n";
}

constexpr std::size_t kLeft = 39;  // the left block's width
constexpr std::size_t kKey = 25;

std::vector<std::string> kinds_block(const TopSample* prev, const TopSample& cur,
                                     const Rates& rates) {
  std::vector<std::string> rows{cell("REFUSALS BY KIND", 16) + cell("/s", 7, true) +
                                cell("total", 9, true) + cell("would", 7, true)};
  const auto now = kinds(cur.stats);
  const auto before = prev ? kinds(prev->stats) : std::map<std::string, KindCounts>{};
  for (const auto& [kind, c] : now) {
    const auto it = before.find(kind);
    const std::uint64_t was = it == before.end() ? 0 : it->second.refused;
    rows.push_back(cell(kind, 16) + rates.of(was, c.refused, 7) + number(c.refused, 9) +
                   number(c.would, 7));
  }
  if (now.empty()) rows.push_back(cell("(none yet)", kLeft));
  return rows;
}

std::vector<std::string> penalties_block(const TopSample& cur, std::size_t n) {
  std::vector<std::string> rows{cell("PENALTIES IN FORCE", kKey) + cell("left", 9, true) +
                                cell("n", 4, true)};
  for (const auto& rec : array(cur.offenders, "offenders")) {
    if (rows.size() > n) break;
    const json& p = object(rec, "penalty");
    if (!p.value("in_force", false)) continue;
    rows.push_back(
        cell(text(rec, "key"), kKey) +
        cell(compact_duration(static_cast<std::int64_t>(count(p, "remaining_s"))), 9, true) +
        number(count(p, "n"), 4));
  }
  if (rows.size() == 1) rows.push_back("(none)");
  return rows;
}

std::vector<std::string> refused_block(const TopSample* prev, const TopSample& cur,
                                       const Rates& rates, std::size_t n) {
  std::vector<std::string> rows{cell("TOP BY REFUSALS", kKey) + cell("refused", 8, true) +
                                cell("/s", 6, true)};
  std::map<std::string, std::uint64_t> before;
  if (prev)
    for (const auto& c : array(prev->top, "by_refusals"))
      before[text(c, "key")] = count(c, "refusals");
  for (const auto& c : array(cur.top, "by_refusals")) {
    if (rows.size() > n) break;
    const std::string key = text(c, "key");
    const std::uint64_t refused = count(c, "refusals");
    const auto it = before.find(key);
    const std::string rate = rates.known() && it == before.end()
                                 ? cell("-", 6, true)
                                 : rates.of(it == before.end() ? 0 : it->second, refused, 6);
    rows.push_back(cell(key, kKey) + number(refused, 8) + rate);
  }
  if (rows.size() == 1) rows.push_back(cell("(none)", kLeft));
  return rows;
}

std::vector<std::string> open_block(const TopSample& cur, std::size_t n) {
  const std::string scope = text(cur.top, "open_scope", "local");
  std::vector<std::string> rows{
      cell(scope == "this host" ? "TOP BY OPEN (THIS HOST)" : "TOP BY OPEN CONNECTIONS", kKey) +
      cell("open", 6, true)};
  for (const auto& c : array(cur.top, "by_open")) {
    if (rows.size() > n) break;
    rows.push_back(cell(text(c, "key"), kKey) + number(count(c, "open"), 6));
  }
  if (rows.size() == 1) rows.push_back("(none)");
  return rows;
}

std::string header(const TopSample* prev, const TopSample& cur, const Rates& rates) {
  const json& s = cur.stats;
  const json& m = object(s, "metrics");
  const json& c = object(s, "counters");
  std::string out =
      join(fmt::format("milter-harden {}  pid {}  up {}  mode {}", clip(text(s, "version"), 12),
                       count(s, "pid"),
                       compact_duration(static_cast<std::int64_t>(count(s, "uptime_seconds"))),
                       clip(text(s, "mode"), 10)),
           "");
  if (out.size() + 2 + cur.wall.size() <= kTopWidth)
    out += std::string(kTopWidth - out.size() - cur.wall.size(), ' ') + printable(cur.wall);
  out += "\n";

  const auto k = kinds(s);
  const std::uint64_t refused = total_refused(k);
  const std::uint64_t sessions = count(m, "sessions_total");
  const std::uint64_t sessions_before =
      prev ? count(object(prev->stats, "metrics"), "sessions_total") : 0;
  const std::uint64_t refused_before = prev ? total_refused(kinds(prev->stats)) : 0;
  out += join(fmt::format("sessions {}/s {} total {} open", rates.of(sessions_before, sessions, 6),
                          number(sessions, 8), number(count(m, "sessions_open"), 4)),
              fmt::format("refusals {}/s {} total", rates.of(refused_before, refused, 6),
                          number(refused, 8))) +
         "\n";
  const json& mem = s.contains("client_memory") ? s["client_memory"] : json();
  const std::string memory = mem.is_object()
                                 ? fmt::format("penalties {} in force, {} passes",
                                               count(mem, "penalties"), count(mem, "passes"))
                                 : std::string("client memory off");
  std::string backend = clip(text(c, "backend", "local"), 8);
  if (c.value("fallback", false)) backend += " DOWN";
  out += join(fmt::format("counters {}: {} of {}, {} evicted", backend, count(c, "entries"),
                          count(c, "capacity"), count(c, "evictions")),
              memory) +
         "\n";
  return out;
}

}  // namespace

std::string compact_duration(std::int64_t s) {
  if (s < 0) s = 0;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
}

std::string render_top(const TopSample* previous, const TopSample& current,
                       const TopViewOptions& options) {
  const Rates rates(previous, current);
  std::string out = header(previous, current, rates);
  out += "\n";
  side_by_side(out, kinds_block(previous, current, rates), kLeft,
               penalties_block(current, options.n));
  out += "\n";
  side_by_side(out, refused_block(previous, current, rates, options.n), kLeft,
               open_block(current, options.n));
  if (!options.status.empty()) out += "\n" + join(printable(options.status), "") + "\n";
  return out;
}

}  // namespace harden::cli
