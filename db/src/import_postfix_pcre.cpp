// import_postfix_pcre.cpp - Postfix pcre: access tables (e.g. fqrdns.pcre) -> pattern rules.
//
// Parsing follows Postfix's dict_pcre.c: a rule starts with a non-alphanumeric
// character (its regex delimiter, after any '!'), "if" and "endif" are
// keywords (any case), flags toggle the defaults CASELESS and DOTALL. See
// importers.hpp for how actions map to rule attributes.
#include <string>
#include <unordered_map>

#include "harden/db/importers.hpp"
#include "harden/policy/error.hpp"
#include "import_util.hpp"
#include "text_util.hpp"

namespace harden::db {
namespace {

using ascii::iequals;
using ascii::is_alnum;
using detail::LineReader;
using detail::quote;
using policy::Action;
using policy::PatternTerm;

constexpr std::size_t kMaxNesting = 64;

// True if `s` starts with keyword `kw` (any case) not followed by alnum.
bool keyword(std::string_view s, std::string_view kw) {
  return detail::istarts_with(s, kw) && (s.size() == kw.size() || !is_alnum(s[kw.size()]));
}

// The regex as our selectors write it: delimited by '/', so a bare '/' is escaped.
std::string slash_delimited(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      out += raw.substr(i, 2);
      ++i;
    } else if (raw[i] == '/') {
      out += "\\/";
    } else {
      out += raw[i];
    }
  }
  return out;
}

struct Verdict {
  Action action;
  std::string text;  // reply text, may be empty
};

class PcreImporter {
 public:
  PcreImporter(std::istream& in, std::string_view file) : reader_(in, file) {}

  ImportResult run() {
    std::string text;
    std::string logical;
    std::size_t first = 0;
    while (reader_.next(text)) {
      const std::string_view t = detail::trim(text);
      if (t.empty() || t.front() == '#') continue;
      if (ascii::is_space(text.front())) {
        if (logical.empty()) reader_.fail(reader_.line_no(), "continuation line without a rule");
        if (logical.size() + text.size() > kMaxImportLineLength) {
          reader_.fail(
              first, "logical line longer than " + std::to_string(kMaxImportLineLength) + " bytes");
        }
        logical += text;
        continue;
      }
      if (!logical.empty()) line(logical, first);
      logical = text;
      first = reader_.line_no();
    }
    if (!logical.empty()) line(logical, first);
    if (!blocks_.empty()) reader_.fail(blocks_.back().line, "if without endif");
    result_.rules = rules_.take();
    return std::move(result_);
  }

 private:
  struct Block {
    PatternTerm term;
    std::size_t line;
  };

  [[noreturn]] void fail(std::string_view msg) const { reader_.fail(line_, msg); }
  void note(std::string_view msg) { reader_.note(result_, line_, msg); }

  void line(std::string_view text, std::size_t number) {
    line_ = number;
    text = detail::trim(text);
    if (!is_alnum(text.front())) return rule(text);
    if (keyword(text, "if")) {
      std::string_view rest = text.substr(2);
      PatternTerm t = term(rest);
      if (!detail::trim(rest).empty()) fail("text after the if condition: " + quote(rest));
      if (blocks_.size() >= kMaxNesting) {
        fail("if blocks nested deeper than " + std::to_string(kMaxNesting));
      }
      blocks_.push_back(Block{std::move(t), line_});
      return;
    }
    if (keyword(text, "endif")) {
      if (blocks_.empty()) fail("endif without if");
      if (!detail::trim(text.substr(5)).empty()) fail("text after endif");
      blocks_.pop_back();
      return;
    }
    fail("expected /regex/ ACTION, 'if /regex/' or 'endif', not " + quote(text, 40));
  }

  void rule(std::string_view text) {
    std::vector<PatternTerm> terms;
    for (const auto& b : blocks_) terms.push_back(b.term);
    terms.push_back(term(text));
    const std::string_view action = detail::trim(text);
    if (action.empty()) fail("no action after the regex");
    auto v = verdict(action);
    if (!v) return;
    bool positive = false;
    for (const auto& t : terms) positive = positive || !t.negated;
    if (!positive) terms.insert(terms.begin(), PatternTerm{"^", false});  // "!/re/" alone
    policy::Selector sel;
    try {
      sel = policy::Selector::for_pattern(std::move(terms));
    } catch (const policy::PolicyError& e) {
      fail(e.what());
    }
    auto [it, fresh] = first_line_.try_emplace(sel.text(), line_);
    if (!fresh) {
      return note("skipped: same pattern as line " + std::to_string(it->second) +
                  " (Postfix uses the first)");
    }
    auto& r = rules_.get(sel, reader_.comment(line_));
    r.priority = static_cast<std::int64_t>(++count_);
    r.attrs.action = v->action;
    if (!v->text.empty()) r.attrs.reason = v->text;
  }

