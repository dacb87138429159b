"""The algorithmic fixes behind the front end's speed (issue 12 section 5), pinned by
counting work, not by timing it (`virtspec bench` section (a) measures the time)."""
from pathlib import Path

import lark.lexer
from snippets import WALK, edit, write

from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.elaborate import elaborator
from codegen.frontend.parse import count_tokens, parse_counted
from codegen.frontend.pipeline import compile_spec

ROOT = Path(__file__).resolve().parents[2]


def test_all_registers_looks_at_each_layout_once(tmp_path, monkeypatch):
    """Was: Elaborator.all_registers rebuilt the map of every register (of the module and
    its imports) at each declaration, so elaboration was quadratic in their number. Now
    each layout is looked at once, however many declarations ask."""
    n = 150
    decls = "".join(f"register R{i} : 64 {{ F [{i % 64}]; }}\nformat f{i} : 64 {{ G [{i % 64}]; }}\n" for i in range(n))
    path = write(tmp_path, edit(WALK, "spec t;\n", "spec t;\n" + decls))
    looked = []
    real = elaborator._registers_among
    monkeypatch.setattr(elaborator, "_registers_among", lambda layouts: looked.append(len(layouts)) or real(layouts))
    spec = compile_spec(path, DiagnosticBag())
    assert all(f"R{i}" in {lay.name for lay in spec.layouts} for i in range(n))
    assert sum(looked) <= len(spec.layouts), (sum(looked), len(spec.layouts))


def test_all_registers_sees_registers_declared_later_and_imported(tmp_path):
    """The kept map grows with the module: a register declared after the first use of the
    map is still found, and an imported one too (through its alias's module)."""
    m = elaborator.Module("t.vspec", parse_counted("spec t;", "t.vspec", DiagnosticBag())[0])
    sub = elaborator.Module("s.vspec", m.ast)
    m.imports["s"] = sub
    reg = lambda name: elaborator.ir.Layout(kind="register", name=name, width=8, fields=(), ranges=())  # noqa: E731
    sub.layouts["A"] = reg("A")
    first = elaborator.Elaborator.all_registers(m)
    assert list(first) == ["A"]
    m.layouts["B"] = reg("B")
    second = elaborator.Elaborator.all_registers(m)
    assert list(second) == ["A", "B"] and list(first) == ["A"]  # a new dict: a Scope holding `first` keeps it
    assert elaborator.Elaborator.all_registers(m) is second


def test_each_file_is_lexed_once(monkeypatch):
    """Was: an imported file was lexed a second time to count its tokens (MAX_LOADED_TOKENS),
    and a big file a first time before parsing (E0005). Now the tokens are counted during
    the parse's own lexing: one lexing per file."""
    lexed = []
    real = lark.lexer.LexerThread.lex

    def lex(self, parser_state):
        lexed.append(self.state.text if self.state is not None else None)
        return real(self, parser_state)

    monkeypatch.setattr(lark.lexer.LexerThread, "lex", lex)
    compile_spec(ROOT / "specs" / "amd_npt.vspec", DiagnosticBag())  # imports x86_64_paging.vspec
    texts = [getattr(t, "text", t) for t in lexed]
    assert len(texts) == 2, len(texts)
    assert {(ROOT / "specs" / name).read_text() for name in ("amd_npt.vspec", "x86_64_paging.vspec")} == set(texts)


def test_tokens_counted_while_parsing_are_the_tokens_of_the_text():
    for name in ("x86_64_paging.vspec", "intel_vmx.vspec"):
        text = (ROOT / "specs" / name).read_text()
        tree, tokens = parse_counted(text, name, DiagnosticBag())
        assert tree is not None and tokens == count_tokens(text) > 1000
