// importers.hpp - reading other tools' policy files into rules.
//
// SYNOPSIS
//   ImportResult r = parse_sendmail_access(in, "access");
//   ImportResult r = parse_hosts_deny(in, "/etc/hosts.deny");
//   ImportResult r = parse_postfix_pcre(in, "fqrdns.pcre");
//   ImportPlan plan = plan_import(store, r);  // what would change (dry run)
//   apply_import(store, plan);                // one transaction
//
// sendmail access: ClientRate:, ClientConn:, GreetPause: (IP, subnet forms
//   such as "192.168.1", "IPv6:2001:db8" prefixes, empty key = default) and
//   Connect: with REJECT / OK / RELAY (and "ERROR:5xx text", DISCARD-less).
//   Entries for one key merge into one rule; other tags are skipped with a note.
// hosts.deny: lines whose daemon list names sendmail (or ALL); each client
//   pattern (".suffix", "host", "1.2.3.", "net/mask", "ALL") becomes a block rule.
// Postfix pcre: "/re/flags ACTION text", "if /re/" ... "endif" (nesting kept as
//   pattern conjunctions), REJECT / 5xx -> block with the text as reason,
//   4xx / DEFER -> tempfail, OK -> allow, DUNNO -> limit (ends the table's
//   lookup without a verdict, so later patterns do not block, limits stay).
//
// Every malformed line is an ImportError "file:line: message"; a file with
// any bad line imports nothing.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "harden/db/store.hpp"
#include "harden/policy/rule.hpp"

namespace harden::db {

class ImportError : public DbError {
 public:
  using DbError::DbError;
};

struct ImportResult {
  std::vector<policy::Rule> rules;  // in file order (pattern priorities 1, 2, ...)
  std::vector<std::string> notes;   // "file:line: skipped ...": lines understood but not imported
};

ImportResult parse_sendmail_access(std::istream& in, std::string_view filename);
ImportResult parse_hosts_deny(std::istream& in, std::string_view filename);
ImportResult parse_postfix_pcre(std::istream& in, std::string_view filename);

struct ImportChange {
  enum class Kind { add, update, unchanged } kind;
  policy::Rule rule;                   // as it will be stored
  std::optional<policy::Rule> before;  // update/unchanged: the stored rule
};
struct ImportPlan {
  std::vector<ImportChange> changes;
  std::size_t added() const;
  std::size_t updated() const;
  std::size_t unchanged() const;
};

// Imported attributes are set onto an existing rule with the same selector
// (others it has are kept); new pattern rules go after the store's existing
// pattern rules, in file order.
ImportPlan plan_import(const Store& store, const ImportResult& result);
void apply_import(Store& store, const ImportPlan& plan);

}  // namespace harden::db
