#!/usr/bin/env python3
"""gen_bench_hostnames.py - writes tests/data/bench_hostnames.txt.

SYNOPSIS
    python3 tests/bench/gen_bench_hostnames.py            # rewrites the file
    python3 tests/bench/gen_bench_hostnames.py --check    # exit 1 if it differs

The list feeds bench_rdns (snapshot vs. PCRE2 one by one) and the PatternSet
differential test. It is deterministic (fixed seed, no clock) and holds:

  * sampled names: for each REJECT regex of tests/data/fqrdns.pcre, one or
    two host names generated from the regex itself (its parse tree walked
    with random choices; unanchored ends padded with labels), kept only if
    they are valid host names and Python's re finds the regex in them
    (case-insensitive). Regexes Python cannot parse (e.g. "\\e") are skipped.
  * near misses: sampled names with one character changed, so they often
    fall just outside the regex they came from.
  * legitimate mail server names in the shapes large providers use
    (mail-xx1-f65.google.com, a27-12.smtp-out.amazonses.com, mx1.example.org).

Names are lower-case, one per line; lines starting with '#' are comments.
"""

import random
import re
import sys
from pathlib import Path

try:
    import re._parser as sre_parse  # Python 3.11+
    import re._constants as C
except ImportError:  # pragma: no cover - older Pythons
    import sre_parse
    import sre_constants as C

ROOT = Path(__file__).resolve().parents[2]
PCRE_FILE = ROOT / "tests/data/fqrdns.pcre"
OUT_FILE = ROOT / "tests/data/bench_hostnames.txt"
SEED = 20251121
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-."
LABEL_RE = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


def rule_regexes(text):
    """Regexes of the '/re/ ACTION' lines (not 'if', not DUNNO), file order."""
    out = []
    for line in text.splitlines():
        if not line.startswith("/"):
            continue
        end = 1
        while end < len(line) and line[end] != "/":
            end += 2 if line[end] == "\\" else 1
        action = line[end + 1:].split()
        if action and action[0].upper() != "DUNNO":
            out.append(line[1:end])
    return out


class Sampler:
    def __init__(self, rng):
        self.rng = rng

    def chars_in(self, items):
        negate = any(op == C.NEGATE for op, _ in items)
        chosen = set()
        for ch in ALPHABET:
            hit = False
            for op, av in items:
                if op == C.LITERAL:
                    hit |= chr(av).lower() == ch
                elif op == C.RANGE:
                    lo, hi = av
                    hit |= lo <= ord(ch) <= hi or lo <= ord(ch.upper()) <= hi
                elif op == C.CATEGORY:
                    hit |= self.category(av, ch)
            if hit != negate:
                chosen.add(ch)
        return sorted(chosen)

    @staticmethod
    def category(cat, ch):
        name = str(cat)
        if "NOT_DIGIT" in name:
            return not ch.isdigit()
        if "DIGIT" in name:
            return ch.isdigit()
        if "NOT_WORD" in name:
            return not (ch.isalnum() or ch == "_")
        if "WORD" in name:
            return ch.isalnum() or ch == "_"
        if "NOT_SPACE" in name:
            return True
        return False

    def walk(self, tree):
        out = []
        for op, av in tree:
            if op == C.LITERAL:
                out.append(chr(av).lower())
            elif op == C.NOT_LITERAL:
                out.append(self.rng.choice([c for c in ALPHABET if c != chr(av).lower()]))
            elif op == C.ANY:
                out.append(self.rng.choice(ALPHABET))
            elif op == C.IN:
                chars = self.chars_in(av)
                if not chars:
                    raise ValueError("empty class")
                out.append(self.rng.choice(chars))
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                lo, hi, sub = av
                hi = min(hi, lo + 3)
                for _ in range(self.rng.randint(lo, hi)):
                    out.append(self.walk(sub))
            elif op == C.SUBPATTERN:
                out.append(self.walk(av[-1]))
            elif op == C.BRANCH:
                out.append(self.walk(self.rng.choice(av[1])))
            elif op == C.AT:
                continue
            else:
                raise ValueError(f"unsupported {op}")
        return "".join(out)

    def sample(self, regex):
        tree = sre_parse.parse(regex, re.IGNORECASE)
        body = self.walk(tree)
        if not regex.startswith("^"):
            body = self.label() + ("." if not body.startswith(".") else "") + body
        if not regex.endswith("$") and self.rng.random() < 0.5:
            body += "." + self.rng.choice(["net", "com", "example.net", "de"])
        return body

    def label(self):
        kind = self.rng.randrange(3)
        if kind == 0:
            return "-".join(str(self.rng.randrange(256)) for _ in range(4))
        if kind == 1:
            return self.rng.choice(["host", "cpe", "ip", "h"]) + str(self.rng.randrange(10000))
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6))


