"""Fuzz the front end through the real command line: bad input must never break it.

Every input is written to a spec file and run through `codegen.cli.main(["check", path])`
in-process (stdout and stderr captured); an input that checks ok is also compiled and
rendered in memory (`emit.render`), the generate path without the writes. With the back
end on (the default; `--no-backend` turns it off), every input that checks ok then goes
through the back end too, stage by stage: `generate` (written to a temporary folder),
`cosim` (5 walks or events, the path of `virtspec cosim --walks 5`), `verilog` and `vhdl`
(the path of `virtspec convert`). That takes seconds per input where the front end takes
milliseconds: `--backend-every N` back-end-tests a deterministic sample instead, the 1st,
(N+1)th, (2N+1)th... input that checks ok, and the output says so. Families:

  bytes      random bytes: invalid UTF-8, NULs, UTF-16, huge lines, control characters
  tokens     random sequences of the grammar's terminals (read from the lark grammar),
             names, numbers and strings; half of them random derivations of the grammar
             itself, which are syntactically valid and reach elaboration and the checks
  mutations  the shipped specs (specs/ and tests/data/) with 1-3 edits on token
             boundaries: delete, duplicate or swap token ranges, flip characters, set a
             number to 0, 1, -1, 2**64 or 10**400, swap names, truncate
  stress     the same declarations scaled up: deep nesting, long operator chains, many
             duplicates and undefined names, long lines, many imports

Each input runs under a CPU-time alarm (CPU time, so that a busy shared machine does not
turn slow inputs into hangs) and a wall-clock one 12 times longer for what blocks
without computing; either is a hang. Each back-end stage runs under alarms of its own,
`--backend-timeout` seconds of CPU time (the models of a big spec take longer to
simulate and convert than a spec takes to check). Counted: inputs per family, exit
statuses, tracebacks (an exception escaping main or a traceback in the output), hangs,
statuses other than 0/1/2, and error lines without a code; per back-end stage, inputs
run, tracebacks, hangs and (cosim) mismatches. Failing inputs are saved for
reproduction.

    python -m codegen.bench.fuzz --inputs 10000 --seed 1 [--json] [--timeout 5] [--save DIR]
        [--no-backend | --backend-every N] [--backend-timeout 60]

The generator is plain seeded `random` (not hypothesis): a run is reproduced exactly by
its seed, and the input's number names it in the saved files.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from codegen import shipped
from codegen.bench import workloads
from codegen.frontend import config
from codegen.frontend.diagnostics import SpecError
from codegen.frontend.parse import parser
from codegen.frontend.pipeline import compile_in_project, compile_spec
from codegen.generate import emit
from codegen.ir import Spec
from codegen.progress import Progress

# the seeds: the shipped specs, and the toy specs of the tests when run from a checkout
TOY_SPECS = Path(__file__).resolve().parents[2] / "tests" / "data"
FAMILIES = ("bytes", "tokens", "mutations", "stress")
WEIGHTS = (0.25, 0.30, 0.37, 0.08)
SHIPPED = {p.name: p.read_bytes() for p in shipped.specs() + sorted(TOY_SPECS.glob("*.vspec"))}
# what the shipped specs import from specs/shared/, written beside them (not seeds: no model)
SHARED = {f"shared/{p.name}": p.read_bytes() for p in shipped.shared()}
FUZZ_NAME = "fuzz.vspec"
EXTREME = ["0", "1", "-1", "2", "63", "64", "65", "1024", "1025", str(2 ** 64), str(2 ** 64 - 1), "0xffffffffffffffff",
           "1" + "0" * 400, "0x" + "f" * 300, "0b", "0x", "007", "1_", "4K", "1T", "99999999999999999999T"]
ODD_NAMES = ["signal", "class", "None", "True", "_", "__x", "a_", "in", "wire", "type", "level", "access", "leaf",
             "host", "event", "fault", "rsvd", "next", "skipped", "on_table", "x" * 300]
_IMPORTED = workloads.load().fuzz  # the shipped spec the scaled-up imports read, and its parameter
STRINGS = ['"doc"', '""', f'"{_IMPORTED.import_}"', '"toy.vspec"', '"toy_skip.vspec"', f'"{FUZZ_NAME}"',
           '"../outside.vspec"', '"/etc/passwd"', '"."', '"specs"', '"a\\"b"', '"\\\\"', '"\\n"', '"\u00e9\u2028"']


# ---- the grammar, read programmatically --------------------------------------------
@lru_cache(maxsize=1)
def grammar_literals() -> list[str]:
    """The keywords and punctuation of the grammar (its string terminals)."""
    return sorted(t.pattern.value for t in parser().terminals if t.pattern.type == "str")


@lru_cache(maxsize=1)
def shipped_names() -> list[str]:
    """Names used by the shipped specs, so that random text sometimes refers to real things."""
    names = set()
    for data in SHIPPED.values():
        names.update(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", data.decode()))
    return sorted(names - set(grammar_literals()))


def random_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return rng.choice(["P", "Q", "W", "va", "CR3", "pte", "pde", "A", "B", "ADDR", "t", "walk", "r", "x", "u"])
    if r < 0.85:
        return rng.choice(shipped_names())
    return rng.choice(ODD_NAMES)


def random_number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.7:
        return str(rng.choice([0, 1, 2, 3, 4, 7, 8, 12, 20, 21, 29, 30, 39, 47, 48, 51, 52, 63, 64, 128, 256]))
    if r < 0.85:
        return rng.choice(["4K", "2M", "1G", "0x1f", "0b101", "1_000"])
    return rng.choice(EXTREME[1:]).lstrip("-")


def random_terminal(rng: random.Random, name: str) -> str:
    """Text for one terminal of the grammar, by terminal name."""
    if name == "NAME":
        return random_name(rng)
    if name == "NUMBER":
        return random_number(rng)
    if name == "STRING":
        return rng.choice(STRINGS)
    return parser().get_terminal(name).pattern.value


@lru_cache(maxsize=1)
def _rules() -> tuple[dict, dict]:
    """The compiled grammar: nonterminal -> expansions, and each symbol's minimum depth
    (to close a derivation off when it gets deep)."""
    rules: dict[str, list[list]] = {}
    for r in parser().rules:
        rules.setdefault(r.origin.name, []).append([(s.name, s.is_term) for s in r.expansion])
    depth = {}
    changed = True
    while changed:
        changed = False
        for origin, exps in rules.items():
            for exp in exps:
                if all(t or s in depth for s, t in exp):
                    d = 1 + max((depth[s] for s, t in exp if not t), default=0)
                    if d < depth.get(origin, 1 << 30):
                        depth[origin], changed = d, True
    return rules, depth


def derive(rng: random.Random, symbol: str = "start", budget: int = 12) -> list[str]:
    """A random sentence of the grammar: random expansions while the budget lasts, then
    the shallowest ones. Iterative, so a deep derivation cannot overflow the stack."""
    rules, depth = _rules()
    out: list[str] = []
    stack = [(symbol, False, budget)]
    while stack and len(out) < 4000:
        name, is_term, left = stack.pop()
        if is_term:
            out.append(random_terminal(rng, name))
            continue
        exps = rules[name]
        if left <= 0:
            best = min(1 + max((depth.get(s, 0) for s, t in e if not t), default=0) for e in exps)
            exps = [e for e in exps if 1 + max((depth.get(s, 0) for s, t in e if not t), default=0) == best]
        exp = rng.choice(exps)
        stack.extend((s, t, left - 1) for s, t in reversed(exp))
    return out


# ---- the families -------------------------------------------------------------------
def gen_bytes(rng: random.Random) -> bytes:
    kind = rng.randrange(8)
    n = rng.choice([0, 1, 5, 50, 300, 3000])
    if kind == 0:
        return rng.randbytes(n)
    if kind == 1:  # text with NULs and control characters
        return bytes(rng.choice(b"spec t;\x00\x01\x07\x0b\x0c\x1b\r\n\t{}[]\x7f") for _ in range(n))
    if kind == 2:  # UTF-16 (with and without a BOM) of a real spec
        text = rng.choice(list(SHIPPED.values())).decode()[:2000]
        return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32"]))
    if kind == 3:  # invalid UTF-8 in an otherwise valid spec
        data = bytearray(rng.choice(list(SHIPPED.values())))
        for _ in range(rng.randint(1, 3)):
            data.insert(rng.randrange(len(data) + 1), rng.choice([0x80, 0xC0, 0xE9, 0xFF, 0xED, 0xF5, 0xFE]))
        return bytes(data)
    if kind == 4:  # a huge line
        unit = rng.choice([b"x", b"(", b"- ", b"param P = 1; ", b"// ", b"\xe2\x80\xa8", b" ", b"\"", b"/*"])
        return b"spec t; " + unit * rng.choice([10_000, 100_000, 1_000_000 // len(unit)])
    if kind == 5:  # many lines, or carriage returns only
        return rng.choice([b"\n", b"\r", b"\r\n", b";\n", b"\x0c"]) * rng.choice([1000, 100_000])
    if kind == 6:  # random unicode text
        chars = [chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x800), rng.randrange(0x800, 0xD800),
                                 rng.randrange(0xE000, 0x110000)])) for _ in range(n)]
        return "".join(chars).encode("utf-8", "surrogatepass")
    # a BOM, or a BOM in the middle
    return rng.choice([b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xff\xfe", b""]) + \
        rng.choice(list(SHIPPED.values()))[: rng.randrange(1, 400)]


def gen_tokens(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        words = derive(rng, budget=rng.randint(4, 16))
        if rng.random() < 0.3:  # a spec header and a small real regime make deeper stages reachable
            words = ["spec", "t", ";"] + words
    else:
        pool = grammar_literals()
        words = []
        for _ in range(rng.randint(0, 120)):
            r = rng.random()
            words.append(rng.choice(pool) if r < 0.6 else random_name(rng) if r < 0.8 else random_number(rng)
                         if r < 0.9 else rng.choice(STRINGS + ["//c\n", "/*", "*/", "\n", "/* x */"]))
    sep = rng.choice([" ", " ", "\n", "\t", ""])
    return sep.join(words).encode()


def _lex(text: str) -> list:
    """The tokens of a spec (lark's lexer), for edits on token boundaries."""
    return list(parser().lex(text))


@lru_cache(maxsize=None)
def _tokens_of(name: str) -> tuple:
    return tuple((t.type, t.start_pos, t.end_pos, str(t)) for t in _lex(SHIPPED[name].decode()))


def mutate(rng: random.Random, name: str, text: str) -> str:
    """One edit of `text`; the token positions are those of the unedited file when the
    text is still that file, else the edit works on characters."""
    toks = _tokens_of(name) if text == SHIPPED[name].decode() else None
    kind = rng.choice(["delete", "duplicate", "swap", "flip", "number", "number", "names", "truncate", "insert"])
    if toks and kind in ("delete", "duplicate", "swap"):
        i = rng.randrange(len(toks))
        j = min(len(toks) - 1, i + rng.choice([0, 0, 1, 2, 5, 20]))
        a, b = toks[i][1], toks[j][2]
        if kind == "delete":
            return text[:a] + text[b:]
        if kind == "duplicate":
            return text[:b] + " " + text[a:b] + text[b:]
        k = rng.randrange(len(toks))
        c, d = toks[k][1], toks[k][2]
        if d <= a:
            return text[:c] + text[a:b] + text[d:a] + text[c:d] + text[b:]
        if c >= b:
            return text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
        return text
    if toks and kind == "number":
        nums = [t for t in toks if t[0] == "NUMBER"]
        if nums:
            _, a, b, _ = rng.choice(nums)
            value = rng.choice(EXTREME + [str(rng.randrange(0, 70))] * 6)
            return text[:a] + value + text[b:]
    if toks and kind == "names":
        names = [t for t in toks if t[0] == "NAME"]
        if len(names) > 1:
            x, y = rng.sample(names, 2)
            if rng.random() < 0.5:  # rename one use
                return text[:x[1]] + y[3] + text[x[2]:]
            first, second = sorted((x, y), key=lambda t: t[1])  # swap two names
            return text[:first[1]] + second[3] + text[first[2]:second[1]] + first[3] + text[second[2]:]
    if kind == "truncate":
        return text[: rng.randrange(len(text) + 1)]
    if kind == "insert" and text:
        at = rng.randrange(len(text) + 1)
        piece = rng.choice(grammar_literals() + STRINGS + ["/*", "\"", "\x00", "\u2028", "\r", "("] * 2)
        return text[:at] + piece + text[at:]
    if not text:
        return text
    at = rng.randrange(len(text))  # flip a character
    return text[:at] + rng.choice("[]{}():;=.,!~-+*/%<>&|^?\"_ \n0123456789xKGaz\x00\u00e9\t") + text[at + 1:]


def gen_mutation(rng: random.Random) -> tuple[str, bytes]:
    name = rng.choice(sorted(SHIPPED))
    text = SHIPPED[name].decode()
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        text = mutate(rng, name, text)
    return name, text.encode("utf-8", "surrogatepass")


def gen_stress(rng: random.Random) -> bytes:
    """Pathological but well-formed shapes, scaled: what a linear front end survives and a
    quadratic one does not."""
    n = rng.choice([100, 1000, 5000, 20000])
    kind = rng.randrange(13)
    head = "spec t;\n"
    if kind == 0:
        return (head + "param P = " + "(" * n + "1" + ")" * n + ";\n").encode()
    if kind == 1:
        return (head + "param P = " + "1 ? " * n + "1" + " : 0" * n + ";\n").encode()
    if kind == 2:
        return (head + "param P = " + rng.choice(["-", "!", "~", "- ", "!~"]) * n + "1;\n").encode()
    if kind == 3:
        return (head + "param P = " + rng.choice(["+", "*", "<<", "&&", "|", "=="]).join(["1"] * n) + ";\n").encode()
    if kind == 4:  # many duplicates, on one line or many
        sep = rng.choice([" ", "\n"])
        return (head + sep.join(["param P = 1;"] * n)).encode()
    if kind == 5:  # many undefined names
        return (head + "".join(f"param P{i} = Q{i} + R;\n" for i in range(n))).encode()
    if kind == 6:  # many fields in one format, overlapping
        return (head + "format f : 64 {\n" + "".join(f"  F{i} [{i % 64}];\n" for i in range(n)) + "}\n").encode()
    if kind == 7:  # a long chain of lets
        return (head + "regime r {\n  input va : 48;\n  let L0 = va;\n"
                + "".join(f"  let L{i + 1} = L{i} + L{i};\n" for i in range(min(n, 2000))) + "}\n").encode()
    if kind == 8:  # many imports of one file with different parameters
        lines = [f'import "{_IMPORTED.import_}" as x{i} with {{ {_IMPORTED.parameter} = {32 + i % 40}; }};'
                 for i in range(min(n, 300))]
        return (head + "\n".join(lines) + "\n").encode()
    if kind == 9:  # a huge literal or width
        digits = "9" * min(n * 10, 200_000)
        return (head + rng.choice([f"param P = {digits};", f"format f : {digits} {{ A [0]; }}",
                                   f"format f : 64 {{ A [1 << {digits}]; }}", f"param P = 1 << {n * 1000};",
                                   "param P = (1 << 4096) * (1 << 4096);"]) + "\n").encode()
    if kind == 10:  # many levels and faults in a regime
        levels = "".join(f"  level {i + 1} l{i} {{ index va[{i}:{i}]; table pte; }}\n" for i in range(min(n, 3000)))
        return (head + "format pte : 64 { P [0]; }\nregime r {\n  input va : 48;\n" + levels + "}\n").encode()
    if kind == 11:  # many enum items
        return (head + "enum e : 8 {\n" + "".join(f"  I{i} = {i};\n" for i in range(n)) + "}\n").encode()
    # deep bit slices
    return (head + "param P = 1" + "[0]" * n + ";\n").encode()


# ---- running one input ----------------------------------------------------------------
class Hang(BaseException):
    """Raised by the alarm: a BaseException, so that no `except Exception` swallows it."""


def _alarm(signum, frame):
    raise Hang("CPU time" if signum == signal.SIGPROF else "wall-clock time")


HEADER = re.compile(r"^(?!\s)(?!\d+ \| )(.+?):(\d+):(\d+): (error|warning|note)(\[[EW]\d{4}\])?: ")


def uncoded_lines(stderr: str) -> list[str]:
    """Diagnostic lines (`path:line:col: error...`) without a `[CODE]`."""
    return [ln for ln in stderr.splitlines()
            if (m := HEADER.match(ln)) and m[4] in ("error", "warning") and m[5] is None]


BACKEND_STAGES = ("generate", "cosim", "verilog", "vhdl")
BACKEND_WALKS = 5  # walks or events per co-simulation: `virtspec cosim --walks 5`


@dataclass
class Outcome:
    status: object  # an int, "hang" or "traceback"
    problem: str = ""  # what went wrong, for the saved report
    rendered: bool = False
    backend: dict = field(default_factory=dict)  # stage -> "ok", "refused", "mismatch", "traceback" or "hang"


@contextlib.contextmanager
def alarms(timeout: float):
    """Raise Hang after `timeout` seconds of CPU time or 12 times as long on the wall clock."""
    old = signal.signal(signal.SIGPROF, _alarm), signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_PROF, timeout)
    signal.setitimer(signal.ITIMER_REAL, timeout * 12)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old[0])
        signal.signal(signal.SIGALRM, old[1])


