// generate.hpp - what every MTA configuration generator shares.
//
// SYNOPSIS
//   Provenance from{"hardenctl gen sendmail-mc", "/var/lib/milter-harden/policy.db"};
//   throw GenerateError("rule 192.0.2.0/24: ...");   // one line, names the rule
//
// Every generator is a pure function: policy snapshot + options + provenance
// + "now" -> text. No I/O, no clock, no environment. Every generated file
// starts with a comment naming the generator and the store (Provenance), so
// ops know not to edit it by hand.
//
// SAFETY
//   Generated text goes into m4 (sendmail.mc), sendmail's access map, a shell
//   file sourced as root (update-exim4.conf.conf), Exim's configuration and
//   Postfix's main.cf and cidr/pcre tables.
//   Only validated values reach it: numbers, durations, addresses, host names
//   and socket specs checked against a whitelist of characters. Text that
//   cannot be made safe (a regex holding Exim's \N, a socket path with a
//   quote) is refused with GenerateError naming the rule or option. Policy
//   free text (reasons) goes only where the syntax has a safe escape (Exim
//   expansion strings, Postfix table results); comments carry a sanitised copy (printable ASCII,
//   no quotes), never the raw text.
#pragma once

#include <string>

#include "harden/policy/error.hpp"

namespace harden::mtaconf {

// A policy value or option the target syntax cannot carry safely. It is a
// PolicyError, so callers that report policy errors report this one too.
class GenerateError : public policy::PolicyError {
 public:
  using policy::PolicyError::PolicyError;
};

// Who generated a file and from which store; goes into its first comment.
struct Provenance {
  std::string generator;  // "hardenctl gen sendmail-mc"
  std::string store;      // the policy store path
};

}  // namespace harden::mtaconf
