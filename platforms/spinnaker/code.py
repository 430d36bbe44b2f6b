"""The code an EBRAINS job runs: exactly the user's commit, as a zip of regular files.

The platform's runner (JavaSpiNNaker, ``SpiNNaker-nmpiexec``) downloads an http(s) ``code``
URL and expands it with commons-compress ``new Expander().expand(file, dir)``
(``job_parameters/ZipPyNNJobParametersFactory.java``). ``Expander`` picks the format with
``ArchiveStreamFactory.detect``, which knows archive formats (zip, tar, ar, cpio, 7z) and no
compressor: a ``.tar.gz`` is refused ("No Archiver found for the stream signature"). It writes
every entry that is not a directory as a regular file with the entry's data, so a symbolic
link would arrive as a plain file. The archive is therefore a **zip of regular files only**.

It holds the package in its installed layout: the repository keeps ``analysis/`` and
``platforms/`` as top-level folders and ``pyproject.toml`` installs them as
``pynn_microcircuit.analysis`` and ``pynn_microcircuit.platforms`` (``package-dir``); the
archive puts them at those places (:data:`PACKAGE_FOLDERS`), so ``python run.py`` in the
expanded folder imports the package without installing it. Files come from ``git archive`` of
the checked-out commit (with uncommitted changes of tracked files, of ``git stash create``: a
commit object of the working tree, made without touching it; the job then says ``dirty:
true`` and ``submit`` wants ``--allow-dirty``). Untracked files are never included, and
preparing a job names the untracked Python files it leaves out. ``model.json`` and
``CODE_VERSION.json`` (commit, dirty flag) sit at the archive's root; a run without a git
checkout reads its commit from ``CODE_VERSION.json``.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from pynn_microcircuit.errors import UserError


def _root() -> Path:
    """The folder holding ``run.py`` and ``pyproject.toml`` above this file: the repository
    (``platforms/spinnaker/`` here) or an expanded job archive
    (``pynn_microcircuit/platforms/spinnaker/`` there)."""
    here = Path(__file__).resolve()
    marks = ("run.py", "pyproject.toml")
    found = (p for p in here.parents if all((p / m).is_file() for m in marks))
    return next(found, here.parents[2])


ROOT = _root()
VERSION_FILE = "CODE_VERSION.json"
ARCHIVE_NAME = "code.zip"
#: Repository folder -> its place in the installed package (pyproject.toml's package-dir).
PACKAGE_FOLDERS = {
    "analysis/": "pynn_microcircuit/analysis/",
    "platforms/": "pynn_microcircuit/platforms/",
}
#: What a job needs of the repository: the entry script and the package (tests, benchmarks
#: and documentation stay home).
JOB_PATHS = ("run.py", "pyproject.toml", "pynn_microcircuit/", *PACKAGE_FOLDERS)
#: A fixed time stamp for every entry, so the same tree gives the same archive.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


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


def job_path(name: str) -> str | None:
    """Where a repository file goes in the job archive, or None if the job does not need it."""
    for folder, target in PACKAGE_FOLDERS.items():
        if name.startswith(folder):
            return target + name[len(folder) :]
    needed = any(name == p or p.endswith("/") and name.startswith(p) for p in JOB_PATHS)
    return name if needed else None


def installed_layout(src: Path, dest: Path, also: tuple[str, ...] = ()) -> Path:
    """Copy the checkout at ``src`` into ``dest`` in the installed layout: what a job needs
    (:func:`job_path`: ``analysis/`` and ``platforms/`` inside ``pynn_microcircuit/``) and the
    top-level folders in ``also`` (e.g. ``tests``) where they are. ``python -m
    pynn_microcircuit`` run in ``dest`` imports that copy, with no path edits (the tests'
    import-graph tools, ``benchmarks/mutation_check.py``, ``benchmarks/same_numbers.py``)."""
    tops = [*JOB_PATHS, *(f"{a}/" for a in also)]
    for top in tops:
        start = src / top.rstrip("/")
        paths = sorted(start.rglob("*")) if start.is_dir() else [start]
        for path in paths:
            rel = path.relative_to(src).as_posix()
            if not path.is_file() or "__pycache__" in rel:
                continue
            target = job_path(rel) or rel
            (dest / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / target)
    return dest


def tree_files(tree: str) -> dict[str, bytes]:
    """The files of git ``tree`` a job needs, keyed by their place in the archive.

    Raises
    ------
    UserError
        If the tree holds a symbolic link among them (the runner would expand it into a plain
        file), naming the links.
    """
    raw = subprocess.run(
        ["git", "archive", "--format=tar", tree], cwd=ROOT, capture_output=True, check=True
    ).stdout
    files, links = {}, []
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for member in tar:
            target = job_path(member.name)
            if target is None or member.isdir():
                continue
            if not member.isfile():
                links.append(member.name)
                continue
            files[target] = tar.extractfile(member).read()
    if links:
        raise UserError(
            f"the commit holds symbolic links the platform cannot expand ({', '.join(links)}); "
            "replace them by files (see pyproject.toml's package-dir) and commit"
        )
    return files


def write_zip(dest: Path, files: dict) -> None:
    """``dest`` as a zip of regular files (mode 0644, fixed time stamps), written whole to a
    ``.part`` file first and then renamed. ``files`` maps each entry's name to its bytes or
    to a file to copy in (streamed: a run's spike file is not held in memory)."""
    tmp = Path(str(dest) + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            info.compress_type = zipfile.ZIP_DEFLATED
            data = files[name]
            if isinstance(data, bytes):
                z.writestr(info, data)
            else:
                with open(data, "rb") as src, z.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 2**20)
    tmp.replace(dest)


def build_archive(dest: Path, extra_files: dict[str, bytes]) -> dict:
    """Write ``dest`` (zip) with the current commit's package and ``extra_files`` at its root.

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
    info = {
        "commit": head,
        "dirty": dirty,
        "archived_tree": tree,
        "untracked_sources": untracked,
        "layout": "installed",
    }
    files = tree_files(tree)
    files.update(extra_files)
    files[VERSION_FILE] = json.dumps(info, indent=2).encode() + b"\n"
    write_zip(dest, files)
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