def check_status(path: Path) -> int:
    """What `virtspec check PATH` does, through the stages (no command line in the loop):
    diagnostics on standard error, the exit status it would give."""
    try:
        spec, bag = compile_in_project(path)
    except config.ConfigError as exc:
        print(f"virtspec: error: {exc}", file=sys.stderr)
        return 2
    if bag.items:
        print(bag.render(), file=sys.stderr)
    return 0 if spec is not None else 1


def backend_stage(stage: str, spec: Spec, files: dict, work: Path) -> str:
    """One back-end stage of a spec that checked and rendered: "ok", or "mismatch" (cosim),
    or "refused" (an E05xx from the stage, reported as `generate` reports it)."""
    from codegen.generate import hdl
    from codegen.verify import cosim, harness
    out = work / "out"
    if stage == "generate":
        shutil.rmtree(out, ignore_errors=True)
        emit.write(files, out)
        return "ok"
    if stage == "cosim":
        report = cosim.run(spec, out, BACKEND_WALKS, seed=1, vcd_dir=work / "vcd", max_failures=1)
        if report.mismatches:
            raise Mismatch(f"{report.mismatches} of {report.transactions} transactions mismatch:\n"
                           + "\n".join(str(f) for f in report.failures[:1])[:3000])
        return "ok"
    _, model = harness.load_generated(out)
    lang = "Verilog" if stage == "verilog" else "VHDL"
    shutil.rmtree(work / stage, ignore_errors=True)
    hdl.convert(model, lang, work / stage, name=hdl.top_name(spec))
    return "ok"


