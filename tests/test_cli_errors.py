"""Broken specs through the command line: diagnostics and exit status 1, never a traceback;
usage errors exit 2. Then a fuzz test: whatever the input, the front end either compiles
it or raises SpecError with diagnostics, never another exception."""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snippets import WALK, edit, where

from codegen.cli import main
from codegen.frontend.diagnostics import DiagnosticBag, SpecError
from codegen.frontend.pipeline import compile_spec

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {p.name: p.read_text() for p in sorted((ROOT / "specs").glob("*.vspec"))}

# The list: each broken spec, and the code its first error must have.
BROKEN = {
    "unknown_field": (edit(WALK, "when !P;", "when !RWW;"), "E0301"),
    "overlapping_fields": (edit(WALK, "    D [6];", "    D [6:5];"), "E0402"),
    "syntax_error": (edit(WALK, "entry 8;", "entry 8"), "E0100"),
    "empty_file": ("", "E0101"),
    "binary_file": (bytes(range(256)) * 4, "E0003"),
    "ten_mb_file": (None, "E0002"),
}


def broken_file(tmp_path: Path, kind: str) -> Path:
    text, _ = BROKEN[kind]
    path = tmp_path / f"{kind}.vspec"
    if text is None:  # 10 MB of plausible text
        line = b"param P = 1; // padding padding padding padding\n"
        path.write_bytes(b"spec big;\n" + line * (10 * 1024 * 1024 // len(line) + 1))
    elif isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def error_lines(stderr: str, path: Path) -> list[tuple[int, int, str]]:
    """(line, col, code) of each `path:line:col: error[CODE]: message` line about `path`
    (shown relative to the working directory when it is inside it)."""
    pattern = re.compile(rf"^(?:.*/)?{re.escape(path.name)}:(\d+):(\d+): error\[(E\d{{4}})\]: \S")
    return [(int(m[1]), int(m[2]), m[3]) for m in map(pattern.match, stderr.splitlines()) if m]


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_spec_through_the_cli_script(tmp_path, kind):
    path = broken_file(tmp_path, kind)
    run = subprocess.run([sys.executable, "cli.py", "check", str(path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    found = error_lines(run.stderr, path)
    assert found and found[0][2] == BROKEN[kind][1], run.stderr
    assert re.search(r"^\d+ errors? found$", run.stderr, re.M)
    assert run.stdout == ""


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_spec_through_main(tmp_path, capsys, kind):
    path = broken_file(tmp_path, kind)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and error_lines(err, path)[0][2] == BROKEN[kind][1]


def test_locations_reach_the_command_line(tmp_path, capsys):
    path = broken_file(tmp_path, "unknown_field")
    main(["check", str(path)])
    err = capsys.readouterr().err
    line, col = where(BROKEN["unknown_field"][0], "RWW;")
    assert error_lines(err, path) == [(line, col, "E0301")]
    assert "undefined name 'RWW'; did you mean 'RW'?" in err


def test_every_file_is_checked_and_good_ones_still_pass(tmp_path, capsys):
    bad = broken_file(tmp_path, "overlapping_fields")
    good = tmp_path / "good.vspec"
    good.write_text(WALK)
    assert main(["check", str(bad), str(good)]) == 1
    out, err = capsys.readouterr()
    assert "good.vspec: ok" in out and error_lines(err, bad)


def test_generate_and_dump_report_spec_errors_with_status_1(tmp_path, capsys):
    path = broken_file(tmp_path, "syntax_error")
    assert main(["generate", "--check", str(path)]) == 1
    assert main(["dump", str(path)]) == 1
    err = capsys.readouterr().err
    assert len(error_lines(err, path)) == 2 and "Traceback" not in err


# ---- usage errors: exit status 2
def test_no_such_file_is_a_usage_error(tmp_path, capsys):
    assert main(["check", str(tmp_path / "absent.vspec")]) == 2
    assert "no such spec file" in capsys.readouterr().err


def test_a_directory_is_a_usage_error_that_says_so(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert f"'{tmp_path}' is a directory; name the spec files in it" in capsys.readouterr().err


def test_a_pipe_is_a_usage_error_and_is_not_opened(tmp_path, capsys):
    """Opening a named pipe would block until a writer comes: it must not be read."""
    import os
    os.mkfifo(tmp_path / "pipe.vspec")
    assert main(["check", str(tmp_path / "pipe.vspec")]) == 2
    assert "is not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["x" * 5000, "a/" * 3000 + "b.vspec"])
def test_a_file_name_too_long_is_a_usage_error_not_a_traceback(capsys, name):
    """Was: OSError (File name too long) from Path.is_file escaped main."""
    assert main(["check", name]) == 2
    err = capsys.readouterr().err
    assert "cannot use" in err and "File name too long" in err and len(err) < 1000


@pytest.mark.parametrize("argv", [["check", "--no-such-option"], ["no-such-command"], []])
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


@pytest.mark.parametrize("argv", [["check", "no/such/file.vspec"], ["check", "--bogus"]])
def test_usage_errors_through_the_cli_script(argv):
    run = subprocess.run([sys.executable, "cli.py", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "usage: virtspec" in run.stderr


# ---- fuzzing: compile_spec succeeds or raises SpecError, nothing else
def _grammar_tokens() -> list[str]:
    """The keywords and punctuation of the grammar (its quoted literals), plus a few names,
    numbers, strings and comment pieces."""
    rules = [ln for ln in (ROOT / "grammar" / "vspec.lark").read_text().splitlines()
             if not re.match(r"\s*[A-Z_]+\s*:", ln) and not ln.lstrip().startswith("//")]
    literals = set(re.findall(r'"([^"\s\\]+)"', "\n".join(rules)))
    assert {"spec", "regime", "level", ";", "{", "<<", "||"} <= literals
    return sorted(literals) + ["P", "va", "x", "CR3", "access", "leaf", "host", "0", "1", "64", "0x1f", "4K",
                               "12", '"doc"', '"x86_64_paging.vspec"', "//c\n", "/*", "*/", "\n"]


TOKENS = _grammar_tokens()
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def assert_front_end_copes(text: str | bytes, name: str = "fuzz.vspec") -> None:
    """Compile `text` next to the shipped specs: success, or SpecError with well-formed
    diagnostics. Any other exception fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        for other, body in SHIPPED.items():
            (Path(tmp) / other).write_text(body)
        path = Path(tmp) / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        bag = DiagnosticBag()
        try:
            compile_spec(path, bag)
        except SpecError:
            assert bag.errors
            for d in bag.errors:
                assert re.fullmatch(r"E\d{4}", d.code) and d.span.line >= 1 and d.span.col >= 1
            rendered = bag.render()
            assert rendered.count("error[") == len(bag.errors)


@FUZZ
@given(st.text(max_size=400))
def test_fuzz_random_text(text):
    assert_front_end_copes(text)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data):
    assert_front_end_copes(data)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=80))
def test_fuzz_random_token_sequences(tokens):
    assert_front_end_copes(" ".join(tokens))


@st.composite
def mutated_spec(draw):
    """A shipped spec with 1 to 3 random edits: a character replaced, inserted or deleted,
    a line deleted or duplicated."""
    name = draw(st.sampled_from(sorted(SHIPPED)))
    text = SHIPPED[name]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "delete_line", "duplicate_line"]))
        if kind in ("replace", "insert", "delete"):
            at = draw(st.integers(0, len(text) - 1))
            char = draw(st.sampled_from(list("[]{}():;=.,!~-+*/%<>&|^?\"_ \n0123456789xKGPAaz")) | st.characters())
            keep = at + (0 if kind == "insert" else 1)
            text = text[:at] + ("" if kind == "delete" else char) + text[keep:]
        else:
            lines = text.split("\n")
            at = draw(st.integers(0, len(lines) - 1))
            lines[at:at + 1] = [] if kind == "delete_line" else [lines[at], lines[at]]
            text = "\n".join(lines)
    return name, text


@pytest.mark.slow
@FUZZ
@given(mutated_spec())
def test_fuzz_mutated_shipped_specs(case):
    name, text = case
    assert_front_end_copes(text, name)


@settings(FUZZ, max_examples=40)
@given(mutated_spec())
def test_fuzz_a_few_mutated_shipped_specs(case):
    """The fast sibling of the test above (`-m "not slow"` keeps it): 40 mutants, not 200;
    each compiles a whole shipped spec."""
    name, text = case
    assert_front_end_copes(text, name)
