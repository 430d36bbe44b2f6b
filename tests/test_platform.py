"""The Platform seam: the registry, a toy platform on pyNN.mock that plans and runs without the
command line, and no platform chosen by comparing names outside the registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import pynn_microcircuit.platforms  # noqa: F401 - registers the built-ins
from pynn_microcircuit.errors import UserError
from pynn_microcircuit.platform import (
    CapacityOptions,
    Platform,
    RunRequest,
    get_platform,
    platform_names,
    platforms_taking,
    register,
    unregister,
)

ROOT = Path(__file__).resolve().parents[1]


class ToyPlatform(Platform):
    """PyNN's mock backend behind the generic route, with a made-up memory model:
    1 MiB + 2 KiB per neuron + 100 B per synapse."""

    name = "toy"
    summary = "pyNN.mock (test)"
    budget_keys = ("memory",)
    options = ("toy_option",)

    def capacity(self, options: CapacityOptions):
        def capacity(spec, budget):
            return {"memory": 2**20 + 2048 * spec.total_neurons + 100 * spec.total_synapses}

        return capacity

    def run(self, request: RunRequest) -> Path:
        import pyNN.mock as sim

        from pynn_microcircuit.platforms.generic import run_generic

        return run_generic(sim, self.name, request, details={"toy": request.settings})


@pytest.fixture
def toy():
    p = register(ToyPlatform())
    yield p
    unregister("toy")


@pytest.mark.unit
def test_builtins_registered_with_their_budget_keys():
    assert {"nest", "spinnaker", "neuron"} <= set(platform_names())
    assert get_platform("nest").budget_keys == ("memory", "threads", "walltime")
    assert get_platform("spinnaker").budget_keys == ("cores", "chips", "boards", "slowdown")
    assert platforms_taking("emulate") == ["nest"]
    assert "spinnaker" in platforms_taking("neurons_per_core")


@pytest.mark.unit
def test_unknown_platform_and_duplicate_are_refused_in_one_line():
    with pytest.raises(UserError, match=r"unknown platform 'brian2'; known platforms: .*nest"):
        get_platform("brian2")

    class Other(ToyPlatform):
        pass

    register(ToyPlatform())
    try:
        with pytest.raises(UserError, match="'toy' is already registered"):
            register(Other())
        register(Other(), replace=True)
        assert isinstance(get_platform("toy"), Other)
    finally:
        unregister("toy")


@pytest.mark.unit
def test_budget_keys_come_from_the_platform(toy):
    from pynn_microcircuit.budget import parse_budget

    assert parse_budget("memory=1MiB", "toy") == {"memory": 2**20}
    with pytest.raises(UserError, match="'cores' is for platform spinnaker, not toy"):
        parse_budget("cores=10", "toy")


@pytest.mark.integration
def test_toy_platform_plans_and_runs_without_the_command_line(toy, tmp_path):
    from pynn_microcircuit.analysis.io import load_run
    from pynn_microcircuit.budget import plan
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.runner import RunOptions
    from pynn_microcircuit.scaling import make_spec

    params = Params()
    capacity = toy.capacity(CapacityOptions(t_presim_ms=10.0, t_sim_ms=20.0))
    budget = {"memory": 64 * 2**20}
    the_plan = plan("toy", budget, capacity, params)
    # the plan fits the toy model's budget with the planner's margin, and is not tiny
    used = capacity(make_spec(params, the_plan.n_scale, the_plan.k_scale, the_plan.method), {})
    assert used["memory"] <= budget["memory"]
    assert the_plan.platform == "toy" and the_plan.n_scale > 0.01

    spec = make_spec(params, 0.002, 0.002)
    req = RunRequest(params, spec, RunOptions(t_presim_ms=10.0, t_sim_ms=20.0, seed=3),
                     out=tmp_path / "toy_run", settings={"toy_option": 1})  # fmt: skip
    run_dir = toy.run(req)
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["platform"] == "toy" and rec["toy"] == {"toy_option": 1}
    assert rec["n_connections_built"] == spec.total_synapses  # every synapse was made
    assert sum(p["n_neurons"] for p in rec["populations"].values()) == spec.total_neurons
    run = load_run(run_dir)  # the analysis reads what it wrote
    assert set(run.populations) == set(spec.populations)


PLATFORM_NAME = r"[\"'](nest|spinnaker|neuron|toy)[\"']"
COMPARISON = re.compile(
    rf"(==|!=|\bin\b)\s*[\(\[{{]?\s*{PLATFORM_NAME}|{PLATFORM_NAME}\s*(==|!=)|"
    rf"\bif\b.*\bplatform\b.*{PLATFORM_NAME}"
)


@pytest.mark.unit
def test_no_platform_name_comparison_outside_the_registry():
    """The CLI, the planner and the analysis ask the registry; a comparison such as
    ``args.platform == "spinnaker"`` or ``if platform in ("nest", ...)`` is a seam missed."""
    hits = []
    for folder in ("pynn_microcircuit", "platforms", "analysis"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if '"""' in code or code.strip().startswith(("``", ":")):
                    continue
                if COMPARISON.search(code):
                    hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, "platform chosen by name:\n" + "\n".join(hits)
    # the pattern itself finds what it should
    assert COMPARISON.search('    if args.platform == "spinnaker":')
    assert COMPARISON.search("if platform not in ('nest', 'neuron'):")