class Mismatch(Exception):
    """The two models of a spec that checked ok disagree."""


def run_backend(path: Path, spec: Spec, files: dict, timeout: float, work: Path) -> tuple[dict, str]:
    """Every back-end stage in turn, each under its own alarms, until one fails; returns
    (stage -> status, the problem of the failing stage or "")."""
    results: dict[str, str] = {}
    for stage in BACKEND_STAGES:
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), alarms(timeout):
                results[stage] = backend_stage(stage, spec, files, work)
        except Hang as exc:
            _reset_simulator()
            results[stage] = "hang"
            return results, f"{stage}: no answer within {timeout} s of {exc}"
        except SpecError as exc:
            results[stage] = "refused"
            return results, "" if re.search(r"error\[E\d{4}\]", exc.bag.render()) else f"{stage}: uncoded refusal"
        except Mismatch as exc:
            results[stage] = "mismatch"
            return results, f"{stage}: {exc}"
        except BaseException:  # noqa: B036 - anything escaping a stage is the finding
            _reset_simulator()
            results[stage] = "traceback"
            return results, f"{stage}: exception:\n{traceback.format_exc()}"
        text = out.getvalue() + err.getvalue()
        if "Traceback (most recent call last)" in text:
            results[stage] = "traceback"
            return results, f"{stage}: 'Traceback' in the output:\n{text[-4000:]}"
    return results, ""


