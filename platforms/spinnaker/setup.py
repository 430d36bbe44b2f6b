"""Set up ``pyNN.spiNNaker`` for a run: the machine it runs on, its cfg, its settings.

How sPyNNaker 7.4.1 finds its configuration (``spinn_utilities/conf_loader.py`` and
``config_holder.py``): the packages' defaults, then exactly one *user* cfg
(``$XDG_CONFIG_DIRS``' first entry or ``/etc/xdg``, ``$XDG_CONFIG_HOME`` or ``~/.config``, or
``~``, each as ``.spynnaker.cfg``; with none it writes a template into ``~`` and stops), then
``./spynnaker.cfg`` in the working directory. Values of later files override earlier ones.

* ``virtual``/``host``/``spalloc``: the run writes ``spynnaker.cfg`` into its run directory and
  works there. That file names **every** machine-selecting key of ``[Machine]``
  (:data:`MACHINE_KEYS`), the unused ones as ``None``/``False``, so a user cfg that sets, say,
  ``spalloc_server`` cannot combine with it into an invalid pair (SpiNNMachine's
  ``version_factory`` refuses e.g. spalloc_server together with virtual_board). When the
  user has no cfg anywhere, the run points ``XDG_CONFIG_HOME`` at an empty one inside the
  run directory instead of letting sPyNNaker write into ``~``.
* ``ebrains``: inside a job of the EBRAINS platform, whose runner writes the machine into
  ``spynnaker.cfg`` of the job's working directory. The run reads that file (it stays in
  that directory) and writes no cfg of its own.

Settings the run needs whatever the cfg says (planning rate, provenance reading) are applied
with ``set_config`` after ``setup`` (:func:`setup`), so they hold in every mode.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pynn_microcircuit.errors import UserError

from .capacity import Knobs

CFG_NAME = "spynnaker.cfg"
#: Board version of SpiNN-5 machines (48-chip boards), the EBRAINS SpiNNaker machine.
BOARD_VERSION = 5
#: Board versions a ``--machine`` may name (SpiNNMachine ``version_factory``: 3 is the 4-chip
#: SpiNN-3 board, 5 the 48-chip SpiNN-5 board).
BOARD_VERSIONS = {3, 5}
#: ``[Machine]`` keys that select or size the machine (SpiNNMachine ``spinn_machine.cfg``,
#: SpiNNMan ``spinnman.cfg``); the run's cfg gives each one a value.
MACHINE_KEYS = (
    "machine_name",
    "virtual_board",
    "spalloc_server",
    "remote_spinnaker_url",
    "spalloc_machine",
    "version",
    "versions",
    "width",
    "height",
    "json_path",
)


@dataclass(frozen=True)
class Machine:
    """Where a run goes: ``virtual`` (mapping only), a board ``host``, a ``spalloc`` server,
    or ``ebrains`` (inside a job of the EBRAINS platform, which provides the machine)."""

    mode: str = "virtual"
    host: str | None = None
    spalloc: str | None = None
    spalloc_machine: str | None = None
    boards: int | None = None
    board_version: int = BOARD_VERSION

    def __post_init__(self):
        if self.mode not in ("virtual", "host", "spalloc", "ebrains"):
            raise UserError(f"unknown SpiNNaker mode '{self.mode}'")
        if self.board_version not in BOARD_VERSIONS:
            raise UserError(
                f"board version {self.board_version} is not one of {sorted(BOARD_VERSIONS)} "
                "(3: a 4-chip SpiNN-3 board, 5: a 48-chip SpiNN-5 board)"
            )

    def to_dict(self) -> dict:
        """As recorded in run.json (an http(s) spalloc URL without its user and password)."""
        return {**self.__dict__, "spalloc": server_address(self.spalloc)}


def machine_for(settings: Mapping[str, Any], budget: dict | None, predicted_chips: int) -> Machine:
    """The machine a run's settings name (``machine``, ``board_version``, ``spalloc``,
    ``spalloc_machine``, ``ebrains_job``: the command line's destinations); a spalloc
    allocation is sized from the prediction with :data:`.capacity.CHIP_MARGIN`, a virtual
    machine from the budget (the smallest SpiNN-5 machine holding it) or, without one, from
    the prediction. One-line errors for contradictory settings."""
    from .capacity import APP_CORES_PER_CHIP, CHIP_MARGIN, boards_for_chips

    host, spalloc = settings.get("machine"), settings.get("spalloc")
    chosen = [m for m in ("machine", "spalloc", "ebrains_job") if settings.get(m)]
    if len(chosen) > 1:
        raise UserError("give only one of --machine, --spalloc, --ebrains-job")
    if settings.get("board_version") and not host:
        raise UserError("--board-version goes with --machine (spalloc and EBRAINS give SpiNN-5)")
    if host:
        return Machine("host", host=host, board_version=settings.get("board_version") or 5)
    if spalloc:
        if not re.match(r"^(https?|spalloc)://", spalloc) and ":" not in spalloc:
            raise UserError(f"--spalloc '{spalloc}' is not a URL; e.g. https://server/spalloc")
        boards = boards_for_chips(math.ceil(predicted_chips * CHIP_MARGIN))
        return Machine("spalloc", spalloc=spalloc, spalloc_machine=settings.get("spalloc_machine"),
                       boards=boards)  # fmt: skip
    if settings.get("ebrains_job"):
        return Machine("ebrains")
    if budget and "boards" in budget:
        chips = budget["boards"] * 48
    elif budget and "chips" in budget:
        chips = budget["chips"]
    elif budget and "cores" in budget:
        chips = math.ceil(budget["cores"] / APP_CORES_PER_CHIP)
    else:
        chips = math.ceil(predicted_chips * CHIP_MARGIN)
    return Machine("virtual", boards=boards_for_chips(chips))


def old_spalloc(url: str | None) -> bool:
    """Whether ``url`` names an old-style spalloc server (``spalloc://user@host:port`` or a
    bare host name), which sPyNNaker parses itself, user and port included
    (``spinn_front_end_common/utilities/utility_calls.py``, ``parse_old_spalloc``); http(s)
    URLs go to the new client (``spinnman.spalloc.is_server_address``)."""
    return bool(url) and not url.lower().startswith(("http://", "https://"))


def server_address(url: str | None) -> str | None:
    """The spalloc address as the run's cfg names it: an old-style one whole (its user is
    the job's owner name, not a secret), an http(s) one without user and password (they go
    to the environment, :func:`spalloc_credentials`)."""
    return url if old_spalloc(url) else strip_credentials(url)[0]


def strip_credentials(url: str | None) -> tuple[str | None, str | None, str | None]:
    """(URL without ``user:password@``, user, password)."""
    if not url:
        return url, None, None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), parts.username, parts.password


def spalloc_credentials(url: str) -> dict:
    """Environment for SpiNNMan's spalloc client (``spinnman/spalloc/spalloc_client.py``:
    ``SPALLOC_USER``/``SPALLOC_PASSWORD``, or ``OIDC_BEARER_TOKEN`` in
    ``spalloc_allocator.py``); credentials in the URL are moved there. One-line error when
    there are none."""
    _, user, password = strip_credentials(url)
    env = {}
    if user:
        env["SPALLOC_USER"] = user
    if password:
        env["SPALLOC_PASSWORD"] = password
    have_user = user or os.environ.get("SPALLOC_USER")
    have_password = password or os.environ.get("SPALLOC_PASSWORD")
    if not (have_user and have_password) and not os.environ.get("OIDC_BEARER_TOKEN"):
        raise UserError(
            "no spalloc credentials: set SPALLOC_USER and SPALLOC_PASSWORD (or "
            "OIDC_BEARER_TOKEN, or give https://USER:PASSWORD@host/ as --spalloc)"
        )
    return env


def cfg_text(machine: Machine) -> str:
    """The run's ``spynnaker.cfg``: every machine key set (see the module docstring)."""
    values: dict[str, object] = dict.fromkeys(MACHINE_KEYS, "None")
    values["virtual_board"] = "False"
    if machine.mode == "virtual":
        values.update(virtual_board="True", version=BOARD_VERSION)
    elif machine.mode == "host":
        values.update(machine_name=machine.host, version=machine.board_version)
    elif machine.mode == "spalloc":  # spalloc serves SpiNN-5 boards
        values.update(spalloc_server=server_address(machine.spalloc), version=BOARD_VERSION)
        if machine.spalloc_machine:
            values["spalloc_machine"] = machine.spalloc_machine
    else:
        raise UserError("an EBRAINS job uses the platform's spynnaker.cfg, not its own")
    lines = ["# written by pynn-microcircuit for this run", "[Machine]"]
    lines += [f"{k} = {v}" for k, v in values.items()]
    lines += ["", "[Mode]", "mode = Production", ""]
    return "\n".join(lines)


