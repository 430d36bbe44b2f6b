"""The package's layers: core <- platforms / analysis <- cli, no import cycles."""

import re
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_kept():
    """import-linter's contracts in pyproject.toml (core imports neither the CLI nor the
    platforms nor analysis; nothing imports the CLI), run as ``lint-imports`` would."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0 and "0 broken" in res.stdout, res.stdout[-2000:] + res.stderr


def _cycles(graph, skip=frozenset()) -> list[set]:
    """Strongly connected components with more than one module (Tarjan), ``skip`` left out."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v) - skip:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph.modules - skip):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("pynn_microcircuit", cache_dir=None)
    assert "pynn_microcircuit.analysis.verdicts" in graph.modules  # the layers are in it
    # a package's __init__ re-exporting its modules is not a cycle
    packages = frozenset(m for m in graph.modules if graph.find_children(m))
    assert _cycles(graph, packages) == []


def test_layers_install_under_the_package_namespace(tmp_path):
    """analysis/ and platforms/ stay top-level folders of the repository but are the
    subpackages ``pynn_microcircuit.analysis`` and ``pynn_microcircuit.platforms`` (symlinks
    in pynn_microcircuit/): outside the repository an installed package has no top-level
    ``analysis`` or ``platforms`` to collide with another project's, and no module of ours
    imports them under those names (which would load every module twice)."""
    probe = (
        "import importlib.util as u, pynn_microcircuit.analysis.verdicts, "
        "pynn_microcircuit.platforms.nest.capacity; "
        "print(u.find_spec('analysis'), u.find_spec('platforms'))"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True
    )
    assert res.returncode == 0 and res.stdout.split() == ["None", "None"], res.stderr[-2000:]
    pattern = re.compile(r"^\s*(from|import)\s+(analysis|platforms)\b", re.MULTILINE)
    sources = [p for d in ("pynn_microcircuit", "analysis", "platforms", "tests", "benchmarks")
               for p in (ROOT / d).rglob("*.py")] + [ROOT / "run.py"]  # fmt: skip
    offenders = [str(p.relative_to(ROOT)) for p in sources if pattern.search(p.read_text())]
    assert offenders == []


def test_compat_modules_check_the_versions_they_were_written_for():
    import pytest

    from pynn_microcircuit.errors import UserError
    from pynn_microcircuit.platforms.compat_check import require
    from pynn_microcircuit.platforms.nest import compat as nest_compat

    assert nest_compat.PYNN_VERSION.startswith("0.13")
    with pytest.raises(UserError, match=r"written for PyNN 0\.12\.x .* found 0\.13"):
        require("PyNN", "0.12", "the NEST fast path")
    with pytest.raises(UserError, match="not installed"):
        require("no-such-simulator", "1.0", "a backend")
    # the NEST path reads the modules' __version__ (no importlib.metadata): the same versions
    import importlib.metadata

    from pynn_microcircuit.platforms.compat_check import installed_version

    for dist, module in (("PyNN", "pyNN"), ("nest-simulator", "nest")):
        assert installed_version(dist, module) == importlib.metadata.version(dist)
    with pytest.raises(UserError, match=r"written for PyNN 0\.12\.x .* found 0\.13"):
        require("PyNN", "0.12", "the NEST fast path", module="pyNN")
    with pytest.raises(UserError, match="no-such-simulator is not installed"):
        require("no-such-simulator", "1.0", "a backend", module="no_such_simulator")
