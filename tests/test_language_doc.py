"""docs/language.md is what people outside the team write specs from: its example regime
(section 4) must check, generate and co-simulate with the formats it assumes."""
from pathlib import Path

from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import compile_spec
from codegen.generate import emit
from codegen.verify import cosim

DOC = Path(__file__).resolve().parents[1] / "docs" / "language.md"
FORMATS = """spec language_doc;
register SATP : 64 { PPN [43:0]; MODE [63:60]; }
format bits : 64 { V [0]; R [1]; W [2]; X [3]; U [4]; G [5]; A [6]; D [7]; reserved [63:54]; }
format pte : 64 { include bits; PPN [53:10]; }
format pte_2m : 64 { include bits; PPN_LO [18:10]; PPN [53:19]; }
format pte_1g : 64 { include bits; PPN_LO [27:10]; PPN [53:28]; }
"""


def example_regime() -> str:
    text = DOC.read_text()
    start = text.index('    regime NAME [cite] ["doc"] {', text.index("## 4. A translation regime"))
    end = text.index("This is the first stage of", start)
    body = "\n".join(line[4:] for line in text[start:end].splitlines())
    return body.replace('regime NAME [cite] ["doc"] {', "regime first {")


def test_the_example_regime_checks_generates_and_cosimulates(tmp_path):
    path = tmp_path / "language_doc.vspec"
    path.write_text(FORMATS + example_regime())
    bag = DiagnosticBag()
    spec = compile_spec(path, bag)
    assert not bag.errors
    emit.write(emit.render(spec), tmp_path / "gen")
    report = cosim.run(spec, tmp_path / "gen", walks=200, seed=1)
    assert report.mismatches == 0 and report.transactions == 200


def cache_example() -> str:
    """The example of section 8: the cache and invalidations, as written."""
    text = DOC.read_text()
    start = text.index("    cache tlb holds translations", text.index("## 8. Caches and invalidation"))
    end = text.index("**What each expression may read.**", start)
    return "\n".join(line[4:] for line in text[start:end].strip("\n").splitlines()) + "\n"


def test_the_cache_example_elaborates_on_the_example_regime(tmp_path):
    path = tmp_path / "language_doc.vspec"
    regime = example_regime().rstrip()
    assert regime.endswith("}")
    path.write_text(FORMATS + regime[:-1] + cache_example() + "}\n")
    bag = DiagnosticBag()
    top = compile_spec(path, bag).top
    assert not bag.errors
    assert [c.name for c in top.caches] == ["tlb"] and top.caches[0].sets == 8
    assert [v.name for v in top.invalidations] == ["flush_page", "flush_all", "switch_space"]
