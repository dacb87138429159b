"""The user's project (config.find_project) and what hangs off it: virtspec run from any
folder reads and writes the project's specs/, generated/ and docs/, never its own
install; -o is relative to the working directory; waivers and spec paths are relative to
the pyproject.toml, whatever the working directory."""
import shutil
from pathlib import Path

import pytest

from codegen import shipped
from codegen.cli import main
from codegen.frontend.config import find_project

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "data" / "toy.vspec"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's project: a pyproject.toml, specs/toy.vspec, and the working directory in
    a subfolder of it."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'user'\n[tool.virtspec]\nwaive = [\"W0103\", \"W0104\"]\n")
    (tmp_path / "specs").mkdir()
    shutil.copy(TOY, tmp_path / "specs" / "toy.vspec")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


def test_root_is_the_nearest_pyproject_above_the_working_directory(project, capsys):
    found = find_project()
    assert found.root == project.resolve() and "pyproject.toml" in found.found
    assert main(["--show-root"]) == 0
    assert str(project.resolve()) in capsys.readouterr().out


def test_root_is_the_working_directory_without_a_pyproject(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert find_project().root == tmp_path.resolve()
    assert main(["check", "-v"]) == 2  # and no specs/ there
    err = capsys.readouterr().err
    assert "usage: virtspec check" in err and "no specs/ folder" in err and str(tmp_path.resolve()) in err


def test_defaults_hang_off_the_project_root(project, capsys):
    before_checkout = listing(ROOT / "generated")
    assert main(["check", "-v"]) == 0
    out = capsys.readouterr().out
    assert f"project root: {project.resolve()}" in out and "specs/toy.vspec: ok" in out
    assert main(["generate"]) == 0
    assert (project / "generated" / "toy_paging" / "reference.py").is_file()
    assert main(["doc"]) == 0
    assert {"index.md", "index.html", "toy_paging.md", "toy_paging.html"} <= set(listing(project / "docs"))
    assert main(["fmt", "--check"]) == 0
    assert listing(project / "work") == set()  # nothing in the working directory
    assert listing(ROOT / "generated") == before_checkout  # nor in the install


def test_output_options_are_relative_to_the_working_directory(project):
    assert main(["generate", "-o", "out"]) == 0
    assert (project / "work" / "out" / "toy_paging" / "model.py").is_file()
    assert main(["doc", "--output", "ref"]) == 0
    assert (project / "work" / "ref" / "toy_paging.md").is_file()
    assert not (project / "generated").exists() and not (project / "docs").exists()


def test_the_spec_named_finds_its_own_project(project, tmp_path_factory, monkeypatch):
    """From a folder outside the project, a named spec's project still roots the defaults."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    assert main(["generate", str(project / "specs" / "toy.vspec")]) == 0
    assert (project / "generated" / "toy_paging" / "reference.py").is_file()
    assert listing(elsewhere) == set()


@pytest.mark.parametrize("command", ["check", "generate", "doc", "fmt"])
def test_no_spec_and_no_specs_folder_is_a_usage_error(tmp_path, monkeypatch, capsys, command):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'empty'\n")
    monkeypatch.chdir(tmp_path)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert f"usage: virtspec {command}" in err and "no spec file named" in err
    (tmp_path / "specs").mkdir()
    assert main([command]) == 2
    assert "no *.vspec file in" in capsys.readouterr().err


def test_waivers_apply_whatever_the_working_directory(tmp_path, monkeypatch, capsys):
    """The repository waives W0103 for specs/*.vspec: from another folder too."""
    monkeypatch.chdir(tmp_path)
    assert main(["check", *map(str, sorted((ROOT / "specs").glob("*.vspec")))]) == 0
    captured = capsys.readouterr()
    assert "warning[" not in captured.err
    assert "specs/amd_npt.vspec: ok" in captured.out  # paths relative to the project, not the cwd


def test_generated_bytes_do_not_depend_on_the_working_directory(project, monkeypatch):
    assert main(["generate", "-o", str(project / "a")]) == 0
    monkeypatch.chdir(project / "specs")
    assert main(["generate", "toy.vspec", "-o", str(project / "b")]) == 0
    a = (project / "a" / "toy_paging" / "reference.py").read_text()
    assert a == (project / "b" / "toy_paging" / "reference.py").read_text()
    assert "# spec: specs/toy.vspec" in a


def test_doc_of_one_spec_keeps_the_others_in_the_index(project):
    second = project / "specs" / "toy_skip.vspec"
    shutil.copy(ROOT / "tests" / "data" / "toy_skip.vspec", second)
    assert main(["doc"]) == 0
    index = (project / "docs" / "index.md").read_text()
    assert "toy_paging.md" in index and "toy_skip.md" in index
    assert main(["doc", str(second)]) == 0  # one spec documented again
    assert (project / "docs" / "index.md").read_text() == index
    assert main(["doc", "--check"]) == 0


def test_the_shipped_files_come_with_the_package():
    """The benchmark and the fuzzer run from an installed package: the grammar and the
    shipped specs are package data (codegen.grammar, codegen.specs in pyproject.toml)."""
    assert shipped.grammar().is_file()
    names = {p.name for p in shipped.specs()}
    assert names == {p.name for p in (ROOT / "specs").glob("*.vspec")} and names
    from codegen.bench import bench, fuzz  # noqa: F401 - importable from the package


# ---- outputs keyed by the declared name, whatever the file name and the working directory

def _toy(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TOY.read_text().replace("spec toy_paging;", f"spec {name};"))
    return path


def test_outputs_are_keyed_by_the_declared_name(project, capsys):
    """Two files s.vspec in different folders that declare different names: each has its
    own outputs (they used to share generated/s/ and docs/s.md, the last one winning,
    and `generate --check` called one of them stale forever)."""
    a = _toy(project / "specs" / "a" / "s.vspec", "first")
    b = _toy(project / "specs" / "b" / "s.vspec", "second")
    assert main(["generate", str(a), str(b)]) == 0
    assert main(["doc", str(a), str(b)]) == 0
    for name, path in (("first", "specs/a/s.vspec"), ("second", "specs/b/s.vspec")):
        assert f"# spec: {path}\n" in (project / "generated" / name / "reference.py").read_text()
        assert (project / "docs" / f"{name}.md").is_file()
    assert not (project / "generated" / "s").exists() and not (project / "docs" / "s.md").exists()
    assert main(["generate", "--check", str(a), str(b)]) == 0
    assert main(["doc", "--check", str(a), str(b)]) == 0


def test_links_to_different_files_of_one_file_name(project):
    """Two symbolic links to different x.vspec files: two sets of outputs, by name."""
    for sub, name in (("p", "one"), ("q", "two")):
        _toy(project / sub / "x.vspec", name)
        (project / "specs" / f"{sub}.vspec").symlink_to(project / sub / "x.vspec")
    links = [str(project / "specs" / f"{s}.vspec") for s in "pq"]
    assert main(["doc", *links]) == 0
    assert (project / "docs" / "one.md").is_file() and (project / "docs" / "two.md").is_file()


@pytest.mark.parametrize("command", ["generate", "doc"])
def test_two_specs_of_one_name_are_refused_before_writing(project, capsys, command):
    a = _toy(project / "specs" / "a" / "s.vspec", "same")
    b = _toy(project / "specs" / "b" / "t.vspec", "same")
    capsys.readouterr()
    assert main([command, str(a), str(b)]) == 1
    err = capsys.readouterr().err
    assert "specs/b/t.vspec:1:1: error[E0203]: " in err and "specs/a/s.vspec:1:1: note: 'same' is declared here" in err
    assert f"'{b}' declares the same spec name as '{a}' ('same')" in err and "nothing was written" in err
    assert not (project / "generated").exists() and not (project / "docs").exists()
    # names that differ only in case would share a folder on a case-insensitive file system
    b.write_text(b.read_text().replace("spec same;", "spec Same;"))
    assert main([command, str(a), str(b)]) == 1
    assert "only in case" in capsys.readouterr().err
    # one file named twice is not a clash
    assert main([command, str(a), str(a)]) == 0


def test_a_file_name_of_dots_stays_inside_the_output_folder(project):
    """A spec without `spec NAME;` is named after its file: '...vspec' (the name '..')
    writes inside generated/, not beside it."""
    dots = project / "specs" / "...vspec"
    dots.write_text(TOY.read_text().replace("spec toy_paging;\n", ""))
    assert main(["generate", str(dots), "-o", str(project / "out" / "gen")]) == 0
    assert (project / "out" / "gen" / "__" / "reference.py").is_file()
    assert listing(project / "out") == {"gen", "gen/__", "gen/__/reference.py", "gen/__/model.py",
                                        "gen/__/toy.v", "gen/__/toy.vhd", "gen/__/pck_myhdl_011.vhd"}


@pytest.mark.parametrize("linked", [False, True], ids=["file", "linked-from-outside"])
def test_outputs_and_check_do_not_depend_on_the_working_directory(project, tmp_path_factory, monkeypatch,
                                                                  capsys, linked):
    """generate, generate --check and doc from the project root, a subfolder, the parent
    folder and /tmp (absolute paths): the same bytes, and fresh. A spec linked into the
    project from a folder outside it is shown relative to its own folder: it used to be
    shown relative to the working directory, so --check from the parent called fresh
    files stale."""
    spec = project / "specs" / "toy.vspec"
    if linked:
        outside = tmp_path_factory.mktemp("outside") / "toy.vspec"
        outside.write_text(spec.read_text())
        spec.unlink()
        spec.symlink_to(outside)
    monkeypatch.chdir(project)
    assert main(["generate"]) == 0 and main(["doc"]) == 0
    made = {p: p.read_bytes() for p in [*(project / "generated").rglob("*.py"), *(project / "docs").iterdir()]}
    for cwd, named in ((project, "specs/toy.vspec"), (project / "specs", "toy.vspec"),
                       (project.parent, f"{project.name}/specs/toy.vspec"), (Path("/tmp"), str(spec))):
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        assert main(["generate", "--check", named]) == 0, (cwd, capsys.readouterr().err)
        assert main(["doc", "--check", named]) == 0, (cwd, capsys.readouterr().err)
        assert main(["generate", named]) == 0 and main(["doc", named]) == 0
        assert {p: p.read_bytes() for p in made} == made
    header = (project / "generated" / "toy_paging" / "reference.py").read_text()
    assert ("# spec: toy.vspec\n" if linked else "# spec: specs/toy.vspec\n") in header
