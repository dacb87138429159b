"""The front end in one call: read, parse, elaborate, check, lint -> validated IR."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codegen import ir
from codegen.frontend import config as settings
from codegen.frontend.checks import check
from codegen.frontend.config import Config
from codegen.frontend.diagnostics import DiagnosticBag, Span, SpecError
from codegen.frontend.elaborate import Elaborator, flatten, spec_digest
from codegen.frontend.elaborate.scope import Module
from codegen.frontend.lint import lint


@dataclass(frozen=True)
class Compiled:
    """A compiled spec with what elaboration knew beyond the IR, for the dump
    (codegen/frontend/dump.py): the top file's Module (its imports lead to every other
    file's, and its `provenance` to where resolved expressions came from), the folder
    imports are confined to, each file's resolved path by its shown path, and the
    text of each file."""

    spec: ir.Spec
    module: Module
    root: Path
    files: dict[str, Path]
    sources: dict[str, str]


def compile_spec(path: str | Path, bag: DiagnosticBag | None = None, config: Config | None = None) -> ir.Spec:
    """Return the validated IR of the spec at `path`; raise SpecError with every
    diagnostic of the first stage that failed. Warnings of a valid spec stay in `bag`,
    less those `config` waives."""
    return compile_full(path, bag, config).spec


def compile_full(path: str | Path, bag: DiagnosticBag | None = None, config: Config | None = None) -> Compiled:
    """compile_spec, keeping what the dump needs besides the IR."""
    bag = bag if bag is not None else DiagnosticBag()
    elab = Elaborator(bag)
    module = elab.load(Path(path))
    bag.stop_if_errors()
    assert module is not None
    if not module.regimes and not module.nested and not module.units:
        bag.error("E0306", "the spec declares no regime, nested translation or unit to generate; add one: "
                  "`regime NAME { ... }`, `nested NAME { guest REGIME; host REGIME; ... }` or `unit NAME { ... }` "
                  "(a file of shared declarations is imported by a spec, not compiled on its own)",
                  Span(path=module.path))
        bag.stop_if_errors()
    spec = flatten(module, spec_digest({m.path: bag.sources[m.path] for m in elab.modules.values()}))
    check(spec, bag)
    bag.stop_if_errors()
    lint(spec, set().union(*(m.used for m in elab.modules.values())), bag)
    if config is not None:
        bag.drop_waived(config.waived)
    return Compiled(spec, module, elab.root_dir, {m.path: p for (p, _), m in elab.modules.items()}, dict(bag.sources))


def compile_in_project(path: Path, werror: bool = False) -> tuple[ir.Spec | None, DiagnosticBag]:
    """Compile one spec with the settings of its project (the nearest pyproject.toml):
    the spec, or None when it has errors (or warnings, under --Werror or `werror` in the
    settings), and the diagnostics left after waivers. A malformed [tool.virtspec]
    raises config.ConfigError, a usage error."""
    compiled, bag = compile_full_in_project(path, werror)
    return (compiled.spec if compiled is not None else None), bag


def compile_full_in_project(path: Path, werror: bool = False) -> tuple[Compiled | None, DiagnosticBag]:
    """compile_in_project, keeping what the dump needs besides the IR."""
    bag = DiagnosticBag()
    project = settings.load(path)
    try:
        compiled = compile_full(path, bag, project)
    except SpecError:
        return None, bag
    if bag.warnings and (werror or project.werror):
        for d in bag.warnings:
            d.severity, d.message = "error", f"{d.message} [warning made an error by --Werror]"
        return None, bag
    return compiled, bag
