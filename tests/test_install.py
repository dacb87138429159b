"""The install test: a wheel of this checkout, installed in a fresh virtual environment
outside it, runs the whole pipeline in a user's project folder that holds only a spec
and a pyproject.toml, and writes nothing anywhere else.

It builds the wheel from a copy of the checkout (an in-tree build writes build/ and
*.egg-info/ into the source folder; pip fetches the build backend named in
pyproject.toml, setuptools, from PyPI or its cache), installs it in a venv that sees
this interpreter's dependencies (lark, jinja2, pydantic, myhdl: not downloaded again)
but not the checkout's editable install, checks the wheel holds every file of the
package, and proves the `codegen` that runs is the wheel's. Every command runs through
the venv's own `virtspec` script with HOME and TMPDIR pointed at empty folders, which
must still be empty at the end.

`python -m pytest tests/test_install.py -s` prints the files the commands wrote.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SPEC = "x86_64_paging"  # imports no other spec
# what the checkout listing leaves out: files the test run itself (any test, any worker) may write,
# and the virtual environment the README's commands make in the checkout (the tests run in it)
CHECKOUT_SKIP = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".venv", "venv"}
# not copied to the build folder: version control, caches, and a previous in-tree build's output
COPY_SKIP = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist",
                                   "*.egg-info", ".venv", "venv", "hdl-out", "cosim-vcd")


def listing(root: Path, skip: set[str] = frozenset()) -> dict[str, tuple[int, int] | None]:
    """Every folder (value None) and file (size, mtime in ns) under `root`, by relative
    path; folders named in `skip` are left out with all they hold."""
    out: dict[str, tuple[int, int] | None] = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in skip)
        rel = Path(folder).relative_to(root)
        out[f"{rel.as_posix()}/"] = None
        for name in files:
            st = (Path(folder) / name).lstat()
            out[(rel / name).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def changes(before: dict, after: dict) -> list[str]:
    """What differs between two listings: added, removed and changed paths."""
    return ([f"added {p}" for p in sorted(after.keys() - before.keys())]
            + [f"removed {p}" for p in sorted(before.keys() - after.keys())]
            + [f"changed {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]])


def run(argv: list, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, argv))} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def user_env(venv: Path, home: Path | None = None, tmp: Path | None = None) -> dict[str, str]:
    """A user's shell with the venv activated: no PYTHON* variables (no PYTHONPATH to the
    checkout, bytecode written as by default); with `home` and `tmp`, HOME and TMPDIR in
    folders the test watches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv))
    if home is not None:
        env["HOME"] = str(home)
        for key in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
            env.pop(key, None)
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
        for key in ("TMP", "TEMP"):
            env.pop(key, None)
    return env


