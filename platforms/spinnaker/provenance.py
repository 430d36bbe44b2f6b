"""Was a SpiNNaker run valid? A verdict from sPyNNaker's provenance counters.

After a run on a machine, sPyNNaker 7.4.1 reads every core's and router's counters into the
run's SQLite database (tables ``core``, ``core_provenance``, ``router_provenance``; schema
``spinn_front_end_common/utilities/db.sql``). Most entries are diagnostics that are non-zero
on every healthy run (``Latest_Send_time``, ``Latest_receive_time``,
``Max_filled_size_input_buffer``, packet totals). A few count events in which the hardware
did not do what the model says; any non-zero one of those makes the run invalid:

- ``Timer tick overruns``: a neuron core did not finish a time step in time
  (``population_neurons_machine_vertex.py``)
- ``Times_the_timer_tic_over_ran``: the same, from every core's system provenance
  (``provides_provenance_data_from_machine_impl.py``)
- ``Times_a_time_step_was_skipped``: a synapse core skipped a whole time step
- ``Times_the_transfer_did_not_complete_in_time``: synaptic-row DMA transfers that missed
  the step (both ``population_synapses_machine_vertex_common.py``)
- ``Times_the_{dma,user,callback}_queue_was_overloaded``: event queues overflowed (events
  lost)
- ``Times_the_background_queue_overloaded``: synapse cores' background work overflowed
- ``Times_the_transmission_of_spikes_overran``: spikes not sent within their time step
- ``Times_the_input_buffer_lost_packets``: incoming spikes dropped at a full input buffer
- ``Times_synaptic_weights_have_saturated``: summed input clipped at the ring-buffer maximum
- ``Number_of_late_spikes``, ``Late spikes``: spikes that arrived after their delay slot
- ``Skipped synapses``: synapses a split synapse core skipped
  (``population_machine_synapses_provenance.py``)
- router: dropped multicast packets that were not re-injected (see below): spike packets
  lost in the run phase

Routers (``spinn_front_end_common/interface/interface_functions/router_provenance_gatherer.py``)
write one row per counter and chip, per phase: the description is the phase prefix
(``Load``, ``Run``, ``Extract``, from ``abstract_spinnaker_base.py``; none after a failed
run) glued to the counter name. Only the run phase carries spikes. A router drops a
multicast packet it cannot forward; the chip's extra monitor then picks it up and re-injects
it (on by default). sPyNNaker counts the drops as lost only when there was no re-injection on
that chip, or when the monitor's counters (received for re-injection, missed, overflows,
re-injected, dumped from a processor or a link) add up to fewer than the drops; a missed
re-injection and a re-injection overflow are packets lost for sure. The same rules here,
per chip: ``Dropped_Multicast_Packets`` not accounted for, ``Missed_For_Reinjection`` and
``Reinjection_Overflows`` are faults; ``Dropped_Multicast_Packets_via_local_transmission``
(a key without a route) too.

Pure Python (``sqlite3``): the verdict can be read again from a fetched run directory without
sPyNNaker installed.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

#: Core counters whose non-zero value means lost or distorted activity, with their kind.
CORE_FAULTS = {
    "Timer tick overruns": "timer overrun",
    "Times_the_timer_tic_over_ran": "timer overrun",
    "Times_a_time_step_was_skipped": "skipped time step",
    "Times_the_transfer_did_not_complete_in_time": "incomplete DMA transfer",
    "Times_the_dma_queue_was_overloaded": "queue overload",
    "Times_the_user_queue_was_overloaded": "queue overload",
    "Times_the_callback_queue_was_overloaded": "queue overload",
    "Times_the_background_queue_overloaded": "queue overload",
    "Times_the_transmission_of_spikes_overran": "spike transmission overrun",
    "Times_the_input_buffer_lost_packets": "input buffer overflow",
    "Times_synaptic_weights_have_saturated": "weight saturation",
    "Number_of_late_spikes": "late spikes",
    "Late spikes": "late spikes",
    "Skipped synapses": "skipped synapses",
}
#: The phase prefix of the run's router rows (abstract_spinnaker_base.py, ``_do_extract_from_machine``).
RUN_PHASE = "Run"
#: Router counters that lose packets for sure, with their kind.
ROUTER_FAULTS = {
    "Missed_For_Reinjection": "router dropped packets (missed re-injection)",
    "Reinjection_Overflows": "router dropped packets (re-injection overflow)",
    "Dropped_Multicast_Packets_via_local_transmission": "router dropped packets (no route)",
}
#: The extra monitor's counters that account for a router's dropped packets
#: (``missing_stuff`` in router_provenance_gatherer.py).
REINJECTION_ACCOUNTS = (
    "Received_For_Reinjection",
    "Missed_For_Reinjection",
    "Reinjection_Overflows",
    "Reinjected",
    "Dumped_from_a_processor",
    "Dumped_from_a_Link",
)
DROPPED = "Dropped_Multicast_Packets"
#: Tables copied into the run directory's ``provenance.sqlite3``.
PROVENANCE_TABLES = ("core", "core_provenance", "router_provenance", "monitor_provenance")
PROVENANCE_FILE = "provenance.sqlite3"


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def faults(database: str | Path) -> list[dict]:
    """Every non-zero fault counter in a provenance database, one entry per core or router.

    Returns
    -------
    list of dict
        ``{"kind", "counter", "x", "y", "p", "core", "value"}`` (``p`` and ``core`` are None
        for a router), largest value first.
    """
    out = []
    # a plain connection: sPyNNaker still holds the database open (it is read before
    # ``end()``), and a read-only one cannot open it then ("unable to open database file")
    with contextlib.closing(sqlite3.connect(str(database))) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if "core_provenance" in tables:
            rows = con.execute(
                "SELECT c.x, c.y, c.processor, c.core_name, p.description, p.the_value "
                "FROM core_provenance AS p JOIN core AS c USING (core_id)"
            )
            for x, y, p, name, description, value in rows:
                kind = CORE_FAULTS.get(str(description))
                if kind and _number(value) > 0:
                    out.append(_fault(kind, description, x, y, p, name, value))
        if "router_provenance" in tables:
            rows = con.execute("SELECT x, y, description, the_value FROM router_provenance")
            out += router_faults(rows)
    return sorted(out, key=lambda f: -f["value"])


def router_faults(rows) -> list[dict]:
    """Lost spike packets from router rows ``(x, y, description, value)``: the run phase only
    (rows without a phase prefix, written after a failed run, count as run phase too)."""
    chips: dict[tuple[int, int], dict[str, float]] = {}
    for x, y, description, value in rows:
        name = str(description)
        if name.startswith(("Load", "Extract")):
            continue
        if name.startswith(RUN_PHASE):
            name = name[len(RUN_PHASE) :]
        counters = chips.setdefault((int(x), int(y)), {})
        counters[name] = counters.get(name, 0.0) + _number(value)
    out = []
    for (x, y), c in sorted(chips.items()):
        for name, kind in ROUTER_FAULTS.items():
            if c.get(name, 0) > 0:
                out.append(_fault(kind, RUN_PHASE + name, x, y, None, None, c[name]))
        dropped = c.get(DROPPED, 0.0)
        has_reinjection = "Received_For_Reinjection" in c
        accounted = sum(c.get(k, 0.0) for k in REINJECTION_ACCOUNTS)
        if dropped > 0 and (not has_reinjection or accounted < dropped):
            lost = dropped - accounted if has_reinjection else dropped
            out.append(
                _fault("router dropped packets (not re-injected)", RUN_PHASE + DROPPED, x, y,
                       None, None, lost)
            )  # fmt: skip
    return out


def _fault(kind, counter, x, y, p, core, value) -> dict:
    return {
        "kind": kind,
        "counter": str(counter),
        "x": int(x),
        "y": int(y),
        "p": None if p is None else int(p),
        "core": None if core is None else str(core),
        "value": _number(value),
    }


def verdict(database: str | Path | None) -> dict:
    """run.json's ``provenance`` entry: ``valid`` (True, False, or None when the counters
    could not be read), the faults, their totals by counter, and why reading failed."""
    if database is None or not Path(database).is_file():
        return {"read": False, "valid": None, "error": f"no provenance database ({database})"}
    try:
        found = faults(database)
    except sqlite3.Error as exc:
        return {"read": False, "valid": None, "error": f"{type(exc).__name__}: {exc}"}
    totals: dict[str, float] = {}
    for f in found:
        totals[f["counter"]] = totals.get(f["counter"], 0.0) + f["value"]
    return {"read": True, "valid": not found, "faults": found[:200], "totals": totals}


def summary(prov: dict | None) -> str | None:
    """One line for a run whose provenance makes it invalid or unknown; None when valid."""
    if not prov:
        return None
    if prov.get("valid") is None:
        return (
            "SpiNNaker provenance missing: the run's validity is unknown ("
            + str(prov.get("error", "not read"))
            + ")"
        )
    if prov["valid"]:
        return None
    worst = prov["faults"][0]
    where = (
        f"core {worst['x']},{worst['y']},{worst['p']}"
        if worst["p"] is not None
        else (f"router {worst['x']},{worst['y']}")
    )
    kinds = sorted({f["kind"] for f in prov["faults"]})
    return (
        f"INVALID SpiNNaker run: {', '.join(kinds)} (e.g. {worst['counter']} = "
        f"{worst['value']:g} on {where}; {len(prov['faults'])} counter(s) in run.json)"
    )


def copy_provenance(database: str | Path, dest_dir: str | Path) -> Path | None:
    """Copy the provenance tables (not the recorded data) of sPyNNaker's run database into
    ``dest_dir/provenance.sqlite3``; returns the new file, or None if there was none."""
    database, dest = Path(database), Path(dest_dir) / PROVENANCE_FILE
    if not database.is_file():
        return None
    with sqlite3.connect(dest) as out:
        out.execute("ATTACH DATABASE ? AS src", (str(database),))
        have = {r[0] for r in out.execute("SELECT name FROM src.sqlite_master")}
        for table in PROVENANCE_TABLES:
            if table in have:
                out.execute(f"CREATE TABLE {table} AS SELECT * FROM src.{table}")
        out.commit()
        out.execute("DETACH DATABASE src")
    return dest


def copy_logs(global_provenance: str | Path | None, dest_dir: str | Path) -> Path | None:
    """Copy sPyNNaker's global provenance database (its log messages and timings)."""
    if global_provenance is None or not Path(global_provenance).is_file():
        return None
    dest = Path(dest_dir) / "spynnaker_log.sqlite3"
    shutil.copyfile(global_provenance, dest)
    return dest