def _reset_simulator() -> None:
    """A simulation stopped by an alarm leaves MyHDL's module-level state behind; clear it
    so that the next input's simulation starts clean."""
    from myhdl import _simulator
    for name in ("_signals", "_siglist", "_futureEvents"):
        lst = getattr(_simulator, name, None)
        if isinstance(lst, list):
            del lst[:]


def run_one(path: Path, timeout: float, backend: Path | None = None, backend_timeout: float = 60.0) -> Outcome:
    """Check one spec file with the real command line, then render it when it is ok; with
    `backend` (a scratch folder), then generate, co-simulate and convert it."""
    out, err = io.StringIO(), io.StringIO()
    stage = "check"
    spec = files = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), alarms(timeout):
            status = check_status(path)
            rendered = False
            if status == 0:
                stage = "render"
                try:
                    spec = compile_spec(path)
                    files = emit.render(spec)
                    rendered = True
                except SpecError as exc:  # an emitter refused the spec (E05xx): `generate` reports it, status 1
                    status = 1
                    print(exc.bag.render(), file=sys.stderr)
    except Hang as exc:
        return Outcome("hang", f"no answer within {timeout} s of {exc} during {stage}")
    except SystemExit as exc:
        return Outcome(exc.code if isinstance(exc.code, int) else "traceback", f"SystemExit({exc.code!r})")
    except BaseException:  # noqa: B036 - anything escaping main is the finding
        return Outcome("traceback", f"exception during {stage}:\n{traceback.format_exc()}")
    text = out.getvalue() + err.getvalue()
    if "Traceback (most recent call last)" in text:
        return Outcome("traceback", f"'Traceback' in the output:\n{text[-4000:]}")
    if status not in (0, 1, 2):
        return Outcome(status, f"exit status {status!r}:\n{text[-4000:]}")
    bad = uncoded_lines(err.getvalue())
    if bad or (status == 1 and not re.search(r"^\S.*: error\[E\d{4}\]: ", err.getvalue(), re.M)):
        return Outcome(status, "uncoded:" + ("\n".join(bad[:5]) or " status 1 without a coded error"), rendered)
    if rendered and backend is not None:
        results, problem = run_backend(path, spec, files, backend_timeout, backend)
        return Outcome(status, problem and f"back end: {problem}", rendered, results)
    return Outcome(status, "", rendered)