def valid_hostname(name):
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    return len(labels) >= 2 and all(LABEL_RE.match(l) for l in labels)


def sampled_names(rng, regexes):
    sampler = Sampler(rng)
    names = []
    for i, regex in enumerate(regexes):
        want = 2 if i % 3 == 0 else 1
        for _ in range(want * 8):
            if want == 0:
                break
            try:
                name = sampler.sample(regex)
                ok = valid_hostname(name) and re.search(regex, name, re.IGNORECASE)
            except (re.error, ValueError, OverflowError):
                break
            if ok:
                names.append(name)
                want -= 1
    return names


def near_misses(rng, names, count):
    out = []
    for name in rng.sample(names, count):
        pos = rng.randrange(len(name))
        repl = rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
        mutated = name[:pos] + repl + name[pos + 1:]
        if valid_hostname(mutated):
            out.append(mutated)
    return out


def legit_names(rng, count):
    domains = ["example.com", "example.org", "example.net", "mailprovider.example",
               "uni-example.de", "example.co.uk", "example.com.au", "agency.gov.example",
               "shop-example.fr", "example.nl", "example.io", "bank-example.ch"]
    shapes = [
        lambda: "mail." + rng.choice(domains),
        lambda: f"mx{rng.randrange(1, 10)}." + rng.choice(domains),
        lambda: "smtp-out." + rng.choice(domains),
        lambda: f"smtp{rng.randrange(1, 30):02d}." + rng.choice(domains),
        lambda: f"o{rng.randrange(1, 50)}.email." + rng.choice(domains),
        lambda: f"mta-{rng.randrange(1, 99)}." + rng.choice(domains),
        lambda: f"relay{rng.randrange(1, 5)}." + rng.choice(domains),
        lambda: f"outbound{rng.randrange(1, 20)}.mail." + rng.choice(domains),
        lambda: "mail-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(2))
        + f"{rng.randrange(1, 10)}-f{rng.randrange(1, 200)}.google.com",
        lambda: f"a{rng.randrange(1, 99)}-{rng.randrange(1, 255)}.smtp-out."
        + rng.choice(["eu-west-1", "us-east-2", "us-west-2"]) + ".amazonses.com",
        lambda: "mail-" + rng.choice(["db8", "am5", "he1", "vi1"]) + "eur0"
        + f"{rng.randrange(1, 6)}on{rng.randrange(2000, 2200)}.outbound.protection.outlook.com",
        lambda: f"o{rng.randrange(1, 9)}.ptr{rng.randrange(1000, 9999)}.sendgrid.example",
        lambda: "www." + rng.choice(domains),
        lambda: rng.choice(["gateway", "edge", "mailgw", "filter", "postfix", "exchange"])
        + f"{rng.randrange(1, 4)}." + rng.choice(domains),
    ]
    return [rng.choice(shapes)() for _ in range(count)]


def generate():
    rng = random.Random(SEED)
    regexes = rule_regexes(PCRE_FILE.read_text())
    sampled = sampled_names(rng, regexes)
    misses = near_misses(rng, sampled, 500)
    legit = legit_names(rng, 4000 - len(sampled) - len(misses))
    names = sampled + misses + legit
    rng.shuffle(names)
    header = ["# Host names for bench_rdns and the PatternSet differential test.",
              "# Generated by tests/bench/gen_bench_hostnames.py - do not edit by hand.",
              f"# {len(sampled)} sampled from fqrdns.pcre regexes, {len(misses)} near misses,"
              f" {len(legit)} legitimate mail server names."]
    return "\n".join(header + names) + "\n"


def main():
    text = generate()
    if "--check" in sys.argv[1:]:
        same = OUT_FILE.exists() and OUT_FILE.read_text() == text
        print("up to date" if same else f"{OUT_FILE} differs; rerun without --check")
        return 0 if same else 1
    OUT_FILE.write_text(text)
    print(f"wrote {OUT_FILE} ({text.count(chr(10)) - 3} names)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
