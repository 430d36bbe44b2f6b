"""The command line's argument parser: an option error is one short line, not a usage block."""

from __future__ import annotations

import argparse
import sys


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors print two lines and exit with status 2:
    the problem, and where the options are listed (``--help``)."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        sys.stderr.write(f"{self.prog}: error: {message}\n(see: {self.prog} --help)\n")
        sys.exit(2)
