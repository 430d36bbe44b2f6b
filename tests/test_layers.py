"""The package's layers: core <- platforms / analysis <- cli, no import cycles."""

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
    graph = grimp.build_graph("pynn_microcircuit", "platforms", "analysis", cache_dir=None)
    # a package's __init__ re-exporting its modules is not a cycle
    packages = frozenset(m for m in graph.modules if graph.find_children(m))
    assert _cycles(graph, packages) == []


def test_compat_modules_check_the_versions_they_were_written_for():
    import pytest

    from platforms.compat_check import require
    from platforms.nest import compat as nest_compat
    from pynn_microcircuit.errors import UserError

    assert nest_compat.PYNN_VERSION.startswith("0.13")
    with pytest.raises(UserError, match=r"written for PyNN 0\.12\.x .* found 0\.13"):
        require("PyNN", "0.12", "the NEST fast path")
    with pytest.raises(UserError, match="not installed"):
        require("no-such-simulator", "1.0", "a backend")
