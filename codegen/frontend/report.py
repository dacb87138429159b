"""The machine-readable reports of `virtspec check --format json|sarif`.

The diagnostics of a run become one CheckReport (pydantic models, so `virtspec schema
check` publishes its JSON Schema and the output cannot drift from it); the SARIF 2.1.0
log is built from that report, so the formats cannot disagree. Paths are shown as the
text rendering shows them (relative to the spec's project folder when the file is in
it); SARIF gives them as URIs relative to the project root, `%SRCROOT%`. Lines and
columns are 1-based and counted in characters (Unicode code points), the end exclusive,
in every format: SARIF's endColumn is "the column of the character following the end of
the region", so the numbers carry over unchanged.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from codegen.frontend import catalogue
from codegen.frontend.diagnostics import Diagnostic, DiagnosticBag
from codegen.frontend.elaborate.elaborator import display_path, import_root
from codegen.ir.span import Span

FORMAT_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


class Location(BaseModel):
    """A place in a spec file: 1-based line and column counted in characters (Unicode
    code points), the end exclusive."""

    path: str = Field(description="the file as the text output shows it: relative to the folder of the spec's "
                                  "pyproject.toml when it is inside it, else to the working directory, else absolute")
    line: int
    col: int
    end_line: int
    end_col: int = Field(description="the column just past the last character (exclusive)")


class Note(BaseModel):
    """A note attached to a diagnostic: more context, often at another place."""

    message: str
    span: Location | None = Field(description="where the note points; null for a note about no place")


class DiagnosticReport(BaseModel):
    code: str = Field(description="the diagnostic code, e.g. E0402 (`virtspec explain CODE` explains it)")
    severity: Literal["error", "warning"] = Field(
        description="'error' for errors and for warnings made errors by --Werror or `werror` in the settings")
    message: str
    summary: str = Field(description="the catalogue's one-line summary of the code")
    span: Location
    notes: list[Note]


class FileReport(BaseModel):
    """One spec file named on the command line (or found in specs/), with the diagnostics
    of compiling it (imported files' diagnostics included, with their own paths)."""

    path: str = Field(description="the spec as the text output shows it")
    status: Literal["ok", "error"]
    diagnostics: list[DiagnosticReport] = Field(description="in the order the text output prints this file's; "
                                                            "warnings waived by the project's settings are left out")


class Totals(BaseModel):
    files: int
    ok: int = Field(description="files with status 'ok'")
    failed: int = Field(description="files with status 'error'")
    errors: int = Field(description="diagnostics of severity 'error'")
    warnings: int = Field(description="diagnostics of severity 'warning'")


class CheckReport(BaseModel):
    """What `virtspec check --format json` prints: one JSON document."""

    format_version: Literal[1] = Field(description="the version of this document's layout")
    tool: Literal["virtspec"]
    version: str = Field(description="the version of virtspec")
    project_root: str = Field(description="the absolute path of the project root of the run")
    files: list[FileReport]
    totals: Totals


def _location(span: Span) -> Location:
    return Location(path=span.path, line=span.line, col=span.col, end_line=span.end_line, end_col=span.end_col)


def _diagnostic(d: Diagnostic) -> DiagnosticReport:
    entry = catalogue.lookup(d.code)
    return DiagnosticReport(code=d.code, severity="warning" if d.severity == "warning" else "error",
                            message=d.message, summary=entry.summary if entry else "", span=_location(d.span),
                            notes=[Note(message=text, span=None if span is None else _location(span))
                                   for text, span in d.notes])


def shown_path(path: Path) -> str:
    """A spec named on the command line as the diagnostics show it (display_path)."""
    try:
        resolved = path.resolve()
        return display_path(resolved, import_root(resolved))
    except (OSError, RuntimeError, ValueError):
        return str(path)


def file_report(path: Path, ok: bool, bag: DiagnosticBag) -> FileReport:
    return FileReport(path=shown_path(path), status="ok" if ok else "error",
                      diagnostics=[_diagnostic(d) for d in bag.items])


def check_report(files: list[FileReport], project_root: Path, version: str) -> CheckReport:
    every = [d for f in files for d in f.diagnostics]
    failed = sum(f.status == "error" for f in files)
    return CheckReport(format_version=FORMAT_VERSION, tool="virtspec", version=version,
                       project_root=str(project_root), files=files,
                       totals=Totals(files=len(files), ok=len(files) - failed, failed=failed,
                                     errors=sum(d.severity == "error" for d in every),
                                     warnings=sum(d.severity == "warning" for d in every)))


def schema() -> dict:
    """The JSON Schema of the document `virtspec check --format json` prints."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **CheckReport.model_json_schema(mode="serialization")}


# ---------------------------------------------------------------------------- SARIF
def sarif(report: CheckReport, checked: list[Path] = ()) -> dict:
    """The report as a SARIF 2.1.0 log (what GitHub code scanning reads). `checked` are
    the spec files of the run as named: a relative path in the report is found again
    under their import roots (project folders, else their own folders, where display_path made it relative), the project
    root or the working directory."""
    root = Path(report.project_root)
    bases = [root]
    for p in checked:
        try:
            folder = import_root(p.resolve())
        except (OSError, RuntimeError, ValueError):
            folder = None
        if folder is not None and folder not in bases:
            bases.append(folder)
    bases.append(Path.cwd())

    def artifact(path: str) -> dict:
        return _artifact(path, bases, root)

    codes = sorted({d.code for f in report.files for d in f.diagnostics})
    rules = [_rule(code) for code in codes]
    results = [_result(d, codes.index(d.code), artifact) for f in report.files for d in f.diagnostics]
    root_uri = root.as_uri()
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "virtspec", "version": report.version, "rules": rules}},
            "originalUriBaseIds": {SRCROOT: {"uri": root_uri if root_uri.endswith("/") else root_uri + "/"}},
            "artifacts": [{"location": artifact(f.path), "roles": ["analysisTarget"]} for f in report.files],
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": True}],
            "results": results,
        }],
    }


def _rule(code: str) -> dict:
    entry = catalogue.lookup(code)
    summary, explanation = (entry.summary, entry.explanation) if entry else (code, code)
    return {"id": code, "shortDescription": {"text": summary}, "fullDescription": {"text": explanation},
            "help": {"text": explanation},
            "defaultConfiguration": {"level": "warning" if code.startswith("W") else "error"}}


def _result(d: DiagnosticReport, rule_index: int, artifact) -> dict:
    out = {"ruleId": d.code, "ruleIndex": rule_index, "level": d.severity, "message": {"text": d.message},
           "locations": [{"physicalLocation": _physical(d.span, artifact)}]}
    if d.notes:
        out["relatedLocations"] = [
            {"id": i, "message": {"text": n.message}, **({"physicalLocation": _physical(n.span, artifact)}
                                                           if n.span is not None else {})}
            for i, n in enumerate(d.notes)]
    return out


def _physical(loc: Location, artifact) -> dict:
    start = (max(1, loc.line), max(1, loc.col))
    region = {"startLine": start[0], "startColumn": start[1]}
    if (loc.end_line, loc.end_col) >= start:  # both exclusive-end conventions agree: copy as is
        region |= {"endLine": loc.end_line, "endColumn": loc.end_col}
    return {"artifactLocation": artifact(loc.path), "region": region}


def _artifact(path: str, bases: list[Path], root: Path) -> dict:
    """An artifactLocation: relative to %SRCROOT% when the file is under the project root,
    else an absolute file URI."""
    p = Path(path)
    if not p.is_absolute():
        p = next((b / p for b in bases if _is_file(b / p)), bases[0] / p)
    p = Path(os.path.normpath(p))
    try:
        rel = p.relative_to(root)
    except ValueError:
        return {"uri": p.as_uri()}
    return {"uri": quote(rel.as_posix(), errors="surrogateescape"), "uriBaseId": SRCROOT}


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False