@dataclass
class Tally:
    inputs: Counter = field(default_factory=Counter)
    statuses: dict = field(default_factory=dict)  # family -> Counter of statuses
    tracebacks: Counter = field(default_factory=Counter)
    hangs: Counter = field(default_factory=Counter)
    odd_status: Counter = field(default_factory=Counter)
    uncoded: Counter = field(default_factory=Counter)
    rendered: Counter = field(default_factory=Counter)
    backend: dict = field(default_factory=lambda: {st: Counter() for st in BACKEND_STAGES})  # stage -> statuses
    backend_seconds: float = 0.0
    backend_every: int = 1  # the sample of inputs that checked ok run through the back end (0: none)
    seconds: float = 0.0
    failures: list = field(default_factory=list)  # (family, index, problem, saved path)

    @property
    def total(self) -> int:
        return sum(self.inputs.values())

    def as_json(self) -> dict:
        return {"inputs": dict(self.inputs), "total": self.total,
                "statuses": {f: {str(k): v for k, v in c.items()} for f, c in self.statuses.items()},
                "tracebacks": sum(self.tracebacks.values()), "hangs": sum(self.hangs.values()),
                "odd_statuses": sum(self.odd_status.values()), "uncoded": sum(self.uncoded.values()),
                "rendered": sum(self.rendered.values()), "seconds": round(self.seconds, 2),
                "backend": {st: dict(c) for st, c in self.backend.items()},
                "backend_tracebacks": sum(c["traceback"] for c in self.backend.values()),
                "backend_hangs": sum(c["hang"] for c in self.backend.values()),
                "backend_mismatches": sum(c["mismatch"] for c in self.backend.values()),
                "backend_seconds": round(self.backend_seconds, 2), "backend_every": self.backend_every,
                "inputs_per_s": round(self.total / self.seconds, 1) if self.seconds else None,
                "failures": [{"family": f, "index": i, "problem": p.splitlines()[0] if p else "", "saved": s}
                             for f, i, p, s in self.failures]}


