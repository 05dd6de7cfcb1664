// gen_commands.hpp - `hardenctl gen ...`: MTA configuration from the policy.
//
// SYNOPSIS
//   add_gen_commands(app, d);   gen sendmail-mc | sendmail-access | sendmail-feature
//                                   | exim-satellite | exim-acl | postfix | postfix-tables
//
// Each prints the text of harden::mtaconf for the store's policy snapshot
// (or writes it atomically with --output). The text starts with a comment
// naming the command and the store. `gen postfix-tables DIR` writes two
// table files into DIR (atomically, mode 0644). `gen exim-satellite --apply` also adds
// the satellite networks to the store as `allow` rules, in one transaction.
#pragma once

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace harden::cli {

void add_gen_commands(CLI::App& app, Dispatch& d);

}  // namespace harden::cli
