"""The command line follows the conventions users know: --version and --help (also as
`python -m codegen`), help text on every option with its default, a subcommand's own
usage line on its usage errors, plurals, progress bars only on a terminal (and never
with --quiet), the environment errors of `convert --compile`, --show-root."""
import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codegen import cli
from codegen.bench import bench, fuzz, workloads
from codegen.cli import main
from codegen.cli._common import worth_saying
from codegen.generate import hdl
from codegen.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
PAGING = str(SPECS / "x86_64_paging.vspec")


def run(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120, **kw)


def fake_terminal(monkeypatch) -> None:
    """Make the captured standard error say it is a terminal."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


# ---- --version, --help, python -m codegen ----------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"virtspec {cli._version()}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", cli._version())


def test_python_m_codegen_is_the_command():
    as_module = run("-m", "codegen", "--help")
    as_script = run("cli.py", "--help")
    assert as_module.returncode == 0 and as_module.stderr == ""
    assert as_module.stdout.startswith("usage: virtspec ")
    assert as_module.stdout == as_script.stdout
    for name in ("check", "generate", "doc", "fmt", "cosim", "convert", "cocotb", "bench"):
        assert re.search(rf"^    {name} ", as_module.stdout, re.M), name
    version = run("-m", "codegen", "--version")
    assert version.returncode == 0 and version.stdout.startswith("virtspec ")


def _subparsers(p: argparse.ArgumentParser):
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _options():
    top = cli.parser()
    yield "virtspec", top, [a for a in top._actions if not isinstance(a, argparse._SubParsersAction)]
    for name, sub in _subparsers(top):
        yield name, sub, sub._actions


def test_every_option_and_argument_has_help():
    missing = [(name, a.option_strings or a.dest) for name, _, actions in _options() for a in actions
               if not (a.help or "").strip()]
    assert not missing


def test_meaningful_defaults_are_shown_in_help():
    checked = 0
    for name, p, actions in _options():
        text = " ".join(p.format_help().split())  # wrapped lines joined
        for a in actions:
            if a.option_strings and worth_saying(a.default):
                assert f"(default: {a.default})" in text, (name, a.option_strings)
                checked += 1
            elif a.option_strings and a.default is None and a.nargs != 0 and a.help:
                # an option whose default depends on the project says what it is; --mix, --replay
                # and --scenario are off unless given
                assert "default" in a.help or a.choices or a.dest in ("mix", "replay", "scenario"), \
                    (name, a.option_strings)
    assert checked >= 5  # cosim --walks/--seed/--max-failures, bench --fuzz, ...


def test_flag_defaults_are_not_said():
    assert not worth_saying(False) and not worth_saying(None) and not worth_saying(argparse.SUPPRESS)
    assert worth_saying(1) and worth_saying(0)  # 1 == True and 0 == False, but they are counts


# ---- usage errors name their subcommand -------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["cosim", "--walks", "0", PAGING], "expected --walks (or --events) of at least 1, not 0"),
    (["cosim", "--stall", "95", PAGING], "expected --stall as a percentage from 0 to 90, not 95"),
    (["convert", "--top", "bad name", PAGING], "--top: expected a Verilog and VHDL identifier, not 'bad name'"),
    (["convert", "--hdl", "verilog"], "the following arguments are required: spec"),
    (["cosim", "--walks", "many", PAGING], "argument --walks/--events: invalid int value: 'many'"),
    (["fmt", "-", PAGING], "expected - alone (standard input), not - with 1 more spec file(s)"),
    (["bench", "--fuzz", "-1"], "--fuzz: expected a count of inputs, 0 or more, not -1"),
    (["bench", "--only", "hz"], "--only: expected section letters among abcdegh, not 'hz'"),
])
def test_usage_error_prints_the_subcommand_usage(capsys, argv, expected):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"usage: virtspec {argv[0]} ")
    assert f"virtspec {argv[0]}: error: {expected}" in captured.err
    assert "Traceback" not in captured.err


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("usage: virtspec ")


# ---- plurals -----------------------------------------------------------------------------------

def test_one_spec_one_file(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "-o", str(out), PAGING]) == 0
    assert "generated 1 spec in " in capsys.readouterr().out
    (out / "x86_64_paging" / "model.py").unlink()
    assert main(["generate", "-o", str(out), PAGING]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^generated 1 spec in \d+\.\d\d s \(1 file changed\)$", text, re.M), text
    assert main(["generate", "--check", "-o", str(out), PAGING]) == 0
    assert re.search(r"up to date \(1 spec, ", capsys.readouterr().out)


# ---- convert -----------------------------------------------------------------------------------

def test_convert_hdl_option_leaves_the_spec_alone(tmp_path, capsys):
    out = tmp_path / "hdl"
    assert main(["convert", "--hdl", "verilog", PAGING, "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["x86_64_paging_long_mode.v"]
    assert f"wrote {out / 'x86_64_paging_long_mode.v'}" in capsys.readouterr().out


def test_convert_top_names_the_module(tmp_path, capsys):
    assert main(["convert", "--hdl", "verilog", "--top", "walker", PAGING, "-o", str(tmp_path)]) == 0
    assert re.search(r"^module walker\b", (tmp_path / "walker.v").read_text(), re.M)


def test_convert_to_an_unwritable_folder_is_a_usage_error(tmp_path, capsys, monkeypatch):
    """Issue 12 (guard: convert already reported this): exit 2, never a traceback. As root
    a chmod 0o555 folder stops no write, so the folder is put under a regular file, and
    Permission denied comes from a monkeypatched write."""
    (tmp_path / "afile").write_text("")
    assert main(["convert", "--hdl", "verilog", PAGING, "-o", str(tmp_path / "afile" / "sub")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write HDL to '{tmp_path / 'afile' / 'sub'}': Not a directory" in err and "Traceback" not in err

    def denied(self, *a, **k):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", denied)
    assert main(["convert", "--hdl", "verilog", PAGING, "-o", str(tmp_path / "out")]) == 2
    assert f"cannot write HDL to '{tmp_path / 'out'}': Permission denied" in capsys.readouterr().err


def test_convert_compile_without_iverilog(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(hdl.shutil, "which", lambda name, *a, **k: None)
    assert main(["convert", "--hdl", "verilog", "--compile", PAGING, "-o", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "verilog: skipped: iverilog is not installed" in captured.err
    assert "Traceback" not in captured.err
    assert (tmp_path / "x86_64_paging_long_mode.v").exists()  # converted, only not compiled


def test_convert_compile_with_an_empty_path(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    r = run("-m", "codegen", "convert", "--hdl", "vhdl", "--compile", PAGING, "-o", str(tmp_path / "out"),
            env={"PATH": str(empty), "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2, r.stderr
    assert "vhdl: skipped: ghdl is not installed" in r.stderr and "Traceback" not in r.stderr


# ---- --show-root -------------------------------------------------------------------------------

def test_show_root_without_a_project(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--show-root"]) == 0
    assert capsys.readouterr().out == f"{tmp_path.resolve()}\n(found as the working directory: no pyproject.toml above it)\n"


def test_show_root_in_a_project(tmp_path, capsys, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    inner = tmp_path / "specs" / "deep"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    assert main(["--show-root"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert Path(out[0]).resolve() == tmp_path.resolve()
    assert out[1].startswith("(found as the folder of the nearest pyproject.toml") and "pyproject.toml" in out[1]


# ---- progress bars -----------------------------------------------------------------------------

BAR = re.compile(r"\d+/(\d+) \[[\d:]+<[\d:?]+, +[\d.?]+ (\w+)/s\]")


def bars(err: str) -> list[tuple[str, str]]:
    """(total, unit) of each bar drawn in `err`."""
    return BAR.findall(err)


def test_progress_is_silent_off_a_terminal(capsys):
    with Progress(10, "x", "walks") as p:
        for i in range(10):
            p(i + 1, 10)
    assert capsys.readouterr().err == ""


def test_progress_draws_on_a_terminal(capsys, monkeypatch):
    fake_terminal(monkeypatch)
    with Progress(10, "x", "walks") as p:
        for i in range(10):
            p(i + 1, 10)
    err = capsys.readouterr().err
    assert ("10", "walks") in bars(err), err
    assert err.startswith("\rx:   0%|")
    with Progress(10, "x", "walks", quiet=True) as p:
        p(10, 10)
    assert capsys.readouterr().err == ""


def test_cosim_bar(tmp_path, capsys, monkeypatch):
    argv = ["cosim", "--walks", "20", "--vcd-dir", str(tmp_path), PAGING]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "20 walks, 0 mismatches" in captured.out  # not a terminal: nothing
    fake_terminal(monkeypatch)
    assert main(argv) == 0
    assert ("20", "walks") in bars(capsys.readouterr().err)
    assert main(argv + ["--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_generate_bar(tmp_path, capsys, monkeypatch):
    argv = ["generate", "--check", str(SPECS / "amd_npt.vspec"), PAGING]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
    fake_terminal(monkeypatch)
    assert main(argv) == 0
    assert ("2", "specs") in bars(capsys.readouterr().err)
    assert main(argv + ["--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["generate", "--check", PAGING]) == 0  # one spec: no bar
    assert capsys.readouterr().err == ""


def test_doc_bar(tmp_path, capsys, monkeypatch):
    argv = ["doc", "-o", str(tmp_path), str(SPECS / "amd_npt.vspec"), PAGING]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
    fake_terminal(monkeypatch)
    assert main(argv) == 0
    assert ("2", "specs") in bars(capsys.readouterr().err)


def test_fuzz_bar(tmp_path, capsys, monkeypatch):
    argv = ["--inputs", "4", "--family", "bytes", "--save", str(tmp_path)]
    assert fuzz.main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "4 inputs in" in captured.out
    fake_terminal(monkeypatch)
    assert fuzz.main(argv) == 0
    assert ("4", "inputs") in bars(capsys.readouterr().err)
    assert fuzz.main(argv + ["--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_bench_bar(capsys, monkeypatch):
    """The bar of `bench`, one step per measure (the measures themselves are faked: the
    benchmark takes minutes)."""
    def measure(quick, fuzz_inputs, quiet, spec_paths, progress, sections):
        for _ in range(progress.bar.total if progress.bar else 0):
            progress.advance()
        return [("(a) measure", "workload", "result")], 0.5, {"spec": {"pages": 3}}

    monkeypatch.setattr(bench, "_measure", measure)
    assert main(["bench", "--quick"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "(a) measure" in captured.out
    fake_terminal(monkeypatch)
    assert main(["bench", "--quick", "--fuzz", "3"]) == 0
    # (c), (d) and (h) step once per spec the workloads name, (e) and (g) once per shipped spec,
    # (g) 5 more
    load = workloads.load()
    total = (2 + len(load.model_speed) + len(load.walks_2d.specs) + 2 * len(list(SPECS.glob("*.vspec"))) + 5
             + len(load.caches.specs) + 1)
    assert (str(total), "steps") in bars(capsys.readouterr().err)
    assert main(["bench", "--quick", "--only", "h"]) == 0
    assert (str(len(load.caches.specs)), "steps") in bars(capsys.readouterr().err)
    assert main(["bench", "--quick", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_bench_json_carries_rows_and_the_cache_counts(capsys, monkeypatch):
    import json

    def measure(quick, fuzz_inputs, quiet, spec_paths, progress, sections):
        assert sections == "h"
        return [("(h) spec", "mix", "4.00 refs/miss")], 0.5, {"spec": {"pages": 3}}

    monkeypatch.setattr(bench, "_measure", measure)
    assert main(["bench", "--only", "h", "--json", "--quiet"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["rows"] == [["(h) spec", "mix", "4.00 refs/miss"]] and got["caches"] == {"spec": {"pages": 3}}


# ---- exit status 3: an internal error ----------------------------------------------------------

def test_an_internal_error_is_exit_3_with_the_traceback_in_a_file(capsys, monkeypatch, tmp_path):
    """Issue 12: an unexpected exception printed a bare traceback (exit 1). Now one
    paragraph says it is a bug in virtspec, names the command and the file with the
    traceback (in the system's temporary folder), and the exit status is 3."""
    import tempfile

    from codegen.cli import check

    def broken(args):
        raise ZeroDivisionError("the bug under test")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(check, "cmd_check", broken)
    assert main(["check", PAGING]) == 3
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and captured.out == ""
    assert err.startswith("virtspec check: internal error: ZeroDivisionError: the bug under test. This is a bug in "
                          "virtspec") and err.count("\n") == 1
    (crash,) = tmp_path.glob("virtspec-crash-*.txt")
    assert str(crash) in err
    text = crash.read_text()
    assert "Traceback" in text and "the bug under test" in text and "in broken" in text


def test_help_lists_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 success; 1 the input is wrong" in text and "3 an internal error, a bug in virtspec" in text


def test_cosim_summary_claims_full_coverage_only_when_nothing_is_missing(capsys):
    """A short run misses points: the summary lists them and does not also say that
    everything was covered (it once printed both)."""
    assert main(["cosim", "--walks", "5", "--vcd-dir", "/tmp", PAGING]) == 0
    out = capsys.readouterr().out
    assert "not covered:" in out
    assert "was covered" not in out
