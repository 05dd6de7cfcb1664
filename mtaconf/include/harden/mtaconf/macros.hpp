// macros.hpp - the milter macros milter-harden reads, per protocol stage.
//
// The one list: the daemon asks for exactly these with smfi_setsymlist(), and
// `hardenctl gen sendmail-mc` appends exactly these to sendmail's
// confMILTER_MACROS_* defaults. Change it here and both follow.
//
//   stage     macros
//   connect   j {daemon_addr} {daemon_port} {client_addr} {client_port}
//             {client_name} {client_ptr} {client_resolve} {client_connections}
//   envfrom   i {auth_authen}
//   envrcpt   i {rcpt_mailer}
//
// {client_resolve} is sendmail's (OK, FAIL, FORGED, TEMP); Postfix has no such
// macro but sets {client_name} to "unknown" when the name did not verify and
// offers the unverified name as {client_ptr}.
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

inline constexpr std::array<std::string_view, 9> kConnectMacros{"j",
                                                                "{daemon_addr}",
                                                                "{daemon_port}",
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

// sendmail's own defaults for those .mc defines (cf/m4/proto.m4 of 8.17),
// which the generated lines extend rather than replace.
inline constexpr std::string_view kSendmailDefaultConnect =
    "j, _, {daemon_name}, {if_name}, {if_addr}";
inline constexpr std::string_view kSendmailDefaultEnvfrom =
    "i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, "
    "{mail_addr}";
inline constexpr std::string_view kSendmailDefaultEnvrcpt =
    "{rcpt_mailer}, {rcpt_host}, {rcpt_addr}";

}  // namespace harden::mtaconf