def user_cfg_paths() -> list[Path]:
    """Where sPyNNaker looks for the user cfg (``spinn_utilities.conf_loader``'s order:
    the first of ``$XDG_CONFIG_DIRS`` or ``/etc/xdg``, ``$XDG_CONFIG_HOME`` or
    ``~/.config``, then ``~``), as appdirs resolves them on Linux."""
    dirs = os.environ.get("XDG_CONFIG_DIRS", "").split(os.pathsep)
    site = dirs[0] if dirs and dirs[0] else "/etc/xdg"
    user = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path(d) / ".spynnaker.cfg" for d in (site, user, str(Path.home()))]


def user_cfg() -> Path | None:
    """The user cfg sPyNNaker will read, or None."""
    return next((p for p in user_cfg_paths() if p.is_file()), None)


@contextlib.contextmanager
def run_environment(run_dir: Path, machine: Machine, knobs: Knobs | None = None):
    """Prepare the cfg for ``machine`` (see the module docstring), work in the right directory
    with spalloc credentials in the environment; restores directory and environment after."""
    run_dir = Path(run_dir).resolve()
    old_cwd = os.getcwd()
    env: dict[str, str] = {}
    if machine.mode == "ebrains":
        if not (Path(old_cwd) / CFG_NAME).is_file():
            raise UserError(
                f"--ebrains-job: no {CFG_NAME} in the working directory {old_cwd}; the "
                "platform writes it - outside a job use --machine, --spalloc or a dry run"
            )
        work = Path(old_cwd)
    else:
        (run_dir / CFG_NAME).write_text(cfg_text(machine))
        work = run_dir
        if machine.mode == "spalloc" and not old_spalloc(machine.spalloc):
            env.update(spalloc_credentials(machine.spalloc))
    if user_cfg() is None:  # sPyNNaker insists on one; never let it write into ~
        home = run_dir / ".spynnaker_user"
        home.mkdir(exist_ok=True)
        (home / ".spynnaker.cfg").write_text("# empty: the working directory's cfg rules\n")
        env["XDG_CONFIG_HOME"] = str(home)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.chdir(work)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def on_virtual_board() -> bool:
    """Whether the machine sPyNNaker was set up with is virtual (the merged cfg's answer)."""
    from spinn_utilities.config_holder import get_config_bool

    return bool(get_config_bool("Machine", "virtual_board"))