def inputs(count: int, seed: int, families=FAMILIES):
    """(index, family, file name, bytes) for `count` inputs, deterministic in `seed`."""
    rng = random.Random(seed)
    weights = [WEIGHTS[FAMILIES.index(f)] for f in families]
    for i in range(count):
        family = rng.choices(families, weights)[0]
        sub = random.Random(rng.getrandbits(64))  # one input's draws do not shift the next one's
        if family == "bytes":
            yield i, family, FUZZ_NAME, gen_bytes(sub)
        elif family == "tokens":
            yield i, family, FUZZ_NAME, gen_tokens(sub)
        elif family == "mutations":
            name, data = gen_mutation(sub)
            yield i, family, name, data
        else:
            yield i, family, FUZZ_NAME, gen_stress(sub)


def fuzz(count: int, seed: int, timeout: float = 5.0, save: Path | None = None, families=FAMILIES,
         progress=None, backend: bool = True, backend_timeout: float = 60.0, backend_every: int = 1) -> Tally:
    """Run `count` inputs; failing ones are saved under `save` (input and report). With
    `backend`, the inputs that check ok also go through generate, cosim and convert: all
    of them, or with `backend_every` N, the 1st, (N+1)th, (2N+1)th... of them (a
    deterministic sample: the same seed picks the same inputs)."""
    tally = Tally(backend_every=backend_every if backend else 0)
    checked_ok = 0
    work = Path(tempfile.mkdtemp(prefix="virtspec-fuzz-"))
    try:
        (work / "shared").mkdir()
        for name, data in {**SHIPPED, **SHARED}.items():
            (work / name).write_bytes(data)
        begin = time.perf_counter()
        for i, family, name, data in inputs(count, seed, families):
            path = work / name
            path.write_bytes(data)
            t0 = time.perf_counter()
            pick = backend and _sampled(checked_ok, backend_every)
            outcome = run_one(path, timeout, work / "backend" if pick else None, backend_timeout)
            checked_ok += outcome.rendered
            if outcome.backend:
                tally.backend_seconds += time.perf_counter() - t0
            for stage, status in outcome.backend.items():
                tally.backend[stage][status] += 1
            path.write_bytes(SHIPPED.get(name, b""))  # other inputs import the shipped files
            tally.inputs[family] += 1
            tally.statuses.setdefault(family, Counter())[str(outcome.status)] += 1
            tally.rendered[family] += outcome.rendered
            if outcome.status == "traceback":
                tally.tracebacks[family] += 1
            elif outcome.status == "hang":
                tally.hangs[family] += 1
            elif outcome.status not in (0, 1, 2):
                tally.odd_status[family] += 1
            elif outcome.problem.startswith("uncoded"):
                tally.uncoded[family] += 1
            if outcome.problem:
                saved = _save(save, seed, i, family, name, data, outcome.problem) if save else None
                tally.failures.append((family, i, outcome.problem, saved))
            if progress:
                progress(i + 1, count)
        tally.seconds = time.perf_counter() - begin
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tally