@pytest.mark.unit
def test_core_errors_speak_the_core_and_the_command_line_maps_them(tmp_path):
    """The library says ``n_scale``/``allow_partial=True`` and names the key at fault; the
    command line prints its options instead."""
    from pynn_microcircuit.cli.main import in_cli_words
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.rundir import check_new_dir
    from pynn_microcircuit.scaling import make_spec

    with pytest.raises(UserError, match=r"^n_scale must be a number in \(0, 1\]") as e:
        make_spec(Params(), 2.0, 1.0)
    assert (e.value.key, e.value.value) == ("n_scale", 2.0)
    assert in_cli_words(str(e.value), e.value.key).startswith("--n-scale must be a number")
    with pytest.raises(UserError, match="or allow_partial=True$") as e:
        make_spec(Params(), 0.1, 0.1, method="linear-k")
    assert in_cli_words(str(e.value), e.value.key).endswith("another method, or --allow-partial")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UserError, match="choose a new out or omit it") as e:
        check_new_dir(out)
    cli = in_cli_words(str(e.value), e.value.key)
    assert f"'{out}' already exists" in cli and cli.endswith(
        "choose a new --out or omit it for a fresh name"
    )


@pytest.mark.unit
def test_machine_check_uses_the_capacity_models_own_margin(monkeypatch):
    """A run predicted at 1 GiB on a machine with 1.5 GiB (1.35 GiB usable): fits with the
    planner's 3 % memory margin, refused with a capacity model stating a 50 % one."""
    from pynn_microcircuit.machine import check_fits
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.scaling import make_spec

    monkeypatch.setenv("PYNN_MICROCIRCUIT_MACHINE_MEMORY", "1.5GiB")
    spec, params = make_spec(Params(), 0.05, 0.05), Params()

    def plain(s, budget):
        return {"memory": 2**30 * (s.total_synapses / spec.total_synapses)}

    def own(s, budget):
        return {**plain(s, budget), "margins": {"memory": 0.5}}

    check_fits(spec, plain(spec, {}), plain, params, "toy")
    with pytest.raises(UserError, match=r"needs ~1\.50 GiB of memory, this machine has 1\.35 GiB"):
        check_fits(spec, own(spec, {}), own, params, "toy")


@pytest.mark.integration
def test_spinnaker_runs_a_request_without_the_command_line(tmp_path):
    """The library route (``get_platform("spinnaker").run(RunRequest)``; the command line
    uses its own front end, while NEST and NEURON runs from the command line go through
    ``Platform.run``): the request is mapped on a virtual board with the settings given over
    the defaults, and the run record written."""
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.runner import RunOptions
    from pynn_microcircuit.scaling import make_spec

    params = Params()
    spec = make_spec(params, 0.02, 0.02)
    req = RunRequest(params, spec, RunOptions(t_presim_ms=10.0, t_sim_ms=20.0, seed=1),
                     out=tmp_path / "spinnaker", settings={"neurons_per_core": 32})  # fmt: skip
    rec = json.loads((get_platform("spinnaker").run(req) / "run.json").read_text())
    assert rec["platform"] == "spinnaker" and rec["simulated"] is False
    assert rec["knobs"]["neurons_per_core"] == 32 and rec["machine"]["mode"] == "virtual"
    assert rec["mapping"]["cores_by_kind"]["neuron"] == sum(-(-n // 32) for n in spec.n_neurons)
