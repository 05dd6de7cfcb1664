// client_memory_json.cpp - see client_memory_json.hpp.
#include "harden/db/client_memory_json.hpp"

namespace harden::db {

nlohmann::json client_record_json(const policy::IpNetwork& key, const policy::ClientRecord& r,
                                  policy::WallMs now) {
  using nlohmann::json;
  using policy::format_wall_ms;
  json j;
  j["key"] = key.to_string();
  j["pass_until"] = r.has_pass(now) ? json(format_wall_ms(r.pass_until)) : json(nullptr);
  if (r.penalty) {
    const bool in_force = r.penalty_at(now) != nullptr;
    j["penalty"] = {{"n", r.penalty->n},
                    {"start", format_wall_ms(r.penalty->start)},
                    {"until", format_wall_ms(r.penalty->until)},
                    {"reason", r.penalty->reason},
                    {"in_force", in_force},
                    {"remaining_s", in_force ? (r.penalty->until - now + 999) / 1000 : 0}};
  } else {
    j["penalty"] = nullptr;
  }
  json history = json::array();
  for (auto t : r.history) history.push_back(format_wall_ms(t));
  j["history"] = history;
  json offences = json::array();
  for (const auto& o : r.offences)
    offences.push_back({{"at", format_wall_ms(o.at)}, {"weight", o.weight}});
  j["offences"] = offences;
  j["forget_at"] = format_wall_ms(r.forget_at);
  return j;
}

}  // namespace harden::db
