// macros.hpp - the milter macros milter-harden reads, per protocol stage.
//
// The one list: the daemon asks for exactly these with smfi_setsymlist(), and
// `hardenctl gen sendmail-mc` appends exactly these to sendmail's
// confMILTER_MACROS_* defaults. Change it here and both follow.
//
//   stage     macros
//   connect   j {daemon_addr} {daemon_port} {if_addr} {client_addr} {client_port}
//             {client_name} {client_ptr} {client_resolve} {client_connections}
//   envfrom   i {auth_authen}
//   envrcpt   i {rcpt_mailer}
//
// {client_resolve} is sendmail's (OK, FAIL, FORGED, TEMP); Postfix has no such
// macro but sets {client_name} to "unknown" when the name did not verify and
// offers the unverified name as {client_ptr}. sendmail's {daemon_addr} is the
// listening address (0.0.0.0 without Addr=); {if_addr} is the accepted
// socket's local address, which the pre-greeting probe needs.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace harden::mtaconf {

enum class MacroStage { connect, envfrom, envrcpt };

struct MacroList {
  MacroStage stage;
  std::string_view sendmail_option;  // the .mc define that lists the stage's macros
  std::span<const std::string_view> macros;
};

inline constexpr std::array<std::string_view, 10> kConnectMacros{"j",
                                                                 "{daemon_addr}",
                                                                 "{daemon_port}",
                                                                 "{if_addr}",
                                                                 "{client_addr}",
                                                                 "{client_port}",
                                                                 "{client_name}",
                                                                 "{client_ptr}",
                                                                 "{client_resolve}",
                                                                 "{client_connections}"};
inline constexpr std::array<std::string_view, 2> kEnvfromMacros{"i", "{auth_authen}"};
inline constexpr std::array<std::string_view, 2> kEnvrcptMacros{"i", "{rcpt_mailer}"};

inline constexpr std::array<MacroList, 3> kMacroLists{{
    {MacroStage::connect, "confMILTER_MACROS_CONNECT", kConnectMacros},
    {MacroStage::envfrom, "confMILTER_MACROS_ENVFROM", kEnvfromMacros},
    {MacroStage::envrcpt, "confMILTER_MACROS_ENVRCPT", kEnvrcptMacros},
}};

// sendmail's own defaults for those .mc defines, which the generated lines
// extend rather than replace. Checked against cf/m4/cfhead.m4 of Debian's
// sendmail-cf 8.17.1.9 (proto.m4 only prints them); the mtaconf integration
// test runs m4 over the real cf/ tree and compares.
inline constexpr std::string_view kSendmailDefaultConnect =
    "j, _, {daemon_name}, {if_name}, {if_addr}";
inline constexpr std::string_view kSendmailDefaultEnvfrom =
    "i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, "
    "{mail_addr}";
inline constexpr std::string_view kSendmailDefaultEnvrcpt =
    "{rcpt_mailer}, {rcpt_host}, {rcpt_addr}";

constexpr std::string_view sendmail_default(MacroStage stage) {
  switch (stage) {
    case MacroStage::connect:
      return kSendmailDefaultConnect;
    case MacroStage::envfrom:
      return kSendmailDefaultEnvfrom;
    case MacroStage::envrcpt:
      return kSendmailDefaultEnvrcpt;
  }
  return {};
}

}  // namespace harden::mtaconf
