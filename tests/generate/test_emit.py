"""Generated files: deterministic, up to date, traceable to the spec, written atomically."""
from pathlib import Path

import pytest
from conftest import SPECS

from codegen.cli import main
from codegen.generate import emit
from codegen.ir import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_rendering_is_deterministic(specs):
    for spec in specs.values():
        assert emit.render(spec) == emit.render(spec)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_checked_in_files_are_fresh(specs, name):
    """Every model's files, its converted Verilog and VHDL included (taken as converted when
    their conversion lines name the current key, converted again otherwise); one test a spec."""
    for _, directory, files in emit.render_models(specs[name], ROOT / "generated"):
        assert emit.stale(files, directory) == []


def test_generate_check_passes_and_detects_staleness(tmp_path, capsys):
    # one spec (test_checked_in_files_are_fresh checks every shipped one against generated/):
    # three generations of every spec were the suite's longest test
    spec = str(ROOT / "specs" / "x86_64_paging.vspec")
    out = tmp_path / "gen"
    assert main(["generate", "--output", str(out), spec]) == 0
    assert main(["generate", "--check", "--output", str(out), spec]) == 0
    victim = out / "x86_64_paging" / "reference.py"
    victim.write_text(victim.read_text() + "# edited by hand\n")
    assert main(["generate", "--check", "--output", str(out), spec]) == 1
    assert "stale" in capsys.readouterr().err


def test_regenerating_gives_identical_bytes(tmp_path):
    # two specs, a translation and a unit: the freshness test compares every shipped
    # spec's render with the bytes an earlier process wrote
    a, b = tmp_path / "a", tmp_path / "b"
    two = [str(ROOT / "specs" / f"{name}.vspec") for name in ("x86_64_paging", "amd_dev")]
    assert main(["generate", "--output", str(a), *two]) == 0
    assert main(["generate", "--output", str(b), *two]) == 0
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


PAGING = str(ROOT / "specs" / "x86_64_paging.vspec")


