"""What every subcommand shares: usage errors, the user's project, the spec files of a
run, compiling them with the project's settings, and reporting their diagnostics."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen import ir
from codegen.frontend import config
from codegen.frontend.config import Project, find_project
from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.pipeline import Compiled, compile_full_in_project
from codegen.progress import Progress
from codegen.progress import write as progress_write


class Usage(Exception):
    """A usage or environment error: exit status 2, after the subcommand's usage line."""


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 spec', '2 specs' (`nouns` for irregular plurals)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, when it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" not in text and "default:" not in text and action.option_strings \
                and worth_saying(action.default):
            text += " (default: %(default)s)"
        return text


def worth_saying(default) -> bool:
    """Whether an option's default is shown in --help: not for a flag (True/False), an
    absent value (None, an empty list) or a suppressed one. Compared by type, not by
    `in (False, True)`: 0 == False and 1 == True, and `--seed 1` has a default to say."""
    return not (default is None or isinstance(default, bool) or default == [] or default == argparse.SUPPRESS)


def bar(args: argparse.Namespace, total: int, desc: str, unit: str = "specs") -> Progress:
    """The progress bar of a step over the specs of a run: drawn on a terminal when there
    is more than one spec and no --quiet."""
    return Progress(total, desc, unit, quiet=getattr(args, "quiet", False) or total < 2)


def project_of(args: argparse.Namespace) -> Project:
    """The project of this run: found from the first spec named, else from the working
    directory (config.find_project)."""
    named = [p for p in getattr(args, "spec", None) or [] if isinstance(p, str) and p != "-"]
    if isinstance(getattr(args, "spec", None), str):
        named = [args.spec]
    start = None
    if named:
        try:
            first = Path(named[0])
            start = first.parent if not first.is_dir() else first
        except (OSError, ValueError):
            start = None
    return find_project(start)


def output_folder(value: str | None, default: Path) -> Path:
    """An -o/--output folder: as given, relative to the working directory; else the
    project's default."""
    return Path(value) if value else default


def spec_paths(paths: list[str], project: Project, command: str) -> list[Path]:
    """The spec files of a run: those named, else every *.vspec of the project's specs/."""
    if paths:
        out = [Path(p) for p in paths]
        for p in out:
            problem = _not_a_file(p)
            if problem:
                raise Usage(problem)
        return out
    if not project.specs.is_dir():
        raise Usage(f"no spec file named and no specs/ folder in the project root {project.root} ({project.found}); "
                    f"name the spec files: `virtspec {command} my.vspec`")
    found = sorted(project.specs.glob("*.vspec"))
    if not found:
        raise Usage(f"no spec file named and no *.vspec file in {project.specs}; name the spec files: "
                    f"`virtspec {command} my.vspec`")
    return found


def one_spec(path: str) -> list[Path]:
    problem = _not_a_file(Path(path))
    if problem:
        raise Usage(problem)
    return [Path(path)]


def _not_a_file(p: Path) -> str | None:
    """Why `p` cannot be a spec file given on the command line, or None. Never raises:
    a name too long or with a NUL byte is a usage error, not a traceback."""
    try:
        if p.is_file():
            return None
        if p.is_dir():
            return f"'{p}' is a directory; name the spec files in it (e.g. {p / '*.vspec'})"
        if p.exists():
            return f"'{p}' is not a regular file (a device, a pipe or a socket), not a spec file"
    except (OSError, ValueError) as exc:
        return f"cannot use '{str(p)[:200]}' as a spec file: {getattr(exc, 'strerror', None) or exc}"
    return f"no such spec file: {p}"


def compile_all(paths: list[Path], werror: bool = False,
                progress: Progress | None = None) -> tuple[list[ir.Spec], list[DiagnosticBag]]:
    """Compile each spec with the settings of its pyproject.toml. The warnings of a spec
    that compiled are printed here; a spec with errors (or, under --Werror or `werror`
    in the settings, with warnings) is returned in `failed` for report(). `progress`
    advances by one for each spec."""
    compiled, failed = compile_all_full(paths, werror, progress)
    return [c.spec for c in compiled], failed


def compile_all_full(paths: list[Path], werror: bool = False,
                     progress: Progress | None = None) -> tuple[list[Compiled], list[DiagnosticBag]]:
    """compile_all, keeping what the dump needs besides the IR."""
    done, failed = [], []
    warned = 0
    for p in paths:
        try:
            compiled, bag = compile_full_in_project(p, werror)
        except config.ConfigError as exc:
            raise Usage(str(exc)) from None
        if progress:
            progress.advance()
        if compiled is None:
            failed.append(bag)
            continue
        if bag.items:
            progress_write(bag.render())  # above the bar, if one is drawn
            warned += len(bag.warnings)
        done.append(compiled)
    if warned and not failed:
        print(f"{plural(warned, 'warning')} (`virtspec explain CODE` tells more; "
              "waive a code under [tool.virtspec] in pyproject.toml)", file=sys.stderr)
    return done, failed


