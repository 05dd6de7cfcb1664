// client_memory_json.hpp - a client record as JSON: the one shape the control
// socket's "offenders" replies and hardenctl offenders --json (reading the
// state file when no daemon runs) both print.
//
//   {"key":"192.0.2.7","pass_until":"2026-12-07T10:00:00Z"|null,
//    "penalty":{"n":2,"start":"...Z","until":"...Z","reason":"pregreet",
//               "in_force":true,"remaining_s":1200}|null,
//    "history":["...Z",...],"offences":[{"at":"...Z","weight":1},...],
//    "forget_at":"...Z"}
#pragma once

#include <nlohmann/json.hpp>

#include "harden/db/client_memory.hpp"

namespace harden::db {

nlohmann::json client_record_json(const policy::IpNetwork& key, const policy::ClientRecord& r,
                                  policy::WallMs now);

}  // namespace harden::db
