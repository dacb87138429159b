"""A spec with several models (Spec.models: its own regimes, compositions and units that
nothing else in it uses): `generate` writes the default at generated/<name>/ and each
other at generated/<name>/<model>/, --check checks them all; cosim and convert run one
with --model (an unknown name is a usage error that lists them); the JSON report,
replay commands and scenario files name the model; check -v and the docs list them."""
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from codegen.cli import main
from codegen.generate import emit
from codegen.frontend.pipeline import compile_spec

ROOT = Path(__file__).resolve().parent.parent
TWO = ROOT / "tests" / "data" / "toy_models.vspec"  # regimes `flat` and `toy`, 8-byte entries, independent


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "pyproject.toml").write_text("[tool.virtspec]\nwaive = [\"W0104\"]\n")
    (root / "specs").mkdir()
    shutil.copy(TWO, root / "specs" / "toy_models.vspec")
    assert main(["generate", str(root / "specs" / "toy_models.vspec")]) == 0
    return root


def spec_of(project: Path) -> str:
    return str(project / "specs" / "toy_models.vspec")


def test_the_toy_has_two_models():
    spec = compile_spec(TWO)
    assert spec.models == ("toy", "flat")


def test_generate_writes_every_model_and_check_checks_them(project, capsys):
    gen = project / "generated" / "toy_models"
    assert sorted(p.relative_to(gen).as_posix() for p in gen.rglob("*.py")) == \
        ["flat/model.py", "flat/reference.py", "model.py", "reference.py"]
    assert "# model: flat (of toy, flat)\n" in (gen / "flat" / "reference.py").read_text()
    assert "# model:" not in (gen / "reference.py").read_text()  # the default's header is as before
    assert "TRANSLATION = 'flat'\n" in (gen / "flat" / "reference.py").read_text()
    assert "TRANSLATION = 'toy'\n" in (gen / "reference.py").read_text()
    capsys.readouterr()
    assert main(["generate", "--check", spec_of(project)]) == 0
    # a stale other model is found by --check
    other = gen / "flat" / "model.py"
    text = other.read_text()
    other.write_text(text + "# edited\n")
    try:
        assert main(["generate", "--check", spec_of(project)]) == 1
        assert f"stale: {other}" in capsys.readouterr().err
    finally:
        other.write_text(text)


def test_a_model_folder_never_names_a_generated_file(project):
    spec = compile_spec(TWO)
    with pytest.raises(ValueError):
        emit.out_dir(spec, project, "model.py")
    assert emit.out_dir(spec, project, "flat") == project / "toy_models" / "flat"
    assert emit.out_dir(spec, project, "toy") == project / "toy_models"


def test_check_verbose_lists_the_models(project, capsys):
    assert main(["check", "-v", spec_of(project)]) == 0
    assert "  models: toy (the default), flat\n" in capsys.readouterr().out


def test_docs_list_the_models(tmp_path):
    assert main(["doc", str(TWO), "-o", str(tmp_path)]) == 0
    md = (tmp_path / "toy_models.md").read_text()
    assert "- Models: `toy` (the default), `flat`" in md and "--model NAME" in md
    assert "<dt>models</dt>" in (tmp_path / "toy_models.html").read_text()


def test_cosim_runs_the_model_named(project, capsys, tmp_path):
    capsys.readouterr()
    vcd = ["--vcd-dir", str(tmp_path), "--quiet"]
    assert main(["cosim", spec_of(project), "--walks", "20", *vcd]) == 0
    out = capsys.readouterr().out
    assert out.startswith("toy_models (model toy): 20 walks, 0 mismatches")
    assert out.rstrip().endswith("note: this spec has 2 models: this run was of 'toy'; flat runs with --model NAME")
    assert main(["cosim", spec_of(project), "--walks", "20", "--model", "flat", "--json", *vcd]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spec"]["name"] == "toy_models" and data["spec"]["model"] == "flat"
    assert all(not k.startswith("page level 2") for k in data["coverage"]["hit"])  # flat has one level
    assert main(["schema", "cosim"]) == 0
    assert "model" in json.loads(capsys.readouterr().out)["$defs"]["SpecRef"]["properties"]


def test_replay_and_scenario_files_keep_the_model(project, capsys, tmp_path):
    capsys.readouterr()
    assert main(["cosim", spec_of(project), "--walks", "10", "--model", "flat", "--replay", "3",
                 "--vcd-dir", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "replay_3.json").read_text())
    assert saved["spec"]["model"] == "flat"
    capsys.readouterr()
    assert main(["cosim", spec_of(project), "--scenario", str(tmp_path / "replay_3.json"), "--json",
                 "--vcd-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["spec"]["model"] == "flat"
    assert main(["cosim", spec_of(project), "--scenario", str(tmp_path / "replay_3.json"), "--model", "toy"]) == 2
    assert "is of model 'flat'" in capsys.readouterr().err


def test_replay_commands_name_the_model():
    from codegen.verify.cosim import Report
    one = Report(spec_name="s", spec_path="/p/s.vspec", model="flat", models=("toy", "flat"), seed=1)
    assert shlex.split(one.command(("virtspec",), ["--replay", "2"]))[:5] == \
        ["virtspec", "cosim", "/p/s.vspec", "--model", "flat"]
    alone = Report(spec_name="s", spec_path="/p/s.vspec", model="toy", models=("toy",), seed=1)
    assert "--model" not in alone.command(("virtspec",), ["--replay", "2"])


def test_an_unknown_model_is_a_usage_error(project, capsys):
    for command in (["cosim", spec_of(project)], ["convert", spec_of(project)]):
        capsys.readouterr()
        assert main([*command, "--model", "nope"]) == 2
        err = capsys.readouterr().err
        assert f"usage: virtspec {command[0]}" in err
        assert "no model 'nope'; its models are: toy, flat (the first is the default)" in err


def test_convert_converts_the_model_named(project, capsys, tmp_path):
    capsys.readouterr()
    assert main(["convert", spec_of(project), "--model", "flat", "--hdl", "verilog", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "toy_models_flat.v").is_file()
    assert out.rstrip().endswith("note: this spec has 2 models: this run was of 'flat'; toy runs with --model NAME")
    if shutil.which("iverilog"):
        assert subprocess.run(["iverilog", "-o", str(tmp_path / "a.out"), str(tmp_path / "toy_models_flat.v")],
                              capture_output=True).returncode == 0


def test_a_model_not_generated_is_missing(project, capsys, tmp_path):
    """cosim --model reads that model's folder: missing there, it says so (exit 1)."""
    gen = tmp_path / "gen"
    shutil.copytree(project / "generated", gen)
    shutil.rmtree(gen / "toy_models" / "flat")
    capsys.readouterr()
    assert main(["cosim", spec_of(project), "--model", "flat", "--generated", str(gen)]) == 1
    assert "(model flat) are missing or stale" in capsys.readouterr().err
