"""Shared fixtures: the shipped specs compiled once, and their generated modules."""
from pathlib import Path

import pytest

from codegen.frontend.pipeline import compile_spec
from codegen.verify import harness

ROOT = Path(__file__).resolve().parent.parent
SPECS = {p.stem: p for p in sorted((ROOT / "specs").glob("*.vspec"))}


@pytest.fixture(scope="session")
def specs():
    return {name: compile_spec(path) for name, path in SPECS.items()}


@pytest.fixture(scope="session")
def generated():
    """(reference, model) modules of each shipped spec, from generated/."""
    return {name: harness.load_generated(ROOT / "generated" / name) for name in SPECS}


# tests that take a minute or more on two cores even outside `slow` (synthesis of each
# shipped model, the mutation run, regenerating every spec): started first, after the slow
# ones, so that none of them is the last to start
LONG_FIRST = ("test_verilog_synthesizes_without_latches_or_loops", "test_mutated_generated_reference_is_caught",
              "test_generate_check_passes_and_detects_staleness", "test_checked_in_files_are_fresh")


def pytest_collection_modifyitems(config, items):
    """Run the `slow` tests first, then the long ones of LONG_FIRST (stable order otherwise).
    Under pytest-xdist (after the xdist_group groups, which `--dist loadgroup` hands out
    first) the long runs then start
    early while the many short tests fill in around them, instead of one starting last
    and leaving the other cores idle."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None,
                                 not item.name.startswith(LONG_FIRST)))


@pytest.fixture(scope="session", autouse=True)
def virtspec_cache(tmp_path_factory):
    """The HDL backends' build cache (backends/cache.py) in one temporary folder for the
    whole session, shared by the pytest-xdist workers (their base folders share a
    parent), so that CI never writes in HOME and each model is built once."""
    import os
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "virtspec-cache"
    root.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("VIRTSPEC_CACHE")
    os.environ["VIRTSPEC_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("VIRTSPEC_CACHE", None)
    else:
        os.environ["VIRTSPEC_CACHE"] = old