def test_an_unwritable_output_folder_is_a_usage_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    """Issue 12. The tests run as root, where a folder chmod 0o555 stops no write: the
    folder is made unusable by putting it under a regular file (Not a directory), and
    Permission denied is raised by a monkeypatched mkstemp."""
    (tmp_path / "afile").write_text("")
    assert main(["generate", PAGING, "--output", str(tmp_path / "afile" / "sub")]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot write generated files to '{tmp_path / 'afile' / 'sub' / 'x86_64_paging'}': " \
           "Not a directory" in err and "Traceback" not in err

    def denied(dir, prefix, suffix):
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr(emit.tempfile, "mkstemp", denied)
    assert main(["generate", PAGING, "--output", str(tmp_path / "out")]) == 2
    assert f"cannot write generated files to '{tmp_path / 'out' / 'x86_64_paging'}': Permission denied" \
        in capsys.readouterr().err


def test_a_folder_where_a_generated_file_should_be(tmp_path, capsys):
    """Issue 12: a folder named model.py was a traceback (IsADirectoryError) under --check."""
    out = tmp_path / "gen"
    (out / "x86_64_paging" / "model.py").mkdir(parents=True)
    assert main(["generate", "--check", PAGING, "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"stale: {out / 'x86_64_paging' / 'model.py'} is not a regular file (a folder?): remove it" in err
    assert main(["generate", PAGING, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot write generated files to" in err and "Is a directory" in err and "model.py')" in err


def test_a_killed_runs_temporaries_are_removed_and_files_are_synced(tmp_path, monkeypatch):
    """Issue 12: a run killed between writing `.model.py.XXXX.tmp` and renaming it left the
    temporary for good. Now write() removes old temporaries of the files it writes (a
    recent one may belong to a concurrent run), and syncs each file before the rename."""
    import os
    import time
    folder = tmp_path / "out"
    folder.mkdir()
    old, recent, other = folder / ".model.py.abc123.tmp", folder / ".model.py.def456.tmp", folder / ".notes.x.tmp"
    for p in (old, recent, other):
        p.write_text("half")
    long_ago = time.time() - 2 * emit.STALE_TEMPORARY_AGE
    os.utime(old, (long_ago, long_ago))
    os.utime(other, (long_ago, long_ago))
    synced = []
    real = os.fsync
    monkeypatch.setattr(emit.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    assert emit.write({"model.py": "x = 1\n"}, folder) == [folder / "model.py"]
    assert not old.exists() and recent.exists() and other.exists()  # not a file it writes: not its own
    assert len(synced) == 1 and (folder / "model.py").read_text() == "x = 1\n"


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


@pytest.fixture(scope="module")
def toy():
    """The conversion tests below convert a model again and again (a damaged file, an empty
    cache): the toy's model converts in a fraction of the time of a shipped one (amd_npt's
    took 10 s a conversion), through the same conversion code."""
    from codegen.frontend.pipeline import compile_spec
    return compile_spec(ROOT / "tests" / "data" / "toy.vspec")


def test_generate_writes_the_converted_hdl_and_check_finds_it_stale(toy, tmp_path):
    """The Verilog and VHDL of each model are outputs beside model.py, named after
    hdl.top_name, and a changed HDL file is stale like any other output."""
    from codegen.generate import hdl

    spec = toy
    [(_, directory, files)] = emit.render_models(spec, tmp_path)
    top = hdl.top_name(spec)
    assert {f"{top}.v", f"{top}.vhd", "model.py", "reference.py"} <= set(files)
    assert f"module {top}" in files[f"{top}.v"]
    emit.write(files, directory)
    assert emit.stale(files, directory) == []
    (directory / f"{top}.v").write_text(files[f"{top}.v"] + "// edited\n")
    assert emit.stale(files, directory) == [directory / f"{top}.v"]


def _no_conversion(*args):
    raise AssertionError("converted again")


def test_checked_in_conversion_is_not_done_again(toy, tmp_path, monkeypatch):
    """Each converted file ends with a line naming its conversion's key, the files it made
    and the digest of its text: with the user's cache empty, the files already in the
    folder are taken as the conversion when they are all there and unedited, so that
    `generate --check` converts nothing (the quick suite's freshness test took minutes
    per large spec converting every model again)."""
    spec = toy
    [(_, directory, files)] = emit.render_models(spec, tmp_path)
    emit.write(files, directory)
    hdl_names = sorted(n for n in files if n.endswith((".v", ".vhd")))
    for name in hdl_names:
        last = files[name].rstrip("\n").rsplit("\n", 1)[1]
        assert last.startswith(("// virtspec conversion ", "-- virtspec conversion ")), last
        assert f" of {' '.join(hdl_names)}: sha256 " in last
    monkeypatch.setenv("VIRTSPEC_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(emit, "_convert", _no_conversion)
    [(_, again_dir, again)] = emit.render_models(spec, tmp_path)
    assert again_dir == directory and again == files and emit.stale(again, directory) == []
    # ... and the user's cache now holds it, for a render of the same model elsewhere
    [(_, _, elsewhere)] = emit.render_models(spec, tmp_path / "elsewhere")
    assert elsewhere == files


@pytest.mark.parametrize("damage", ["edit", "delete", "foreign line"])
def test_a_damaged_checked_in_conversion_is_converted_again_and_stale(toy, tmp_path, monkeypatch, damage):
    """An edited file (its digest no longer matches), a missing file of the set, or a
    line naming another key: the model is converted again, and the damage is stale."""
    spec = toy
    [(_, directory, files)] = emit.render_models(spec, tmp_path)
    emit.write(files, directory)
    victim = directory / sorted(n for n in files if n.endswith(".v"))[0]
    text = victim.read_text()
    if damage == "edit":
        victim.write_text(text.replace("\n", "\n// edited\n", 1))
    elif damage == "delete":
        victim.unlink()
    else:
        body, last = text.rstrip("\n").rsplit("\n", 1)
        victim.write_text(body + "\n" + last.replace("conversion ", "conversion 0", 1) + "\n")
    monkeypatch.setenv("VIRTSPEC_CACHE", str(tmp_path / "empty-cache"))
    converted = []
    real = emit._convert
    monkeypatch.setattr(emit, "_convert", lambda *a: converted.append(a) or real(*a))
    [(_, _, again)] = emit.render_models(spec, tmp_path)
    assert converted and again == files
    assert emit.stale(again, directory) == [victim]
