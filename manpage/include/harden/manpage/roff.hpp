// roff.hpp - man pages in roff (man(7) macros), written from the same tables
// as --help: the programs' CLI11 apps, the daemon's config key table and the
// policy attribute table. So `milter-harden --man 8` and `hardenctl --man`
// cannot say anything the code does not.
//
// SYNOPSIS
//   std::string page = manpage::title("hardenctl", 8, "milter-harden 0.1.0", "System Manager's
//   Manual"); page += manpage::section("NAME") + manpage::line("hardenctl - administer the policy
//   store"); page += manpage::section("OPTIONS") + manpage::options(app);   // every visible CLI11
//   option page += manpage::tagged("conn_rate", "N/WINDOW or 0", "connections per ..."); page +=
//   manpage::preformatted(app.get_footer());               // examples, verbatim
//
// Every piece of text goes through escape(): backslashes, minus signs, a dot
// or quote at the start of a line and non-ASCII characters come out as roff
// escapes, so `man --warnings` stays quiet whatever the tables hold.
//
// THREAD SAFETY
//   Pure functions over their arguments.
#pragma once

#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace harden::manpage {

// Text as it may stand on a roff text line: "\" -> "\e", "-" -> "\-",
// non-ASCII UTF-8 -> "\[uXXXX]"; a leading "." or "'" gets "\&" before it.
// Newlines are kept (each following line is protected the same way).
std::string escape(std::string_view text);

// .TH NAME SECTION "" "SOURCE" "MANUAL" (no date: the package build is reproducible).
std::string title(std::string_view name, int section, std::string_view source,
                  std::string_view manual);
std::string section(std::string_view heading);     // .SH
std::string subsection(std::string_view heading);  // .SS
// A text line (escaped), ending in a newline.
std::string line(std::string_view text);
// .PP and the text.
std::string paragraph(std::string_view text);
// .TP, the term in bold (with an optional argument in italics), the text.
std::string tagged(std::string_view term, std::string_view argument, std::string_view text);
// Lines kept as they are (.nf/.fi, .EX-style), leading and trailing blank lines dropped.
std::string preformatted(std::string_view text);

// The options of one CLI11 app as .TP entries: the name as --help shows it
// ("-c,--config"), its argument ("FILE", "(Env:HARDEN_DB)"), its description.
// Hidden options (empty group) are left out, positionals included; a
// subcommand's -h,--help too (the program's own is listed).
std::string options(const CLI::App& app);
// "[OPTIONS] SUBCOMMAND" and the like, after the program path, as --help's Usage line.
std::string usage(const CLI::App& app, std::string_view path);

}  // namespace harden::manpage
