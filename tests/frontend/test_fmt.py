"""`virtspec fmt`: the canonical layout, and what it must never change (tokens, comments,
the parsed AST), on the shipped specs, hand-made messy specs and generated variants."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.cli import main
from codegen.frontend import fmt
from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.parse import parse_text

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = sorted((ROOT / "specs").glob("*.vspec")) + sorted((ROOT / "tests" / "data").glob("*.vspec"))
SMALL = [p for p in SPEC_FILES if p.stat().st_size < 4000] + [ROOT / "specs" / "amd_npt.vspec"]
PROPS = settings(max_examples=40, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fmt_text(text: str) -> str:
    bag = DiagnosticBag()
    out = fmt.format_text(text, "t.vspec", bag)
    assert out is not None, bag.render()
    return out


def shape(text: str):
    bag = DiagnosticBag()
    spec = parse_text(text, "t.vspec", bag)
    assert spec is not None, bag.render()
    return fmt.ast_shape(spec)


def comments(text: str) -> Counter:
    """Comment texts (trailing white space of each line aside: the formatter drops it)."""
    return Counter(c.text for c in fmt._items(text) if c.comment)


def check_properties(text: str) -> str:
    """Format `text` and check every property; return the formatted text."""
    out = fmt_text(text)
    assert fmt_text(out) == out, "not idempotent"
    assert shape(out) == shape(text), "the AST changed"
    assert comments(out) == comments(text), "a comment changed"
    assert out.endswith("\n") and not out.endswith("\n\n")
    assert not re.search(r"[ \t]+$", out, re.M), "trailing white space"
    assert "\n\n\n" not in out
    assert "\t" not in "".join(re.sub(r'"([^"\\]|\\.)*"|//.*|/\*(.|\n)*?\*/', "", out))
    return out


# ---- the shipped specs -----------------------------------------------------------------

@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_shipped_spec_is_a_fixed_point(path):
    text = path.read_text()
    assert fmt_text(text) == text, f"run `virtspec fmt {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_shipped_spec_squashed_keeps_ast_and_comments(path):
    """Every line indented differently and every space doubled: the layout comes back."""
    text = path.read_text()
    messy = _respace_outside_literals(text, lambda gap, nl: gap.replace(" ", "  ").replace("\n", "  \n\t "))
    out = check_properties(messy)
    assert out == fmt_text(text)


def _respace_outside_literals(text: str, change) -> str:
    """Replace each white-space gap between the tokens and comments of `text` by
    change(gap, nl); nl: the gap must keep a line break (it ends a line comment)."""
    parts, pos, nl = [], 0, False
    for it in fmt._items(text):
        parts += [change(text[pos:it.start], nl), text[it.start:it.end]]
        pos, nl = it.end, it.comment == "line"
    parts.append(change(text[pos:], nl))
    return "".join(parts)


# ---- layout ------------------------------------------------------------------------------

MESSY = """\
/* header
   block */   // and a line
spec   x cite"a"   "b" ;


import "toy.vspec" as t with {   // why
  P=1 ;   Q = -2;
};
param   A=(1+2)*3 ; param B = - A ;   // trailing
param C = ! ( A&&B ) ? ~A : A<<2>>1;
register R:64{BASE[A-1 : 12]; // field comment
    /* before X */ X [ 3 ] "x" ;

    // para


    Y[5:4];
    }
register E : 8 { }
regime r{

  input va:30; access write , user;
  context R ,E;
  level 1 l { index va[ 20 : 12 ]; leaf pte when
      L &&
        (A ||
    B)
    page 4K; }
  let z = a[b+1] + a[(c+1):0] + (a+b)[3:0] + 0x4_00 + 2M;
  fault f when x // mid
     && y;

}
unit u {
    walk io : t.toy input event.addr access {
        write = event.write;
    } with { PTBR = 1; } when 1;
    exit e when 1 { }
}
// end


"""

MESSY_FORMATTED = """\
/* header
   block */ // and a line
spec x cite "a" "b";

