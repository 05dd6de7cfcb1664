// roff.cpp - escaping and the man(7) macros behind roff.hpp.
#include "harden/manpage/roff.hpp"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <memory>

namespace harden::manpage {
namespace {

// The code point of the UTF-8 sequence at text[i] (advancing i past it);
// a broken sequence gives U+FFFD for its first byte.
std::uint32_t next_code_point(std::string_view text, std::size_t& i) {
  const auto lead = static_cast<unsigned char>(text[i++]);
  int more = 0;
  std::uint32_t cp = 0;
  if ((lead & 0xE0U) == 0xC0U) {
    more = 1;
    cp = lead & 0x1FU;
  } else if ((lead & 0xF0U) == 0xE0U) {
    more = 2;
    cp = lead & 0x0FU;
  } else if ((lead & 0xF8U) == 0xF0U) {
    more = 3;
    cp = lead & 0x07U;
  } else {
    return 0xFFFD;
  }
  for (int k = 0; k < more; ++k) {
    if (i >= text.size() || (static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U) return 0xFFFD;
    cp = (cp << 6U) | (static_cast<unsigned char>(text[i++]) & 0x3FU);
  }
  return cp;
}

std::string roff_quoted(std::string_view text) {
  std::string out = "\"";
  for (char ch : escape(text)) out += ch == '"' ? std::string("\\(dq") : std::string(1, ch);
  return out + "\"";
}

// The formatter --help uses: the app's own when it is a CLI::Formatter
// (hardenctl and milter-harden keep CLI11's default one), else a default one.
std::shared_ptr<const CLI::Formatter> formatter_of(const CLI::App& app) {
  auto own = std::dynamic_pointer_cast<const CLI::Formatter>(app.get_formatter());
  return own ? own : std::make_shared<const CLI::Formatter>();
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (std::size_t i = 0; i < text.size();) {
    const char ch = text[i];
    if (line_start && (ch == '.' || ch == '\'')) out += "\\&";
    line_start = ch == '\n';
    if (static_cast<unsigned char>(ch) >= 0x80U) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\[u%04X]", next_code_point(text, i));
      out += buf;
      continue;
    }
    ++i;
    if (ch == '\\') {
      out += "\\e";
    } else if (ch == '-') {
      out += "\\-";
    } else if (ch == '\t') {
      out += "        ";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string title(std::string_view name, int section, std::string_view source,
                  std::string_view manual) {
  std::string upper;
  for (char ch : name) upper += ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch;
  return ".TH " + roff_quoted(upper) + " " + std::to_string(section) + " \"\" " +
         roff_quoted(source) + " " + roff_quoted(manual) + "\n";
}

std::string section(std::string_view heading) {
  return ".SH " + roff_quoted(heading) + "\n";
}

std::string subsection(std::string_view heading) {
  return ".SS " + roff_quoted(heading) + "\n";
}

std::string line(std::string_view text) {
  return escape(text) + "\n";
}

std::string paragraph(std::string_view text) {
  return ".PP\n" + line(text);
}

std::string tagged(std::string_view term, std::string_view argument, std::string_view text) {
  std::string out = ".TP\n";
  out += argument.empty()
             ? ".B " + roff_quoted(term) + "\n"
             : ".BI " + roff_quoted(term) + " " + roff_quoted(" " + std::string(argument)) + "\n";
  return out + (text.empty() ? std::string("\\&\n") : line(text));
}

std::string preformatted(std::string_view text) {
  const auto first = text.find_first_not_of('\n');
  if (first == std::string_view::npos) return "";
  text.remove_prefix(first);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::string out = ".PP\n.nf\n";
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view row = text.substr(start, end - start);
    out += row.empty() ? std::string("\\&\n") : line(row);
    start = end + 1;
  }
  return out + ".fi\n";
}

std::string options(const CLI::App& app) {
  const auto formatter = formatter_of(app);
  std::string out;
  for (const bool positional : {true, false}) {
    for (const CLI::Option* opt : app.get_options()) {
      if (opt->get_group().empty() || opt->nonpositional() == positional) continue;
      // -h,--help once, on the program's page of options, not on every command.
      if (opt == app.get_help_ptr() && app.get_parent() != nullptr) continue;
      std::string opts = formatter->make_option_opts(opt);
      while (!opts.empty() && opts.front() == ' ') opts.erase(0, 1);
      out += tagged(formatter->make_option_name(opt, positional), opts, opt->get_description());
    }
  }
  return out;
}

std::string usage(const CLI::App& app, std::string_view path) {
  std::string text = formatter_of(app)->make_usage(&app, std::string(path));
  const std::string prefix = "Usage: ";
  if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace harden::manpage
