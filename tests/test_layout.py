"""codegen/ is laid out by pipeline stage and imports run one way:
cli -> bench, export -> verify -> generate -> frontend -> ir (shipped, the data files, is read by
any stage, and so are progress, the progress bars, and user_cache, the cache folder). No module imports, directly or through others, a module that imports it."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODEGEN = ROOT / "codegen"
ORDER = {"ir": 0, "shipped": 0, "progress": 0, "user_cache": 0, "frontend": 1, "generate": 2, "verify": 3, "export": 4, "bench": 4, "cli": 5, "__main__": 6}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in CODEGEN.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """The codegen modules `path` imports (at any depth in the file: a function-level
    import is still a dependency)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("codegen"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in MODULES else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("codegen"))
    return out - {"codegen"}


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def stage(module: str) -> str:
    return module.split(".")[1] if "." in module else "codegen"


def test_every_module_is_in_a_stage():
    assert {stage(m) for m in MODULES} - {"codegen"} <= set(ORDER)


def test_imports_run_from_the_command_line_down_to_the_ir():
    upward = sorted(f"{a} imports {b}" for a, deps in GRAPH.items() for b in deps
                    if stage(a) in ORDER and stage(b) in ORDER and ORDER[stage(b)] > ORDER[stage(a)])
    assert upward == []


def test_no_import_circles():
    """Depth-first search for a back edge among module-to-module imports (a package's
    __init__ re-exporting its own modules does not count as a circle with them)."""
    circles = []
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(GRAPH.get(m, ())):
            if d.startswith(m + ".") or m.startswith(d + "."):
                continue  # a package and its own modules
            if state.get(d) == 1:
                circles.append(" -> ".join(path[path.index(d):] + [d]) if d in path else f"{m} -> {d}")
            elif d in GRAPH and d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert circles == []


# words that name an instruction set, a vendor or one architecture's structures
ARCHITECTURE_WORDS = ("x86", "amd", "amd64", "intel", "ia-32", "ia32", "svm", "vmx", "vt-x", "vt-d", "ept", "npt",
                      "vmcb", "vmcs", "iommu")


def test_codegen_names_no_architecture():
    """Specs are data, codegen is generic: no module or template of codegen/ names a shipped spec
    or an architecture (what the benchmark measures is data too: workloads/bench.toml)."""
    import re
    stems = [p.stem for p in (ROOT / "specs").glob("*.vspec")]
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in (*stems, *ARCHITECTURE_WORDS)) + r")\b", re.I)
    found = [f"{p.relative_to(ROOT)}:{n}: {m.group(0)}"
             for p in sorted([*CODEGEN.rglob("*.py"), *CODEGEN.rglob("*.j2")])
             for n, line in enumerate(p.read_text().splitlines(), 1) for m in [pattern.search(line)] if m]
    assert not found, "\n".join(found)