  // Parses "[!...]<d>regex<d>flags" from the front of `s` and advances it.
  PatternTerm term(std::string_view& s) {
    PatternTerm t;
    std::size_t i = 0;
    for (; i < s.size(); ++i) {
      if (s[i] == '!') {
        t.negated = !t.negated;
      } else if (!ascii::is_space(s[i])) {
        break;
      }
    }
    if (i >= s.size()) fail("missing regex");
    const char delim = s[i];
    if (is_alnum(delim) || delim == '\\') fail("bad regex delimiter " + quote(s.substr(i, 1)));
    const std::size_t open = i++;
    while (i < s.size() && s[i] != delim) i += s[i] == '\\' ? 2u : 1u;
    if (i >= s.size()) fail("no closing " + quote(s.substr(open, 1)) + " after the regex");
    std::string regex = slash_delimited(s.substr(open + 1, i - open - 1));
    std::size_t f = ++i;
    while (i < s.size() && !ascii::is_space(s[i])) ++i;
    regex = flagged(std::move(regex), s.substr(f, i - f));
    t.regex = regex.empty() ? "^" : regex;  // Postfix's // matches every name
    s = s.substr(i);
    return t;
  }

  // Applies Postfix's toggling flags to the regex, or refuses them.
  std::string flagged(std::string regex, std::string_view flags) {
    bool anchored = false;
    bool case_sensitive = false;
    bool extended = false;
    for (char c : flags) {
      switch (c) {
        case 'i':
          case_sensitive = !case_sensitive;
          break;
        case 'x':
          extended = !extended;
          break;
        case 'A':
          anchored = !anchored;
          break;
        case 'm':
        case 's':
        case 'E':
        case 'U':
        case 'X':
          break;  // no effect on whether a one-line host name matches
        default:
          fail("unknown regex flag " + quote(std::string_view(&c, 1)));
      }
    }
    if (case_sensitive) {
      fail("flag 'i' (case-sensitive matching) cannot be honoured: patterns always ignore case");
    }
    if (extended) fail("flag 'x' (extended regex syntax) is not supported; remove the blanks");
    return anchored ? "^(?:" + regex + ")" : regex;
  }

  // nullopt: understood but not imported (a note says so).
  std::optional<Verdict> verdict(std::string_view action) {
    const auto end = action.find_first_of(" \t");
    const std::string_view word = action.substr(0, end);
    const std::string_view rest =
        end == std::string_view::npos ? std::string_view{} : detail::trim(action.substr(end));
    auto with_text = [&](Action a) { return Verdict{a, reply(rest)}; };
    if (iequals(word, "REJECT")) return with_text(Action::block);
    if (iequals(word, "DEFER") || iequals(word, "DEFER_IF_REJECT") ||
        iequals(word, "DEFER_IF_PERMIT")) {
      return with_text(Action::tempfail);
    }
    if (iequals(word, "OK") || iequals(word, "PERMIT")) return Verdict{Action::allow, {}};
    if (iequals(word, "DUNNO")) return Verdict{Action::limit, {}};
    if (word.find_first_not_of("0123456789") == std::string_view::npos) {
      if (word.size() == 3 && (word[0] == '4' || word[0] == '5')) {
        return with_text(word[0] == '4' ? Action::tempfail : Action::block);
      }
      // An all-numerical result is OK (Postfix compatibility); "250 text" is not.
      if (rest.empty()) return Verdict{Action::allow, {}};
    }
    for (std::string_view a :
         {"FILTER", "PREPEND", "WARN", "HOLD", "DISCARD", "REDIRECT", "BCC", "INFO"}) {
      if (iequals(word, a)) {
        note("skipped action " + quote(word) + " (not a connection verdict)");
        return std::nullopt;
      }
    }
    const std::string lw = ascii::to_lower(word);
    for (std::string_view p : {"permit_", "reject_", "check_", "defer_", "warn_if_", "sleep"}) {
      if (lw.rfind(p, 0) == 0) {
        note("skipped restriction " + quote(word) + " (Postfix restrictions are not imported)");
        return std::nullopt;
      }
    }
    fail("unknown action " + quote(word));
  }

  std::string reply(std::string_view text) {
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
      if (text[i] == '$' && (ascii::is_digit(text[i + 1]) || text[i + 1] == '{')) {
        note("reply text uses $N substitution; it is imported literally");
        break;
      }
    }
    return detail::clean_reason(reader_, result_, line_, text);
  }

  LineReader reader_;
  detail::RuleSet rules_;
  ImportResult result_;
  std::vector<Block> blocks_;
  std::unordered_map<std::string, std::size_t> first_line_;  // selector -> line
  std::size_t count_ = 0;
  std::size_t line_ = 0;
};

}  // namespace

ImportResult parse_postfix_pcre(std::istream& in, std::string_view filename) {
  return PcreImporter(in, filename).run();
}

}  // namespace harden::db
