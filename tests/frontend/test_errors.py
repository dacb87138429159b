"""tests/errors/: one bad spec per diagnostic code, with the exact output pinned.

Each `tests/errors/CODE.vspec` starts with a directive line

    // expect: CODE at LINE:COL [run: generate] [pad-to: BYTES] [pad-tokens: N] [werror] [after: PATH]

(`after: PATH` names a spec of tests/errors/ given before it on the same command line,
for an error between two specs of one run), and `tests/errors/CODE.expected` holds the exact stderr of the command, run from the
repository root. The test asserts that the catalogue and the folder agree (one file per
code), that the first diagnostic has the expected code at the expected location, the exit
status, and the whole pinned output. Set VIRTSPEC_UPDATE_EXPECTED=1 to rewrite the
.expected files after a deliberate change of wording, then review the diff.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from codegen.cli import main
from codegen.frontend import catalogue

ROOT = Path(__file__).resolve().parents[2]
ERRORS = ROOT / "tests" / "errors"
DIRECTIVE = re.compile(r"^// expect: (?P<code>[EW]\d{4}) at (?P<line>\d+):(?P<col>\d+)(?P<rest>.*)$")
FIRST = re.compile(r"^(?P<path>[^\n]*?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[EW]\d{4})\]")
CODES = sorted(catalogue.entries())


def test_one_bad_spec_per_code_and_no_strays():
    files = {p.stem for p in ERRORS.glob("*.vspec")}
    assert sorted(files) == CODES


def _directive(path: Path) -> dict:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    m = DIRECTIVE.match(first)
    assert m, f"{path.name}: first line must be '// expect: CODE at LINE:COL ...'"
    rest = m["rest"]
    pad = re.search(r"pad-to: (\d+)", rest)
    tokens = re.search(r"pad-tokens: (\d+)", rest)
    after = re.search(r"after: (\S+)", rest)
    return {"after": (ERRORS / after[1]).relative_to(ROOT).as_posix() if after else None,
            "code": m["code"], "line": int(m["line"]), "col": int(m["col"]),
            "generate": "run: generate" in rest, "werror": "werror" in rest,
            "pad": int(pad[1]) if pad else None, "pad_tokens": int(tokens[1]) if tokens else None}


def _run(path: Path, d: dict, tmp_path: Path) -> tuple[int, str, str]:
    """Run the command from the repository root; return (status, stderr, shown path)."""
    shown = path.relative_to(ROOT).as_posix()
    if d["pad"] or d["pad_tokens"]:  # a file too large to check in: pad a copy
        big = tmp_path / path.name
        data = path.read_bytes()
        if d["pad"]:  # past a size in bytes, with comment lines
            line = b"// padding padding padding padding padding padding padding\n"
            big.write_bytes(data + line * ((d["pad"] - len(data)) // len(line) + 1))
        else:  # past a number of tokens, with 5-token declarations
            big.write_bytes(data + b"param PAD = 1;\n" * (d["pad_tokens"] // 5 + 1))
        shown = str(big)
    argv = ["generate", "--output", str(tmp_path / "out")] if d["generate"] else ["check"]
    argv += ["--Werror"] if d["werror"] else []
    argv += [d["after"]] if d["after"] else []
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(argv + [shown])
    finally:
        os.chdir(cwd)
    text = err.getvalue()
    if d["pad"] or d["pad_tokens"]:
        text = text.replace(shown, f"<tmp>/{path.name}")
    return status, text, shown


@pytest.mark.parametrize("code", CODES)
def test_pinned_output(code, tmp_path):
    path = ERRORS / f"{code}.vspec"
    if not path.exists():
        pytest.fail(f"tests/errors/{code}.vspec is missing")
    d = _directive(path)
    assert d["code"] == code
    status, stderr, _ = _run(path, d, tmp_path)
    assert "Traceback" not in stderr
    first = next((FIRST.match(line) for line in stderr.splitlines() if FIRST.match(line)), None)
    assert first is not None, stderr
    assert (first["code"], int(first["line"]), int(first["col"])) == (code, d["line"], d["col"]), stderr
    is_error = code.startswith("E") or d["werror"]
    assert status == (1 if is_error else 0)
    expected = ERRORS / f"{code}.expected"
    if os.environ.get("VIRTSPEC_UPDATE_EXPECTED"):
        expected.write_text(stderr)
    assert expected.exists(), f"pin the output: VIRTSPEC_UPDATE_EXPECTED=1 pytest {__file__}"
    assert stderr == expected.read_text()


@pytest.mark.parametrize("code", CODES)
def test_explain(code, capsys):
    assert main(["explain", code]) == 0
    out = capsys.readouterr().out
    entry = catalogue.lookup(code)
    assert out.startswith(f"{code} ({entry.severity}): {entry.summary}\n\n")
    assert len(entry.explanation) > 80  # a real explanation, not a restated summary


def test_explain_lists_every_code_and_refuses_unknown_ones(capsys):
    assert main(["explain"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == CODES
    assert main(["explain", "E9999"]) == 2
    assert "unknown diagnostic code 'E9999'" in capsys.readouterr().err
    assert main(["explain", "e0402"]) == 0  # case does not matter


def test_catalogue_matches_the_codes_the_tool_reports():
    """Every code written in codegen/ is catalogued, and every catalogued code is reported
    somewhere (so neither list rots)."""
    source = "".join(p.read_text() for p in (ROOT / "codegen").rglob("*.py"))
    used = set(re.findall(r'"([EW]\d{4})"', source))
    assert used - set(CODES) == set(), "codes missing from codegen/frontend/catalogue.toml"
    assert set(CODES) - used == set(), "catalogued codes nothing reports"


def test_shipped_specs_have_no_warnings_beyond_the_waived_ones(capsys):
    assert main(["check", "--Werror"]) == 0
    assert "warning" not in capsys.readouterr().err


THREE_CHECK_ERRORS = """\
spec toy_paging;
register PTBR : 64 { BASE [39:12]; }
format pte : 64 {
    V [0];
    W [1];
    A [5];
    ADDR [71:12];
}
format big : 64 {
    V [0];
    W [1];
    A [5];
    G [5];
    ADDR [39:21];
}
regime toy {
    input va : 30;
    access write;
    context PTBR;
    entry 8;
    root PTBR.BASE << 12;
    start level 2;
    pointer ADDR;
    frame ADDR;
    level 2 top { index va[29:21]; table pte; leaf big when W page 2M; }
    level 2 bottom { index va[20:12]; leaf pte page 4K; }
    fault invalid when !V;
    record fault_info { code : 8 = fault; }
}
"""


def test_all_errors_of_the_check_stage_are_reported_together_in_source_order(tmp_path):
    """A field past the width, an overlap and a duplicate level are independent: one run
    reports the three, in the order of the file."""
    path = tmp_path / "three.vspec"
    path.write_text(THREE_CHECK_ERRORS)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["check", str(path)])
    found = [FIRST.match(line) for line in err.getvalue().splitlines() if FIRST.match(line)]
    lines = THREE_CHECK_ERRORS.splitlines()
    expected = [("E0401", "ADDR [71:12];"), ("E0402", "G [5];"), ("E0201", "level 2 bottom")]
    assert status == 1 and err.getvalue().endswith("3 errors found\n"), err.getvalue()
    assert [(m["code"], int(m["line"])) for m in found] == [
        (code, next(i for i, text in enumerate(lines, 1) if needle in text)) for code, needle in expected]
    assert [int(m["line"]) for m in found] == sorted(int(m["line"]) for m in found)