def report(failed: list[DiagnosticBag]) -> None:
    for bag in failed:
        print(bag.render(), file=sys.stderr)
    n = sum(len(b.errors) for b in failed)
    w = sum(len(b.warnings) for b in failed)
    if n:
        print(plural(n, "error") + (f" and {plural(w, 'warning')}" if w else "") + " found", file=sys.stderr)


def name_clashes(specs: list[ir.Spec], paths: list[Path], reserved: tuple[str, ...] = ()) -> DiagnosticBag:
    """E0203 for each spec whose outputs would overwrite another's: a second file whose
    declared name keys the same outputs as an earlier one (emit.output_name, compared
    without case, as a case-insensitive file system does), and a name in `reserved`
    (the docs' index). `specs` are compiled from `paths`, in order."""
    from codegen.generate import emit
    bag = DiagnosticBag()
    seen: dict[str, tuple[ir.Spec, Path]] = {}
    for spec, path in zip(specs, paths):
        key = emit.output_name(spec)
        first = seen.get(key.casefold())
        if first is not None and _same_file(first[1], path):
            continue  # one file named twice: the same outputs, written once
        if first is None:
            seen[key.casefold()] = (spec, path)
            if key.casefold() not in reserved:
                continue
        _keep_source(bag, spec, path)
        if first is None:
            bag.error("E0203", f"the spec name '{spec.name}' is reserved here: its reference pages would replace "
                      f"the {key}.md and {key}.html of the folder; rename the spec with `spec NEW_NAME;`", spec.span)
            continue
        _keep_source(bag, first[0], first[1])
        same = "the same spec name" if first[0].name == spec.name else \
            f"a spec name that differs from '{first[0].name}' only in case"
        bag.error("E0203", f"'{path}' declares {same} as '{first[1]}' ('{spec.name}'); outputs are keyed by the "
                  f"declared name (generated/{key}/, docs/{key}.md), so one would overwrite the other: give each "
                  "spec its own name with `spec NAME;`", spec.span,
                  (f"'{first[0].name}' is declared here, by '{first[1]}'", first[0].span))
    return bag


def _keep_source(bag: DiagnosticBag, spec: ir.Spec, path: Path) -> None:
    """The text of a spec named on the command line, for the excerpt under E0203."""
    try:
        bag.sources.setdefault(spec.span.path, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        pass


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def refuse_clashes(specs: list[ir.Spec], paths: list[Path], reserved: tuple[str, ...] = ()) -> bool:
    """Report name_clashes (an input error: exit status 1), before anything is written;
    True if there is any."""
    bag = name_clashes(specs, paths, reserved)
    if bag.errors:
        report([bag])
        print("nothing was written", file=sys.stderr)
    return bool(bag.errors)


def compile_one(path: str) -> ir.Spec | None:
    """The one spec of cosim and convert; None (after reporting) when it fails."""
    compiled = compile_one_full(path)
    return compiled.spec if compiled is not None else None


def compile_one_full(path: str) -> Compiled | None:
    """compile_one, keeping what the dump needs besides the IR (for `virtspec dump`)."""
    compiled, failed = compile_all_full(one_spec(path))
    report(failed)
    return None if failed else compiled[0]


def compile_with_models(path: str, generated: str | None, project: Project,
                        model: str | None = None) -> tuple[ir.Spec | None, Path]:
    """The one spec of cosim and convert, as the model `model` (default: the spec's
    default model; see Spec.models), and the folder of that model's generated files
    (under `--generated`, else the project's generated/). The spec is None, after
    reporting, when it fails to compile or its models are missing or stale: both
    commands run the models of the spec as it is now, never older ones. A name that is
    not one of the spec's models is a usage error that lists them."""
    from codegen.generate import emit
    spec = compile_one(path)
    if spec is None:
        return None, Path()
    if model is not None and model not in spec.models:
        raise Usage(f"--model: spec '{spec.name}' has no model '{model}'; its models are: "
                    f"{', '.join(spec.models)} (the first is the default)")
    model = model or spec.models[0]
    spec = spec.for_model(model)
    directory = emit.out_dir(spec, output_folder(generated, project.generated), model)
    if emit.stale(emit.render(spec), directory):
        print(f"generated files for {spec.path}{model_note(spec)} are missing or stale in {directory}: run "
              f"`virtspec generate {path}`", file=sys.stderr)
        return None, directory
    return spec, directory


def model_note(spec: ir.Spec) -> str:
    """' (model NAME)' for a model other than the default, else ''."""
    return f" (model {spec.top_name})" if spec.top_name else ""


def other_models_note(models: tuple[str, ...], ran: str) -> str | None:
    """The closing note of a text summary when the spec has models besides the one run."""
    others = [m for m in models if m != ran]
    if not others:
        return None
    return (f"note: this spec has {plural(len(models), 'model')}: this run was of '{ran}'; "
            f"{', '.join(others)} {'runs' if len(others) == 1 else 'run'} with --model NAME")


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """--model NAME of cosim and convert: which of the spec's models runs."""
    parser.add_argument("--model", metavar="NAME", default=None,
                        help="which model of the spec (its own regimes, compositions and units that nothing else in "
                             "it uses; `virtspec check -v` lists them) (default: the spec's default model)")
