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


def _tables(tmp_path, monkeypatch):
    """Point the system's temporary folder at `tmp_path`; count the LALR tables lark builds."""
    import tempfile

    import lark
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    built = []
    real = lark.Lark._build_parser
    monkeypatch.setattr(lark.Lark, "_build_parser", lambda self: built.append(1) or real(self))
    return built


def test_grammar_tables_are_kept_in_a_per_user_cache(tmp_path, monkeypatch):
    """Was: every process built the grammar's LALR tables (most of a second of a CLI run).
    Now they are saved once in <tmp>/virtspec-<uid>/ (mode 0700) and loaded after that;
    the loaded parser parses as the built one does."""
    import os

    from codegen.frontend import lark_cache, parse
    built = _tables(tmp_path, monkeypatch)
    grammar = parse.GRAMMAR.read_text()
    first = lark_cache.build(grammar, propagate_positions=True, maybe_placeholders=False)
    second = lark_cache.build(grammar, propagate_positions=True, maybe_placeholders=False)
    assert built == [1]
    folder = tmp_path / f"virtspec-{os.getuid()}"
    assert [p.name.startswith("lark-") for p in folder.iterdir()] == [True]  # no partial file left
    assert folder.stat().st_mode & 0o777 == 0o700
    text = (ROOT / "specs" / "x86_64_paging.vspec").read_text()
    assert first.parse(text) == second.parse(text)
    lark_cache.build(grammar, propagate_positions=True, maybe_placeholders=False, keep_all_tokens=True)
    assert built == [1, 1] and len(list(folder.iterdir())) == 2  # other options, other tables
    lark_cache.build(grammar, propagate_positions=True, maybe_placeholders=False, postlex=parse._TokenCounter())
    assert built == [1, 1, 1] and len(list(folder.iterdir())) == 3  # a post-lexer is part of what is kept


def test_no_grammar_cache_when_the_folder_cannot_be_used(tmp_path, monkeypatch):
    """An unwritable temporary folder, or a cache folder open to others: built every time,
    nothing written, no error."""
    import os

    from codegen.frontend import lark_cache, parse
    grammar = parse.GRAMMAR.read_text()
    blocker = tmp_path / "file"
    blocker.write_text("")
    built = _tables(blocker, monkeypatch)  # a file where the folder should be made: mkdir fails
    assert lark_cache.cache_folder() is None
    lark_cache.build(grammar, maybe_placeholders=False)
    lark_cache.build(grammar, maybe_placeholders=False)
    open_folder = tmp_path / "shared"
    (open_folder / f"virtspec-{os.getuid()}").mkdir(parents=True, mode=0o777)
    os.chmod(open_folder / f"virtspec-{os.getuid()}", 0o777)
    assert built == [1, 1]
    again = _tables(open_folder, monkeypatch)
    assert lark_cache.cache_folder() is None
    lark_cache.build(grammar, maybe_placeholders=False)
    assert again == [1] and list((open_folder / f"virtspec-{os.getuid()}").iterdir()) == []
