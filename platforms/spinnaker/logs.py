"""sPyNNaker's own log: kept whole in the run directory, on the console only its warnings.

sPyNNaker 7.4.1 logs ~100 INFO lines for one mapping (every PACMAN algorithm and every report
it skips) and, when its cfg is loaded in ``sim.setup``, gives every handler of the root logger
its own formatter and filter (``spinn_utilities.config_holder.logging_parser``): our
progress lines then came out in its format among its lines. While a SpiNNaker run lasts,
:func:`spinnaker_logs` writes every record of sPyNNaker's packages (INFO and above) to
``RUN/spinnaker.log``, lets only their warnings and errors reach the console (one line each,
tracebacks in the file), and gives the console back its own format after ``sim.setup``; when
the run fails, sPyNNaker's repeat of its warnings at exit is dropped (they are in the file).
With ``-q`` (the root logger above INFO) sPyNNaker's progress bars, which it prints to
``sys.stderr`` (``spinn_utilities.progress_bar.ProgressBar``), go to the same file.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

#: Top-level packages of sPyNNaker 7.4.1 and its stack whose loggers this module redirects.
PACKAGES = frozenset(
    {
        "spinn_utilities",
        "spinn_machine",
        "spinnman",
        "pacman",
        "spinn_front_end_common",
        "spynnaker",
        "spalloc_client",
        "data_specification",
    }
)
#: File in the run directory that receives sPyNNaker's log.
LOG_NAME = "spinnaker.log"


def _from_spinnaker(record: logging.LogRecord) -> bool:
    """Whether ``record`` comes from one of sPyNNaker's packages (:data:`PACKAGES`)."""
    return record.name.split(".")[0] in PACKAGES


class _ConsoleFilter(logging.Filter):
    """Passes sPyNNaker's records from WARNING up, every other record unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not _from_spinnaker(record)


class _NoTraceback(logging.Formatter):
    """The console's formatter, leaving out the traceback of sPyNNaker's records (it logs one
    with every failed attempt, 4 x ~75 lines for an unreachable board); the log file keeps
    them."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info is None or not _from_spinnaker(record):
            return self.inner.format(record)
        saved = record.exc_info, record.exc_text
        record.exc_info = record.exc_text = None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text = saved


def _forget_exit_repeat() -> None:
    """sPyNNaker repeats its warnings and errors when Python exits
    (``spinn_utilities.log.FormatAdapter.atexit_handler``); after a failure reported in one
    line that points to the log file holding them all, the repeat would bury that line."""
    try:
        from spinn_utilities.log import FormatAdapter
    except ImportError:
        return
    FormatAdapter._pop_not_stored_messages()  # clears the list it would print
    FormatAdapter.set_log_store(None)


class _OnlyPackages(logging.Filter):
    """Passes sPyNNaker's records only (our own go to the console as before)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _from_spinnaker(record)


class SpinnakerLogs:
    """What :func:`spinnaker_logs` yields: ``after_setup()`` undoes sPyNNaker's changes to
    the root logger's handlers; ``path`` is the log file."""

    def __init__(self, path: Path, handlers: list[logging.Handler]):
        self.path = path
        self._handlers = [(h, h.formatter, list(h.filters)) for h in handlers]

    def after_setup(self) -> None:
        """Give the handlers back their formatter and filters (sPyNNaker replaced the one and
        added to the other when it loaded its cfg)."""
        for handler, formatter, filters in self._handlers:
            handler.setFormatter(formatter)
            handler.filters[:] = filters


@contextlib.contextmanager
def spinnaker_logs(run_dir: Path):
    """Route sPyNNaker's log to ``run_dir/spinnaker.log`` while the block runs (see the module
    docstring); the console handlers and logger levels are as before afterwards."""
    root = logging.getLogger()
    quiet = root.getEffectiveLevel() > logging.INFO
    path = Path(run_dir).resolve() / LOG_NAME
    console = list(root.handlers)
    console_filter = _ConsoleFilter()
    formatters = {h: h.formatter for h in console}
    for handler in console:
        handler.addFilter(console_filter)
        handler.setFormatter(_NoTraceback(handler.formatter))
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setLevel(logging.INFO)
    file_handler.addFilter(_OnlyPackages())
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    levels = {name: logging.getLogger(name).level for name in PACKAGES}
    for name in PACKAGES:  # INFO reaches the file even when the console shows warnings only
        logging.getLogger(name).setLevel(logging.INFO)
    root.addHandler(file_handler)
    logs = SpinnakerLogs(path, [*console, file_handler])
    try:
        if quiet:
            with contextlib.redirect_stderr(file_handler.stream):
                yield logs
        else:
            yield logs
    except BaseException:
        _forget_exit_repeat()
        raise
    finally:
        root.removeHandler(file_handler)
        file_handler.close()
        logs.after_setup()
        for handler in console:
            handler.removeFilter(console_filter)
            handler.setFormatter(formatters[handler])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