def import_spynnaker():
    """``pyNN.spiNNaker``, or a one-line error saying how to install it."""
    try:
        import pyNN.spiNNaker as sim
    except ImportError as exc:
        raise UserError(
            f"sPyNNaker is not installed ({exc.name or exc}); install the optional group: "
            "pip install -e '.[spinnaker]'"
        ) from None
    return sim


def setup(sim, resolution_ms: float, knobs: Knobs, machine: Machine):
    """``sim.setup`` with the knobs; the neuron model's cores per slice set before any
    population exists (sPyNNaker ignores them afterwards); provenance reading switched on
    whenever the machine is real."""
    from spinn_utilities.config_holder import get_config_bool, set_config

    sim.setup(
        timestep=resolution_ms,
        time_scale_factor=int(knobs.time_scale_factor),
        n_boards_required=machine.boards,
    )
    # planning rate: read by every PopulationVertex when it is created
    set_config("Simulation", "spikes_per_second", f"{knobs.spikes_per_second:g}")
    if not get_config_bool("Machine", "virtual_board"):  # counters for the validity verdict
        for key in (
            "write_provenance",
            "read_placements_provenance_data",
            "read_router_provenance_data",
            "read_provenance_data_on_end",
        ):
            set_config("Reports", key, "True")
    sim.set_number_of_neurons_per_core(sim.IF_curr_exp, int(knobs.neurons_per_core))
    sim.set_allow_delay_extensions(sim.IF_curr_exp, bool(knobs.delay_extensions))
    return sim