def test_wheel_installs_and_runs_the_pipeline_in_a_project_outside_the_checkout(tmp_path):
    checkout_before = listing(ROOT, CHECKOUT_SKIP)

    # ---- a wheel of the checkout, built from a copy of it
    source, wheels = tmp_path / "source", tmp_path / "wheels"
    shutil.copytree(ROOT, source, ignore=COPY_SKIP)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", wheels, source],
        cwd=tmp_path, timeout=600)
    (wheel,) = wheels.glob("virtspec-*.whl")

    # ---- a fresh venv outside the checkout. Not --system-site-packages: the system
    # site-packages may hold the checkout's editable install, whose import hook then serves
    # any module the wheel lacks from the checkout (seen: codegen.cli, missing from the
    # wheel, came from the checkout and the test passed). A .pth line that names a folder
    # adds only that folder to sys.path, not the .pth hooks inside it: the dependencies
    # (lark, jinja2, pydantic, myhdl) and pip come from this interpreter's site-packages,
    # without being downloaded again, and `codegen` can come only from the wheel.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python, virtspec = venv / "bin" / "python", venv / "bin" / "virtspec"
    env = user_env(venv)  # pip itself may write under HOME (it runs `rustc --version` for its user agent)
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path, env)
                .stdout.strip()).resolve()
    assert site.is_relative_to(venv.resolve())
    dependencies = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    (site / "_virtspec_install_test_dependencies.pth").write_text("".join(f"{p}\n" for p in dependencies))
    # --ignore-installed: a virtspec in those folders (the editable install) is neither
    # uninstalled nor taken as already satisfying the requirement
    run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "--no-cache-dir",
         "--disable-pip-version-check", "-q", wheel], cwd=tmp_path, env=env)
    assert virtspec.is_file(), "the wheel installs no `virtspec` script"
    where = run([python, "-c", "import codegen, codegen.cli, codegen.shipped as s; print(codegen.__file__); "
                 "print(s.grammar()); print(s.folder('specs'))"], tmp_path, env).stdout.split("\n")
    for path in where[:3]:  # the package, the grammar and the shipped specs, all from the wheel
        assert Path(path).resolve().is_relative_to(site), f"{path} is not the wheel's (the venv's site-packages is {site})"
    # the wheel holds every file of the package, the grammar and the shipped specs
    shipped = {f"codegen/{p.relative_to(source / 'codegen').as_posix()}" for p in (source / "codegen").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    shipped |= {f"codegen/grammar/{p.name}" for p in (source / "grammar").iterdir() if p.is_file()}
    shipped |= {f"codegen/specs/{p.name}" for p in (source / "specs").glob("*.vspec")}
    shipped |= {f"codegen/specs/shared/{p.name}" for p in (source / "specs" / "shared").glob("*.vspec")}
    assert sorted(p for p in shipped if not (site / p).is_file()) == []
    site_before = listing(site)
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = user_env(venv, home, tmp)  # from here on only virtspec runs: it may write in neither (but its cache)

    # ---- a user's project: one spec and a pyproject.toml
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    shutil.copy(ROOT / "specs" / f"{SPEC}.vspec", project / "specs")
    assert not re.search(r"^\s*import\b", (project / "specs" / f"{SPEC}.vspec").read_text(), re.M)
    (project / "pyproject.toml").write_text('[project]\nname = "my-specs"\nversion = "0.1.0"\n')
    project_before = listing(project)

    spec = f"specs/{SPEC}.vspec"
    out = run([virtspec, "check"], project, env).stdout
    assert f"{spec}: ok" in out
    run([virtspec, "generate"], project, env)
    run([virtspec, "doc"], project, env)
    out = run([virtspec, "cosim", spec, "--walks", "50"], project, env).stdout
    assert f"{SPEC} (model long_mode): 50 walks, 0 mismatches" in out, out
    compile_hdl = ["--compile"] if shutil.which("iverilog") else []  # without iverilog: convert only
    out = run([virtspec, "convert", spec, "--hdl", "verilog", *compile_hdl], project, env).stdout
    if compile_hdl:
        assert "verilog: compiles" in out, out
    out = run([virtspec, "bench", "--quick"], project, env, timeout=900).stdout
    assert "(benchmark took" in out, out

    # ---- outputs in the project, and nowhere else
    project_after = listing(project)
    assert [c for c in changes(project_before, project_after) if not c.startswith("added ")] == []  # inputs intact
    written = sorted(project_after.keys() - project_before.keys())
    print(f"\nwritten in the project folder ({len(written)} paths):\n" + "\n".join(f"  {p}" for p in written))
    expected = {f"generated/{SPEC}/reference.py", f"generated/{SPEC}/model.py",
                f"generated/{SPEC}/legacy32/reference.py", f"generated/{SPEC}/legacy32/model.py",
                f"docs/{SPEC}.md", f"docs/{SPEC}.html", "docs/index.md", "docs/index.html",
                f"generated/{SPEC}/{SPEC}_long_mode.v", f"generated/{SPEC}/{SPEC}_long_mode.vhd",
                f"generated/{SPEC}/pck_myhdl_011.vhd", f"generated/{SPEC}/legacy32/{SPEC}_legacy32.v",
                f"generated/{SPEC}/legacy32/{SPEC}_legacy32.vhd", f"generated/{SPEC}/legacy32/pck_myhdl_011.vhd",
                f"hdl-out/{SPEC}_long_mode.v"}
    files = {p for p in written if not p.endswith("/")}
    assert expected <= files, f"missing: {sorted(expected - files)}"
    # beside them only folders and the bytecode of the generated modules cosim and convert import
    pycache = re.compile(rf"generated/{SPEC}/__pycache__/(reference|model)\.[\w-]+\.pyc")
    assert [p for p in files - expected if not pycache.fullmatch(p)] == []
    assert changes(site_before, listing(site)) == []
    assert changes(checkout_before, listing(ROOT, CHECKOUT_SKIP)) == []
    # nothing in HOME; in the temporary folder only the user's grammar cache (codegen/frontend/lark_cache.py)
    assert list(home.iterdir()) == []
    cache = tmp / f"virtspec-{os.getuid()}"
    assert [p for p in tmp.iterdir() if p != cache] == []
    assert not cache.exists() or all(re.fullmatch(r"lark-[0-9a-f]{32}\.cache", p.name) for p in cache.iterdir())
