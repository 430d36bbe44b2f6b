"""The code an EBRAINS job runs: exactly the user's commit, as an archive.

``git archive`` of the checked-out commit (with uncommitted changes of tracked files, of
``git stash create``: a commit object of the working tree, made without touching it; the job
then says ``dirty: true`` and ``submit`` wants ``--allow-dirty``; untracked files are never
included, and preparing a job names the untracked Python files it leaves out), plus the job's ``model.json`` and ``CODE_VERSION.json``
(commit, dirty flag) at the archive's root. The platform's runner expands it into an empty
working directory and runs ``python run.py ...`` there; a run without a git checkout reads
its commit from ``CODE_VERSION.json``.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from pynn_microcircuit.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
VERSION_FILE = "CODE_VERSION.json"
ARCHIVE_NAME = "code.tar.gz"


def _git(*args: str, cwd: Path = ROOT) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or f"git {' '.join(args)} failed")
    return out.stdout.strip()


def describe_code(root: Path = ROOT) -> dict:
    """``{"commit", "dirty", "source"}`` of the code in ``root``: from git where it is a
    checkout, else from ``CODE_VERSION.json`` (inside a job), else unknown."""
    try:
        commit = _git("rev-parse", "HEAD", cwd=root)
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no", cwd=root))
        return {"commit": commit, "dirty": dirty, "source": "git"}
    except (RuntimeError, FileNotFoundError):
        pass
    version = root / VERSION_FILE
    if version.is_file():
        return {**json.loads(version.read_text()), "source": VERSION_FILE}
    return {"commit": None, "dirty": None, "source": "unknown"}


def build_archive(dest: Path, extra_files: dict[str, bytes]) -> dict:
    """Write ``dest`` (tar.gz) with the current commit's tree and ``extra_files`` at its root.

    Uncommitted changes of tracked files are packed too (``git stash create``) and the
    returned description says ``dirty: True``; :func:`pynn_microcircuit.platforms.spinnaker.jobs.submit`
    refuses such a job unless told otherwise. Untracked Python files (not ignored) are listed
    under ``untracked_sources``: they are not in the archive, so a job whose code imports one
    fails on the platform.
    """
    code = describe_code()
    if code["source"] != "git":
        raise UserError(
            f"{ROOT} is not a git checkout: a job must run a known commit; clone the "
            "repository, or pass --code-url URL@COMMIT"
        )
    head, dirty = code["commit"], code["dirty"]
    tree = (_git("stash", "create") or head) if dirty else head
    untracked = _git("ls-files", "--others", "--exclude-standard", "--", "*.py").split()
    info = {"commit": head, "dirty": dirty, "archived_tree": tree, "untracked_sources": untracked}
    raw = subprocess.run(
        ["git", "archive", "--format=tar", tree], cwd=ROOT, capture_output=True, check=True
    ).stdout
    buf = io.BytesIO(raw)
    files = {**extra_files, VERSION_FILE: json.dumps(info, indent=2).encode() + b"\n"}
    with tarfile.open(fileobj=buf, mode="a") as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tar.addfile(ti, io.BytesIO(data))
    tmp = Path(str(dest) + ".part")
    with gzip.open(tmp, "wb") as gz:
        gz.write(buf.getvalue())
    shutil.move(tmp, dest)
    return info


def parse_code_url(text: str) -> tuple[str, str]:
    """``URL@COMMIT`` -> (URL, COMMIT); one-line error otherwise."""
    url, sep, commit = text.rpartition("@")
    if not sep or not url.startswith(("https://", "http://")) or len(commit) < 7:
        raise UserError(
            f"--code-url '{text}' is not URL@COMMIT, e.g. https://github.com/me/pd14@1a2b3c4"
        )
    return url, commit


def check_commit(expected: str, root: Path = ROOT) -> None:
    """Refuse to run code other than ``expected`` (a job made with ``--code-url``)."""
    have = describe_code(root).get("commit")
    if not have or not have.startswith(expected) and not expected.startswith(have):
        raise UserError(
            f"this job must run commit {expected[:12]} but the code here is "
            f"{(have or 'unknown')[:12]}: the platform cloned the repository's default "
            "branch; make that commit its head, or prepare the job without --code-url"
        )
