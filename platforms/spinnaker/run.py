"""Run (or only map) a ModelSpec on SpiNNaker through sPyNNaker; write the run directory.

* ``virtual`` machine: sPyNNaker's own mapper places and routes the model on a virtual machine
  of the requested size; nothing is simulated; run.json says ``simulated: false`` and holds the
  ``mapping`` (cores, chips, boards, cores by kind) next to the capacity model's prediction.
* a real machine (board host, spalloc, EBRAINS job): the model runs, spikes come back into the
  same SONATA ``spikes.h5`` as NEST runs (:mod:`.readback`), and the provenance counters give
  a validity verdict (:mod:`.provenance`): run.json's ``valid`` is False, with the counter and
  core, when any core overran, skipped, lost or dropped activity, and None when the counters
  could not be read (the spikes are stored either way).
* an EBRAINS job (``--ebrains-job``) uses the machine the platform wrote into the working
  directory's cfg; a virtual board there is a dry run like the first case.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pynn_microcircuit import rundir
from pynn_microcircuit.errors import UserError
from pynn_microcircuit.runner import (
    RunOptions,
    activity_check,
    build_for_run,
    peak_rss_bytes,
    store_spikes,
)
from pynn_microcircuit.runrecord import RunRecord
from pynn_microcircuit.scaling import ModelSpec

from .backend import SpinnakerBackend, delay_rounding_record
from .capacity import Knobs, predict_mapping
from .compat import check_internals, read_mapping, run_databases, synapses_generated_on_machine
from .logs import spinnaker_logs
from .provenance import copy_logs, copy_provenance, summary, verdict
from .quantisation import quantisation_record
from .setup import (
    Machine,
    import_spynnaker,
    on_virtual_board,
    run_environment,
    setup,
)

log = logging.getLogger(__name__)


def run_spinnaker(
    spec: ModelSpec,
    opts: RunOptions,
    knobs: Knobs,
    machine: Machine,
    out: str | Path | None = None,
    plan: dict | None = None,
    budget: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Map (virtual machine) or run (real machine) ``spec``; returns the run directory."""
    prediction = predict_mapping(spec, knobs)
    if not prediction.feasible:
        raise UserError(f"this model cannot map on SpiNNaker: {prediction.problems[0]}")
    try:  # what writes the results, before the machine time is spent
        import h5py  # noqa: F401
    except ImportError:
        raise UserError(
            "h5py is not installed: pip install 'h5py>=3.8' (spikes.h5 needs it)"
        ) from None
    sim = import_spynnaker()
    spynnaker = check_internals()
    stem = f"spinnaker_n{spec.n_scale:g}_k{spec.k_scale:g}_{spec.method}_s{opts.seed}"
    run_dir = rundir.new_run_dir(out, stem)
    t_total = opts.t_presim_ms + opts.t_sim_ms
    record = {  # SpiNNaker's own entries of run.json (RunRecord.details)
        "machine": machine.to_dict(),
        "knobs": knobs.to_dict(),
        "prediction": prediction.to_dict(),
        "budget": budget,
        "spynnaker": spynnaker,
        **(extra or {}),
    }
    done = _map_or_run(sim, spec, opts, knobs, machine, run_dir, record)
    t_build, t_run, simulated, spikes, backend, net = done
    record["delay_tail_redrawn"] = backend.delay_tail_redrawn
    record["delay_rounding"] = delay_rounding_record(spec.resolution_ms)
    if simulated:
        populations = store_spikes(run_dir, spec, spikes, net.n_recorded, opts.t_presim_ms, t_total)
        record.update(activity_check(spec, populations))
        if record["activity_note"]:
            log.warning(record["activity_note"])
    else:
        populations = {
            name: {"n_neurons": int(spec.n_neurons[i]), "n_recorded": 0}
            for i, name in enumerate(spec.populations)
        }
    RunRecord.for_model(
        "spinnaker", spec, opts,
        simulated=simulated,
        populations=populations,
        timings_s={"build": t_build, "map_or_run": t_run},
        peak_rss_bytes=peak_rss_bytes(),
        versions=rundir.versions(),
        plan=plan,
        details=record,
    ).write(run_dir)  # fmt: skip
    return run_dir


def _map_or_run(sim, spec, opts, knobs, machine, run_dir: Path, record: dict):
    """Set up sPyNNaker, build, and run (a machine) or map (a virtual board); fills
    ``record`` (weight quantisation, mapping, provenance). Returns (build s, map/run s,
    simulated, spikes or None, backend, network). sPyNNaker's own errors become one line
    naming the machine and the fix; ``sim.end()`` always runs."""
    t0 = time.perf_counter()
    spikes = None
    simulated = machine.mode in ("host", "spalloc")
    t_total = opts.t_presim_ms + opts.t_sim_ms
    run_dir_abs = run_dir.resolve()  # the run works inside its cfg's directory
    with spinnaker_logs(run_dir) as logs, run_environment(run_dir, machine, knobs):
        try:
            setup(sim, spec.resolution_ms, knobs, machine)
            logs.after_setup()
            simulated = not on_virtual_board()  # an EBRAINS job's cfg decides
            backend = SpinnakerBackend(sim, opts.seed, knobs, spec.resolution_ms)
            net = build_for_run(sim, spec, opts, backend)
            record["weight_quantisation"] = quantisation_record(spec, net.populations)
            t_build = time.perf_counter() - t0
            if simulated:
                sim.run(t_total)
            else:
                with synapses_generated_on_machine():
                    sim.run(t_total)
            t_run = time.perf_counter() - t0 - t_build
            record["mapping"] = read_mapping()
            if simulated:
                spikes = net.spikes()
                # before end(): in Production mode sPyNNaker deletes the run's database
                # (recordings and provenance) at end() (abstract_spinnaker_base.py,
                # keep_data_database)
                record.update(provenance_record(run_dir_abs, *run_databases()))
        except UserError:
            raise
        except Exception as exc:  # sPyNNaker/SpiNNMan errors: name the machine and the fix
            where = machine.host or machine.to_dict()["spalloc"] or machine.mode
            fix = (
                "check the machine is reachable, or omit --machine/--spalloc for a dry run"
                if simulated
                else "please report it with the run directory"
            )
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise UserError(
                f"sPyNNaker failed on the {machine.mode} machine '{where}': "
                f"{type(exc).__name__}: {first} - {fix} (log: {logs.path}, reports: "
                f"{Path.cwd()}/reports)"
            ) from exc
        finally:
            try:
                sim.end()
            except Exception:  # noqa: BLE001 - end() after a failed setup may fail too
                pass
    return t_build, t_run, simulated, spikes, backend, net


def provenance_record(run_dir: Path, database: str | None, global_db: str | None) -> dict:
    """run.json's ``provenance`` and ``valid`` for a simulated run; copies the provenance
    tables and sPyNNaker's log database into the run directory. Never raises: a run whose
    counters cannot be read keeps its spikes and says its validity is unknown."""
    try:
        prov = verdict(database)
        if prov["read"]:
            copy_provenance(database, run_dir)
        copy_logs(global_db, run_dir)
    except Exception as exc:  # noqa: BLE001 - provenance must never cost the spikes
        prov = {"read": False, "valid": None, "error": f"{type(exc).__name__}: {exc}"}
    line = summary(prov)
    if line:
        log.warning(line)
    return {"provenance": prov, "valid": prov["valid"], "validity_note": line}