import "toy.vspec" as t with { // why
    P = 1;
    Q = -2;
};
param A = (1 + 2) * 3;
param B = -A; // trailing
param C = !(A && B) ? ~A : A << 2 >> 1;
register R : 64 {
    BASE [A-1:12]; // field comment
    /* before X */ X [3] "x";

    // para

    Y [5:4];
}
register E : 8 {
}
regime r {
    input va : 30;
    access write, user;
    context R, E;
    level 1 l {
        index va[20:12];
        leaf pte when
            L &&
                (A ||
                    B)
            page 4K;
    }
    let z = a[b + 1] + a[(c+1):0] + (a + b)[3:0] + 0x4_00 + 2M;
    fault f when x // mid
        && y;
}
unit u {
    walk io : t.toy input event.addr access {
        write = event.write;
    } with { PTBR = 1; } when 1;
    exit e when 1 {
    }
}
// end
"""


def test_messy_spec_layout():
    assert check_properties(MESSY) == MESSY_FORMATTED


def test_one_item_per_line_and_spacing():
    src = 'spec t; register CR3:64{BASE[47:12];PWT[3]"write-through";} regime w{level 2 pd{index va[29:21];table pde;}}\n'
    assert fmt_text(src) == (
        "spec t;\n"
        "register CR3 : 64 {\n"
        "    BASE [47:12];\n"
        '    PWT [3] "write-through";\n'
        "}\n"
        "regime w {\n"
        "    level 2 pd {\n"
        "        index va[29:21];\n"
        "        table pde;\n"
        "    }\n"
        "}\n")


def test_an_instance_that_adds_a_record_opens_its_block_out():
    """A binding list stays on one line as written; an instance's `with` block that holds a
    record (a block of its own) is opened out, one item per line."""
    src = ("spec t; regime g = w with { A = B; };\n"
           "regime h = w with { fault e when error; record r { a : 64 = read_address; } };\n")
    assert fmt_text(src) == (
        "spec t;\n"
        "regime g = w with { A = B; };\n"
        "regime h = w with {\n"
        "    fault e when error;\n"
        "    record r {\n"
        "        a : 64 = read_address;\n"
        "    }\n"
        "};\n")


def test_pointer_and_frame_maps_are_spaced_like_operators():
    src = ("spec t; regime w{pointer PPN<<12;frame ADDR|HI<<(32);"
           "level 2 pd{index va[29:21];leaf big when PS page 2M frame ADDR|HI<<32;}}\n")
    assert check_properties(src) == (
        "spec t;\n"
        "regime w {\n"
        "    pointer PPN << 12;\n"
        "    frame ADDR | HI << (32);\n"
        "    level 2 pd {\n"
        "        index va[29:21];\n"
        "        leaf big when PS page 2M frame ADDR | HI << 32;\n"
        "    }\n"
        "}\n")


def test_parentheses_and_numbers_are_kept():
    out = fmt_text("spec t; param A = ((0x400)) ; param B = (1+(2*3)) - -1 - (-(1));\n")
    assert out == "spec t;\nparam A = ((0x400));\nparam B = (1 + (2 * 3)) - -1 - (-(1));\n"


def test_continuation_lines_are_indented_by_bracket_depth():
    src = ("spec t;\nregime r {\n"
           "let a = x && (y\n|| z && (p\n|| q))\ncite \"c\";\n"
           "}\n")
    assert fmt_text(src) == ("spec t;\nregime r {\n"
                             "    let a = x && (y\n"
                             "            || z && (p\n"
                             "                || q))\n"
                             '        cite "c";\n'
                             "}\n")


def test_breaks_next_to_glued_tokens_are_joined():
    assert fmt_text("spec t; param A = (\n1 + B\n)\n;\n") == "spec t;\nparam A = (1 + B);\n"


def test_block_comment_inner_lines_are_verbatim():
    src = "spec t;\n        /* one\n     two   \n three */ param A = 1;\n"
    assert fmt_text(src) == "spec t;\n/* one\n     two\n three */ param A = 1;\n"


def test_blank_lines_at_block_edges_are_dropped():
    src = "\n\nspec t;\n\n\n\nformat f : 8 {\n\n    A [0];\n\n}\n\n\n"
    assert fmt_text(src) == "spec t;\n\nformat f : 8 {\n    A [0];\n}\n"


def test_crlf_and_tabs():
    assert fmt_text("spec t;\r\nformat f : 8 {\r\n\tA [0];\t// x\r\n}\r\n") == \
        "spec t;\nformat f : 8 {\n    A [0]; // x\n}\n"


# ---- properties on generated variants -------------------------------------------------

GAPS = st.sampled_from([" ", "  ", "\t", "\n", "\n\n", " \n   ", "\n\n\n\t", "\r\n"])


@PROPS
@given(st.sampled_from(SMALL), st.data())
def test_respaced_spec_properties(path, data):
    """Random white space between the tokens of a spec: the properties hold."""
    messy = _respace_outside_literals(
        path.read_text(), lambda gap, nl: ("\n" if nl else "") + data.draw(GAPS if gap else st.sampled_from(["", " "])))
    check_properties(messy)


@PROPS
@given(st.sampled_from(SMALL), st.data())
def test_horizontal_space_does_not_matter(path, data):
    """With the same line breaks, any spaces and tabs give the same output."""
    text = path.read_text()
    space = st.sampled_from([" ", "\t ", "   "])

    def change(gap, nl):
        breaks = "".join(data.draw(space) + "\n" for _ in range(gap.count("\n")))
        return breaks + data.draw(space) if gap else ""
    messy = _respace_outside_literals(text, change)
    assert fmt_text(messy) == fmt_text(text)


@PROPS
@given(st.sampled_from(SMALL), st.data())
def test_comments_anywhere_are_kept(path, data):
    """A comment in random gaps between tokens (line comments end their line)."""
    text = path.read_text()
    counter = iter(range(10**6))

    def change(gap, nl):
        if data.draw(st.integers(0, 9)) != 0:
            return gap
        n = next(counter)
        comment = data.draw(st.sampled_from([f" // c{n}\n", f" /* c{n} */ ", f"\n/* c{n}\n  more */\n", f"\n\n// c{n}\n\n"]))
        return ("\n" if nl else "") + comment

    messy = _respace_outside_literals(text, change)
    out = check_properties(messy)
    assert sum(comments(out).values()) == sum(comments(text).values()) + next(counter)


OPS = ["||", "&&", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=", "<<", ">>", "+", "-", "*", "/", "%"]


@st.composite
def expressions(draw, depth=0):
    """Expression text with random parentheses and spacing."""
    sp = lambda: draw(st.sampled_from(["", " ", "  ", "\n"]))  # noqa: E731
    if depth > 3 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(["1", "0x1F", "0b10", "4K", "x", "a.b", "y[3]", "z[7:4]", "w[i+1:0]"]))
    kind = draw(st.sampled_from(["bin", "bin", "un", "par", "cond", "bit"]))
    a = draw(expressions(depth + 1))
    if kind == "bin":
        return a + sp() + draw(st.sampled_from(OPS)) + sp() + draw(expressions(depth + 1))
    if kind == "un":
        return draw(st.sampled_from(["!", "~", "-"])) + sp() + "(" + a + ")"
    if kind == "par":
        return "(" + sp() + a + sp() + ")"
    if kind == "bit":
        return "(" + a + ")[" + sp() + draw(expressions(depth + 1)) + sp() + "]"
    return "(" + a + sp() + "?" + sp() + draw(expressions(depth + 1)) + sp() + ":" + sp() + draw(expressions(depth + 1)) + ")"


@PROPS
@given(expressions(), expressions())
def test_expression_properties(e1, e2):
    out = check_properties(f"spec t;\nparam P = {e1};\nformat f : 64 {{ A [{e2}:0]; }}\n")
    assert not any("  " in line.lstrip() for line in out.split("\n"))  # single spaces only
    assert out.count("(") == (e1 + e2).count("(")  # parentheses kept, none added


@settings(max_examples=150, deadline=None, database=None)
@given(st.text(max_size=300))
def test_never_a_traceback(text):
    bag = DiagnosticBag()
    out = fmt.format_text(text, "t.vspec", bag)
    assert (out is None) == bool(bag.errors)
    if out is not None:
        assert fmt_text(out) == out


# ---- the command line ---------------------------------------------------------------------

def test_cli_rewrites_in_place(tmp_path, capsys):
    path = tmp_path / "m.vspec"
    path.write_text(MESSY)
    os.chmod(path, 0o640)
    assert main(["fmt", str(path)]) == 0
    assert path.read_text() == MESSY_FORMATTED
    assert f"reformatted {path}" in capsys.readouterr().out
    assert (path.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["m.vspec"]  # no temporary file left
    assert main(["fmt", str(path)]) == 0
    assert "0 of 1 spec file reformatted" in capsys.readouterr().out


def test_cli_check_writes_nothing(tmp_path, capsys):
    messy, clean = tmp_path / "a.vspec", tmp_path / "b.vspec"
    messy.write_text(MESSY)
    clean.write_text(MESSY_FORMATTED)
    assert main(["fmt", "--check", str(messy), str(clean)]) == 1
    err = capsys.readouterr().err
    assert f"would reformat: {messy}" in err and str(clean) not in err
    assert messy.read_text() == MESSY
    assert main(["fmt", "--check", str(clean)]) == 0


def test_cli_symlink_target_is_rewritten(tmp_path):
    target = tmp_path / "real.vspec"
    target.write_text(MESSY)
    link = tmp_path / "link.vspec"
    link.symlink_to(target)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink() and target.read_text() == MESSY_FORMATTED


def test_cli_syntax_error_writes_nothing(tmp_path, capsys):
    bad, good = tmp_path / "bad.vspec", tmp_path / "good.vspec"
    bad.write_text("spec   t;\nparam A = ;\n")
    good.write_text(MESSY)
    before = bad.stat().st_mtime_ns
    assert main(["fmt", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:11: error[E0100]: syntax error" in err
    assert "Traceback" not in err
    assert bad.read_text() == "spec   t;\nparam A = ;\n" and bad.stat().st_mtime_ns == before
    assert good.read_text() == MESSY_FORMATTED  # the other files are still formatted


@pytest.mark.parametrize("content", [b"\x00\x01binary", b"", b"\xff\xfe s\x00", "caf\u00e9 ;".encode("latin1")])
def test_cli_unreadable_input_is_a_diagnostic(tmp_path, capsys, content):
    path = tmp_path / "x.vspec"
    path.write_bytes(content)
    assert main(["fmt", str(path)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"error\[E0\d+\]", err) and "Traceback" not in err
    assert path.read_bytes() == content


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["fmt", str(tmp_path / "missing.vspec")]) == 2
    assert "no such spec file" in capsys.readouterr().err
    assert main(["fmt", str(tmp_path)]) == 2


def test_a_file_that_cannot_be_written_is_not_also_reformatted(tmp_path, capsys, monkeypatch):
    """Issue 12: a read-only file said both "could not be formatted" and "reformatted".
    The tests run as root, where chmod 0o444 stops no write: the write is refused by a
    monkeypatched write_atomic instead."""
    bad, good = tmp_path / "a.vspec", tmp_path / "b.vspec"
    bad.write_text(MESSY)
    good.write_text(MESSY)
    real = fmt.write_atomic

    def refuse(path, text):
        if path == bad:
            raise PermissionError(13, "Permission denied", str(path))
        real(path, text)

    monkeypatch.setattr(fmt, "write_atomic", refuse)
    assert main(["fmt", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "reformatted" not in captured.out + captured.err
    assert captured.err == f"virtspec fmt: cannot write {bad}: Permission denied\n1 of 1 spec file could not be formatted\n"
    assert main(["fmt", str(bad), str(good)]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"reformatted {good}\n"
    assert captured.err.endswith("\n1 of 2 spec files reformatted, 1 of 2 spec files could not be formatted\n")
    assert bad.read_text() == MESSY and good.read_text() == MESSY_FORMATTED


def test_internal_error_writes_nothing(tmp_path, capsys, monkeypatch):
    """If the printer ever changed a token, the file is left alone (exit 1, no traceback)."""
    path = tmp_path / "m.vspec"
    path.write_text(MESSY)
    monkeypatch.setattr(fmt._Printer, "run", lambda self, items: "spec broken;\n")
    assert main(["fmt", str(path)]) == 1
    assert "internal error" in capsys.readouterr().err
    assert path.read_text() == MESSY


# ---- --diff and standard input (editor integration) ----------------------------------------------

def _unformatted(path: Path) -> str:
    """A shipped spec with its layout spoiled: 2-space indentation, a space before `;`."""
    text = re.sub(r"^(    )+", lambda m: "  " * (len(m.group(0)) // 4), path.read_text(), flags=re.M)
    return re.sub(r";$", " ;", text, flags=re.M)


def test_cli_diff_prints_what_would_change_and_writes_nothing(tmp_path, capsys):
    shipped = ROOT / "specs" / "amd_npt.vspec"
    path = tmp_path / "amd_npt.vspec"
    path.write_text(_unformatted(shipped))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    assert main(["fmt", "--diff", str(path)]) == 1
    captured = capsys.readouterr()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert captured.out.startswith(f"--- {path}\n+++ {path}\n@@ ")
    assert "-spec amd_npt cite \"AMD64 APM Vol. 2 15.25\" ;\n+spec amd_npt cite \"AMD64 APM Vol. 2 15.25\";\n" \
        in captured.out
    assert f"would reformat: {path}" in captured.err
    # the diff is a patch: applied to the file, it gives the shipped spec back
    if shutil.which("patch"):
        patched = tmp_path / "patched.vspec"
        r = subprocess.run(["patch", "-s", "-o", str(patched), str(path)], input=captured.out, text=True,
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert patched.read_text() == shipped.read_text()


def test_cli_diff_on_formatted_files_is_empty(capsys):
    shipped = [str(p) for p in SPEC_FILES]
    assert main(["fmt", "--diff", *shipped]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{len(shipped)} spec files already formatted" in captured.err


def test_cli_diff_last_line_without_newline(tmp_path, capsys):
    path = tmp_path / "t.vspec"
    path.write_text("spec t;\nparam A = 1 ;")
    assert main(["fmt", "--diff", str(path)]) == 1
    assert capsys.readouterr().out.endswith("-param A = 1 ;\n\\ No newline at end of file\n+param A = 1;\n")


def _stdin(text, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codegen", "fmt", *kw.pop("args", []), "-"], input=text,
                          cwd=ROOT, capture_output=True, text=True, timeout=120, **kw)


def test_stdin_to_stdout():
    shipped = (ROOT / "specs" / "amd_npt.vspec").read_text()
    r = _stdin(_unformatted(ROOT / "specs" / "amd_npt.vspec"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == shipped and r.stderr == ""
    r = _stdin(MESSY)
    assert (r.returncode, r.stdout, r.stderr) == (0, MESSY_FORMATTED, "")


def test_stdin_syntax_error_goes_to_stderr_only():
    r = _stdin("spec   t;\nparam A = ;\n")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "<stdin>:2:11: error[E0100]: syntax error" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("content", [b"\x00\x01binary", b"", "caf\u00e9 ;".encode("latin1")])
def test_stdin_unreadable_input_is_a_diagnostic(content):
    r = subprocess.run([sys.executable, "-m", "codegen", "fmt", "-"], input=content, cwd=ROOT,
                       capture_output=True, timeout=120)
    assert r.returncode == 1 and r.stdout == b""
    assert re.search(rb"error\[E0\d+\]", r.stderr) and b"Traceback" not in r.stderr


def test_stdin_with_check_and_diff(capsys, monkeypatch):
    import io
    for text, status in ((MESSY, 1), (MESSY_FORMATTED, 0)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        assert main(["fmt", "--check", "-"]) == status
        assert capsys.readouterr().out == ""
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        assert main(["fmt", "--diff", "-"]) == status
        out = capsys.readouterr().out
        assert out.startswith("--- <stdin>\n+++ <stdin>\n") if status else out == ""


def test_a_builtin_call_is_written_like_a_function_call():
    """`sext (va,48)` -> `sext(va, 48)`: no space before the parenthesis, one after each comma."""
    from codegen.frontend.diagnostics import DiagnosticBag
    from codegen.frontend.fmt import format_text
    text = ("spec t;\nparam A = ctz (0x100)+cto( 7 );\n"
            "param B = sext (0xF4,3);\n")
    assert format_text(text, "t.vspec", DiagnosticBag()) == ("spec t;\nparam A = ctz(0x100) + cto(7);\n"
                                                            "param B = sext(0xF4, 3);\n")
