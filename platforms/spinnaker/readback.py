"""Spikes back from sPyNNaker through its own data path.

sPyNNaker 7.4.1 stores what the cores recorded in a SQLite buffer database and converts it
with ``NeoBufferDatabase.spinnaker_get_data`` (``spynnaker/pyNN/utilities/
neo_buffer_database.py``), which returns one row per spike: the neuron's *index within the
population* and the time in ms. This module uses that path and nothing else.

Why not the Neo block: sPyNNaker builds its ``SpikeTrain`` objects with ``source_id`` and
``source_index`` annotations but no ``channel_id`` (``spynnaker/pyNN/utilities/neo_csv.py``),
so ``SpikeTrainList.multiplexed`` numbers the trains by their list position, and
``Population.id_to_index`` on an array subtracts the population's ``first_id``, which
accumulates over populations: every population but the first would get negative indices.
"""

from __future__ import annotations

import numpy as np


def population_spikes(pop, t_start_ms: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Recorded spikes of an sPyNNaker population from ``t_start_ms`` on.

    Parameters
    ----------
    pop : spynnaker.pyNN.models.populations.Population
        The whole population (a recorded view's spikes are returned with their indices in
        this population).
    t_start_ms : float
        Spikes before this time (ms) are dropped (the warm-up).

    Returns
    -------
    ids : numpy.ndarray of int64
        Index of the neuron within the population (0-based), one per spike.
    times : numpy.ndarray of float
        Spike times (ms), sorted, ties by index.
    """
    rows = np.asarray(pop.spinnaker_get_data("spikes"), dtype=float)
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    rows = rows.reshape(-1, 2)
    ids = np.rint(rows[:, 0]).astype(np.int64)
    times = rows[:, 1]
    if ids.min() < 0 or ids.max() >= pop.size:
        raise ValueError(
            f"sPyNNaker returned neuron indices outside [0, {pop.size}) for {pop.label}"
        )
    keep = times >= t_start_ms
    order = np.lexsort((ids[keep], times[keep]))
    return ids[keep][order], times[keep][order]
