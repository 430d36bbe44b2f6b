"""An emulation of PACMAN 7.4's application placer on a SpiNN-5 machine (pure Python).

Used by the capacity model to count the chips a mapping occupies. It follows
``pacman/operations/placer_algorithms/application_placer.py``: application vertices are
placed in graph order; each vertex starts on the first earlier start chip with room, else on
the next chip of the machine in x-major order (that chip becomes a start chip); its same-chip
groups fill the current chip, then move to neighbouring chips (links in the order E, NE, N,
W, SW, S; chips of the same board first), never back to a chip it already tried. A chip's
room counts only earlier vertices' cores. If a vertex runs out of neighbours it is tried
again from the next start chip. SDRAM is not modelled (cores run out first here).

Machines are SpiNN-5 boards of 48 chips: one board (8 x 8, no wrap-around) or triads of
3 boards (12k x 12k chips, toroidal); the Ethernet chip of each board has one application
core less (the data gatherer).
"""

from __future__ import annotations

import math

CORES_PER_CHIP = 16  # 18 - SCAMP monitor - extra monitor
LINKS = ((1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1))
#: Chips of a SpiNN-5 board, relative to its Ethernet chip: y range per x.
BOARD_ROWS = {
    0: (0, 3),
    1: (0, 4),
    2: (0, 5),
    3: (0, 6),
    4: (0, 7),
    5: (1, 7),
    6: (2, 7),
    7: (3, 7),
}


def _on_board(dx: int, dy: int) -> bool:
    r = BOARD_ROWS.get(dx)
    return r is not None and r[0] <= dy <= r[1]


class Machine:
    """Chips, their board (Ethernet chip) and links of a 1-board or triad machine."""

    def __init__(self, boards: int):
        if boards == 1:
            self.w = self.h = 8
            self.wrap = False
            origins = [(0, 0)]
        else:
            triads = math.ceil(boards / 3)
            side = 12 * math.ceil(math.sqrt(triads))
            self.w = self.h = side
            self.wrap = True
            origins = [
                (x0 + dx, y0 + dy)
                for x0 in range(0, side, 12)
                for y0 in range(0, side, 12)
                for dx, dy in ((0, 0), (4, 8), (8, 4))
            ]
        self.eth = {}
        for ox, oy in origins:
            for dx, rng in BOARD_ROWS.items():
                for dy in range(rng[0], rng[1] + 1):
                    x, y = ox + dx, oy + dy
                    if self.wrap:
                        x, y = x % self.w, y % self.h
                    self.eth[(x, y)] = (ox, oy)
        self.order = [(x, y) for x in range(self.w) for y in range(self.h) if (x, y) in self.eth]

    def capacity(self, chip) -> int:
        return CORES_PER_CHIP - (1 if self.eth[chip] == chip else 0)

    def neighbours(self, chip):
        x, y = chip
        for dx, dy in LINKS:
            nx, ny = x + dx, y + dy
            if self.wrap:
                nx, ny = nx % self.w, ny % self.h
            if (nx, ny) in self.eth:
                yield (nx, ny)


def _prepare(m: Machine, groups: list[int], start, free) -> dict | None:
    """Cores per chip for one vertex's groups from ``start``; None if neighbours run out."""
    plan: dict = {}
    prepared = {start}
    same: dict = {}
    other: dict = {}
    board = m.eth[start]

    def add_neighbours(chip, board):
        for nb in m.neighbours(chip):
            if nb not in prepared and free(nb) > 0:
                (same if m.eth[nb] == board else other).setdefault(nb, nb)

    current, cur_free = start, free(start)
    add_neighbours(start, board)
    for g in groups:
        if cur_free >= g:
            cur_free -= g
            plan[current] = plan.get(current, 0) + g
            continue
        found = None
        while found is None and (same or other):
            if same:
                nb = next(iter(same))
                del same[nb]
            else:
                nb = next(iter(other))
                del other[nb]
                board = m.eth[nb]  # moving to another board: its chips come first now
                for c in [c for c in other if m.eth[c] == board]:
                    del other[c]
                    same[c] = c
            if nb not in prepared:
                prepared.add(nb)
                if free(nb) >= g:
                    found = nb
        if found is None:
            return None
        current, cur_free = found, free(found) - g
        plan[current] = plan.get(current, 0) + g
        add_neighbours(current, board)
    return plan


def place(vertex_groups: list[list[int]], boards: int) -> int | None:
    """Chips used when placing ``vertex_groups`` (per application vertex, the core counts of
    its same-chip groups) on a machine of ``boards`` boards; None if they do not fit."""
    m = Machine(boards)
    used: dict = {}  # chip -> cores used by earlier vertices
    chip_iter = iter(m.order)
    restored: list = []  # start chips of earlier vertices, tried first

    def free(chip) -> int:
        return m.capacity(chip) - used.get(chip, 0)

    for groups in vertex_groups:
        tried: list = []  # start chips popped for this vertex; restored for the next one
        while True:  # one preparation per start chip
            start = None
            while start is None:
                c = restored.pop(0) if restored else next(chip_iter, None)
                if c is None:
                    return None
                tried.append(c)
                if free(c) >= groups[0]:
                    start = c
            plan = _prepare(m, groups, start, free)
            if plan is not None:
                for c, n in plan.items():
                    used[c] = used.get(c, 0) + n
                restored = restored + tried
                break
            # no neighbour had room: the preparation starts again from the next start chip
    return sum(1 for n in used.values() if n > 0)