def _sampled(checked_ok: int, every: int) -> bool:
    """Whether the next input that checks ok goes through the back end: every `every`th."""
    return checked_ok % max(1, every) == 0


def _save(directory: Path, seed: int, index: int, family: str, name: str, data: bytes, problem: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"seed{seed}-{index:06d}-{family}"
    (directory / f"{stem}.vspec").write_bytes(data)
    (directory / f"{stem}.txt").write_text(f"input {index} of seed {seed}, family {family}, run as {name} "
                                           f"next to the shipped specs\n\n{problem}\n")
    return str(directory / f"{stem}.vspec")


def summary(tally: Tally) -> str:
    rows = [("family", "inputs", "status 0", "status 1", "status 2", "rendered", "tracebacks", "hangs",
             "other status", "uncoded")]
    fams = [f for f in FAMILIES if tally.inputs[f]]
    for f in fams + ["total"]:
        pick = (lambda c: c[f]) if f != "total" else (lambda c: sum(c[x] for x in fams))
        st = tally.statuses.get(f, Counter()) if f != "total" else sum(tally.statuses.values(), Counter())
        rows.append((f, str(pick(tally.inputs)), str(st["0"]), str(st["1"]), str(st["2"]), str(pick(tally.rendered)),
                     str(pick(tally.tracebacks)), str(pick(tally.hangs)), str(pick(tally.odd_status)),
                     str(pick(tally.uncoded))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if any(tally.backend.values()):
        cols = ("ok", "refused", "mismatch", "traceback", "hang")
        back = [("back end",) + cols] + [(st,) + tuple(str(tally.backend[st][c]) for c in cols)
                                         for st in BACKEND_STAGES]
        bw = [max(len(r[i]) for r in back) for i in range(len(back[0]))]
        lines.append("")
        lines += ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, bw))) for r in back]
        sample = "all of them" if tally.backend_every <= 1 else \
            f"a deterministic sample: every {tally.backend_every}th input that checked ok"
        lines.append(f"back end: {sum(tally.backend['generate'].values())} inputs ({sample}), "
                     f"{tally.backend_seconds:.1f} s")
    rate = tally.total / tally.seconds if tally.seconds else 0.0
    lines.append(f"{tally.total} inputs in {tally.seconds:.1f} s ({rate:,.0f} inputs/s)")
    for family, i, problem, saved in tally.failures[:20]:
        lines.append(f"FAIL {family} #{i}: {problem.splitlines()[0] if problem else ''}"
                     + (f" (saved: {saved})" if saved else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m codegen.bench.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=10_000, help="how many inputs to run (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the inputs; a run is reproduced by it (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="CPU seconds per input before it counts as a hang (default: %(default)s)")
    p.add_argument("--no-backend", dest="backend", action="store_false",
                   help="the front end only: no generate, cosim or convert of the inputs that check ok")
    p.add_argument("--backend-timeout", type=float, default=60.0,
                   help="CPU seconds per back-end stage of an input before it counts as a hang "
                        "(default: %(default)s)")
    p.add_argument("--backend-every", type=int, default=1, metavar="N",
                   help="run only every Nth input that checks ok through the back end, a deterministic "
                        "sample (default: %(default)s, all of them)")
    p.add_argument("--family", action="append", choices=FAMILIES, help="only these families (repeatable)")
    p.add_argument("--save", default="fuzz-failures", help="where failing inputs are written (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none either when standard error is not a terminal)")
    args = p.parse_args(argv)
    if args.backend_every < 1:
        p.error(f"--backend-every: expected a count of at least 1, not {args.backend_every}")
    if args.inputs < 1:
        p.error(f"--inputs: expected a count of at least 1, not {args.inputs}")
    families = tuple(args.family) if args.family else FAMILIES
    with Progress(args.inputs, "fuzz", "inputs", quiet=args.quiet) as progress:
        tally = fuzz(args.inputs, args.seed, args.timeout, Path(args.save), families, progress, args.backend,
                     args.backend_timeout, args.backend_every)
    print(json.dumps(tally.as_json(), sort_keys=True) if args.json else summary(tally))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
