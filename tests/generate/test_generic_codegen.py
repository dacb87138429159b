"""Specs are data, codegen is generic: no architecture is named in codegen/ or grammar/."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORDS = re.compile(r"\b(amd|intel|npt|ept|vmcb|vmcs|x86|x86_64|svm|vmx|iommu|vt-d|vtd|pml4|cr3|riscv|arm|dte|irte|"
                   r"msi|devfn|deviceid|device table|context table|root table|event log|interrupt remapping)\b", re.I)


# The benchmark (codegen/bench/) generates nothing: it times the shipped specs by name and
# races the generated x86-64 reference against a hand-written walker of that one format.
WORKLOADS = ROOT / "codegen" / "bench"


def test_codegen_names_no_architecture():
    offenders = []
    for path in sorted(list((ROOT / "codegen").rglob("*")) + list((ROOT / "grammar").rglob("*"))):
        if path.is_file() and path.suffix in (".py", ".j2", ".lark") and WORKLOADS not in path.parents:
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if WORDS.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
