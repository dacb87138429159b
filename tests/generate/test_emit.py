"""Generated files: deterministic, up to date, traceable to the spec, written atomically."""
from pathlib import Path

from codegen.cli import main
from codegen.generate import emit
from codegen.ir import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_rendering_is_deterministic(specs):
    for spec in specs.values():
        assert emit.render(spec) == emit.render(spec)


def test_checked_in_files_are_fresh(specs):
    for spec in specs.values():
        assert emit.stale(emit.render(spec), ROOT / "generated" / Path(spec.path).stem) == []


def test_generate_check_passes_and_detects_staleness(tmp_path, capsys):
    assert main(["generate", "--check"]) == 0
    out = tmp_path / "gen"
    assert main(["generate", "--output", str(out)]) == 0
    assert main(["generate", "--check", "--output", str(out)]) == 0
    victim = out / "x86_64_paging" / "reference.py"
    victim.write_text(victim.read_text() + "# edited by hand\n")
    assert main(["generate", "--check", "--output", str(out)]) == 1
    assert "stale" in capsys.readouterr().err


def test_regenerating_gives_identical_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["generate", "--output", str(a)]) == 0
    assert main(["generate", "--output", str(b)]) == 0
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert not list(a.rglob("*.tmp")), "no temporary file may be left behind"


def test_header_names_spec_hash_and_version(specs):
    spec = specs["amd_npt"]
    for name, text in emit.render(spec).items():
        head = text.splitlines()[:4]
        assert head[0].startswith("# DO NOT EDIT"), name
        assert f"# spec: {spec.path}" in head
        assert f"# spec sha256: {spec.sha256}" in head
        assert f"# generator: virtspec {GENERATOR_VERSION}" in head
        assert "# spec: specs/x86_64_paging.vspec:" in text, "level and rule lines cite the spec"


def test_sha_changes_with_the_imported_spec(tmp_path):
    from codegen.frontend.pipeline import compile_spec
    for p in ("x86_64_paging.vspec", "amd_npt.vspec"):
        (tmp_path / p).write_text((ROOT / "specs" / p).read_text())
    before = compile_spec(tmp_path / "amd_npt.vspec").sha256
    x86 = tmp_path / "x86_64_paging.vspec"
    x86.write_text(x86.read_text() + "\n// a comment\n")
    assert compile_spec(tmp_path / "amd_npt.vspec").sha256 != before


def test_templates_are_compiled_once_per_process(specs, monkeypatch):
    """Was: a new jinja2 Environment for each spec, so its templates were compiled again
    for each (most of the time of regenerating the shipped specs). Now one Environment."""
    import jinja2
    compiled = []
    real = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, *a, **k: compiled.append(a) or real(self, *a, **k))
    emit._env.cache_clear()
    passes = []
    for _ in range(2):
        for spec in specs.values():
            emit.render(spec)
        passes.append(len(compiled))
    templates = len(list(emit.TEMPLATES.rglob("*.j2")))
    assert 4 <= passes[0] <= templates and passes[1] == passes[0], (passes, templates)
