"""codegen/shipped.py: the grammar and specs that ship beside the code."""
from pathlib import Path

from codegen import shipped


def test_a_checkout_reads_its_own_grammar_and_specs():
    """An editable install of another checkout (a git worktree beside this one) must not
    hand this checkout that checkout's grammar: a grammar change here would go unseen."""
    root = Path(shipped.__file__).resolve().parents[1]
    assert shipped.grammar() == root / "grammar" / "vspec.lark"
    assert shipped.folder("specs") == root / "specs"
    assert shipped.specs() == sorted((root / "specs").glob("*.vspec"))
