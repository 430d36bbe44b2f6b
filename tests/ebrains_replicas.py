"""Replicas of the EBRAINS services a SpiNNaker job meets, for tests (none is reachable here).

Each rule the replicas follow is the real code's, cited by file: JavaSpiNNaker
(``SpiNNakerManchester/JavaSpiNNaker``, folder ``SpiNNaker-nmpiexec``, paths below
``src/main/java/uk/ac/manchester/spinnaker/nmpiexec/``), commons-compress, and the job queue
(``HumanBrainProject/ebrains-neuromorphic-job-queue-api``, ``api/simqueue/``).

* :func:`run_like_platform` runs a job as the runner does:

  - ``job_parameters/JobParametersFactory.java``: the factories Git, Zip, Direct in that
    order; the first that accepts the job wins.
  - Git (``GitPyNNJobParametersFactory.java``): an http(s) ``code`` is cloned (submodules
    too) into ``<working dir>/<humanish name>`` (JGit's ``URIish.getHumanishName``: the last
    path segment without ``.git``), and the job's working directory becomes that clone.
    Here: real ``git clone``; a URL that is no repository fails and falls through, as there.
  - Zip (``ZipPyNNJobParametersFactory.java``): the URL is downloaded into the working
    directory (``utils/FileDownloader.java``: named by ``Content-Disposition``, else the
    URL path's last segment) and expanded by commons-compress ``new Expander().expand(file,
    dir)``. Here: the real library (Debian's ``libcommons-compress-java``, 1.22; the runner
    builds with 1.28.0) through ``tests/java/Expand.java``; a .tar.gz fails there and the job
    is refused, as there.
  - ``jobprocessmanager/JobProcessManager.java`` (``getJobParameters``): every input URL is
    downloaded into the *working directory the runner made* (for a git job: the clone's
    parent), with the same naming.
  - ``jobprocess/PyNNJobProcess.java``: the setup script runs with every ``hardware_config``
    entry as an environment variable (strings as they are, anything else as JSON); the
    machine is added to ``spynnaker.cfg`` in the job's working directory; the existing files
    are remembered; ``python`` + the command split by ``ARGUMENT_FINDER``
    (``([^"]\\S*|".+?")\\s*``, ``{system}`` -> ``spiNNaker``) runs there; ``reports/`` is
    zipped to ``reports.zip``; the outputs are the new files, except ``*.pyc`` and anything
    under directories named ``reports`` or ``application_generated_data_files``.
  - ``JobProcessManager.processOutcome``: each output is uploaded under
    ``output.getName()``, the file name alone (the server's ``JobManager.addOutput`` writes
    it into one folder per job): outputs with the same name overwrite each other. Outputs
    are uploaded after a failure too.

  Where it differs: the setup script (``SpiNNaker-nmpiserv/execute_pynn.bash``) pip-installs
  each ``extra_pip_installs`` entry; the replica checks each is installed (no downloads in
  tests), and for ``-e.`` (the job's own checkout, installed in place) that the package of
  the working directory's ``pyproject.toml`` is installed. The machine it writes is a
  virtual board (``virtual_board = True``, ``version = 5``), where the real runner names a
  real one (``machine_name`` + ``version``, or ``remote_spinnaker_url``).
* :class:`DriveStandIn` speaks the part of the EBRAINS drive (Seafile) API that the
  ``ebrains-drive`` client uses to upload a file and share it, and to delete one (its
  ``upload_local_file(overwrite=True)`` deletes an existing file first:
  ``ebrains_drive/files.py``), so a job submitted again after a refusal uploads again.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from importlib import metadata
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlparse

from nmpi_standin import LocalServer

IGNORED_DIRECTORIES = {"reports", "application_generated_data_files"}
#: PyNNJobProcess.ARGUMENT_FINDER
ARGUMENT_FINDER = re.compile(r'([^"]\S*|".+?")\s*')
EXPANDER = Path(__file__).resolve().parent / "java" / "Expand.java"
COMMONS_COMPRESS = Path("/usr/share/java/commons-compress.jar")


def expander_available() -> bool:
    """Whether the real commons-compress Expander can run here (java + the library)."""
    return shutil.which("java") is not None and COMMONS_COMPRESS.is_file()


def expand(archive: Path, dest: Path) -> subprocess.CompletedProcess:
    """commons-compress ``new Expander().expand(archive, dest)`` (tests/java/Expand.java)."""
    return subprocess.run(
        ["java", "-cp", str(COMMONS_COMPRESS), str(EXPANDER), str(archive), str(dest)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _gather(directory: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRECTORIES]
        out.extend(Path(root, f) for f in files if not f.endswith(".pyc"))
    return out


def download(url: str, directory: Path) -> Path:
    """FileDownloader.downloadFile with no default name: Content-Disposition's filename
    (for ``attachment``/``form-data``), else the URL path's last segment, else a temp name."""
    with urllib.request.urlopen(url) as resp:
        data, disposition = resp.read(), resp.headers.get("Content-Disposition")
    name = None
    if disposition and disposition.lower().startswith(("attachment", "form-data")):
        m = re.search(r'filename="?([^";]+)"?', disposition, re.IGNORECASE)
        name = m.group(1) if m else None
    if not name:
        name = PurePosixPath(urlparse(url).path).name  # java.io.File(path).getName()
    if not name:
        fd, tmp = tempfile.mkstemp(prefix="download", suffix="file", dir=directory)
        os.close(fd)
        name = Path(tmp).name
    target = directory / name
    target.write_bytes(data)
    return target


def humanish_name(url: str) -> str:
    """JGit URIish.getHumanishName: the last path segment, without ``.git``."""
    segment = PurePosixPath(urlparse(url).path.rstrip("/")).name
    if segment.endswith(".git"):
        segment = segment[: -len(".git")]
    return segment or "repo"


def _job_directory(code: str, workdir: Path) -> tuple[Path, str]:
    """The Git, then Zip factory: (the job's working directory, the factory that took it)."""
    if not code.startswith(("http://", "https://")):
        raise ValueError(
            "the replica runs http(s) code only (the Direct factory is not replicated)"
        )
    clone_dir = workdir / humanish_name(code)
    cloned = subprocess.run(
        ["git", "clone", "--recurse-submodules", "-q", code, str(clone_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if cloned.returncode == 0:
        return clone_dir, "git"
    shutil.rmtree(clone_dir, ignore_errors=True)  # JGit's clone cleans up after a failure
    archive = download(code, workdir)
    res = expand(archive, workdir)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"Error with zip extraction: {last}")
    return workdir, "zip"


def _setup(hardware_config: dict, job_dir: Path) -> dict:
    """The setup step: ``hardware_config`` as environment; requirements checked."""
    from packaging.requirements import Requirement

    env = {k: v if isinstance(v, str) else json.dumps(v) for k, v in hardware_config.items()}
    for req in hardware_config.get("extra_pip_installs", []):
        if req == "-e.":  # the job's checkout itself: its project must be installed
            import tomllib

            name = tomllib.loads((job_dir / "pyproject.toml").read_text())["project"]["name"]
            metadata.version(name)  # raises PackageNotFoundError: job fails
            continue
        r = Requirement(req)
        version = metadata.version(r.name)
        if version not in r.specifier:
            raise RuntimeError(f"{req} not satisfied by {version}")
    return env


def run_like_platform(job: dict, workdir: Path, home: Path) -> tuple[int, str, dict[str, Path]]:
    """Run ``job`` (the dict the nmpi client submitted) as the platform's runner would.

    Returns (exit code, log, outputs): the outputs as the server stores them, file name ->
    file (the last of equal names wins, as ``JobManager.addOutput`` overwrites).
    """
    workdir.mkdir(parents=True)
    job_dir, _factory = _job_directory(job["code"].strip(), workdir)
    for item in job.get("input_data") or []:
        download(item["url"], workdir)
    env = {**os.environ, "HOME": str(home), **_setup(job.get("hardware_config") or {}, job_dir)}
    env.pop("XDG_CONFIG_HOME", None)
    cfg = configparser.ConfigParser()
    cfg_file = job_dir / "spynnaker.cfg"
    if cfg_file.exists():
        cfg.read(cfg_file)
    if not cfg.has_section("Machine"):
        cfg.add_section("Machine")
    cfg.set("Machine", "virtual_board", "True")
    cfg.set("Machine", "version", "5")
    with open(cfg_file, "w") as fh:
        cfg.write(fh)
    before = set(_gather(job_dir))
    command = [sys.executable] + [
        m.group(1).replace("{system}", "spiNNaker")
        for m in ARGUMENT_FINDER.finditer(job["command"])
    ]
    proc = subprocess.run(
        command,
        cwd=job_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=900,
    )
    reports = job_dir / "reports"
    if reports.is_dir():
        with zipfile.ZipFile(job_dir / "reports.zip", "w") as z:
            for path in sorted(reports.rglob("*")):
                if path.is_file():
                    z.write(path, "reports/" + path.relative_to(reports).as_posix())
    uploaded: dict[str, Path] = {}
    store = workdir.parent / f"{workdir.name}.outputs"
    store.mkdir()
    for path in _gather(job_dir):
        if path not in before:
            shutil.copyfile(path, store / path.name)  # output.getName(): folders dropped
            uploaded[path.name] = store / path.name
    return proc.returncode, proc.stdout, uploaded


class DriveStandIn(LocalServer):
    """A local stand-in of the EBRAINS drive for ``ebrains-drive`` uploads and shared links."""

    def __init__(self, token: str, collab: str):
        self.token, self.seafile_token = token, "sf-" + secrets.token_hex(4)
        self.repo = {
            "id": "repo-1",
            "name": collab,
            "owner": f"collab-{collab}-administrator",
            "permission": "rw",
        }
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body=b"", ctype="application/json", headers=()):
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _auth(self) -> bool:
                if self.headers.get("Authorization") == f"Token {server.seafile_token}":
                    return True
                self._send(401, {"detail": "Invalid token"})
                return False

            def _dirents(self):
                return [
                    {"name": n.strip("/"), "type": "file", "id": f"f{i}", "size": len(d)}
                    for i, (n, d) in enumerate(server.files.items())
                ]

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                q = parse_qs(url.query)
                if url.path == "/api2/account/token/":
                    ok = self.headers.get("Authorization") == f"Bearer {server.token}"
                    return self._send(
                        200 if ok else 401, server.seafile_token.encode(), "text/plain"
                    )
                if url.path.startswith("/f/"):  # public shared link
                    key = url.path.split("/")[2]
                    if key not in server.links or q.get("dl") != ["1"]:
                        return self._send(404, {"detail": "no such link"})
                    return self._send(200, server.files[server.links[key]], "application/gzip")
                if not self._auth():
                    return None
                rid = server.repo["id"]
                if url.path == "/api2/repos/":
                    return self._send(200, [server.repo])
                if url.path == f"/api2/repos/{rid}/dir/":
                    return self._send(200, self._dirents(), headers=[("oid", "dir-oid")])
                if url.path == f"/api2/repos/{rid}/upload-link/":
                    host = f"http://{self.headers['Host']}"
                    return self._send(200, f'"{host}/upload-api/{rid}"'.encode(), "text/plain")
                if url.path == f"/api2/repos/{rid}/file/detail/":
                    name = q["p"][0]
                    if name not in server.files:
                        return self._send(404, {"detail": "File not found"})
                    return self._send(200, {"id": "f", "size": len(server.files[name])})
                return self._send(404, {"detail": "not found"})

            def do_POST(self):  # noqa: N802
                if not self._auth():
                    return None
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                msg = BytesParser(policy=HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
                )
                parts = {
                    p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()
                }
                parent = parts["parent_dir"].get_payload(decode=True).decode().strip()
                filename = parts["file"].get_filename()
                server.files[os.path.join(parent, filename)] = parts["file"].get_payload(
                    decode=True
                )
                return self._send(200, b'"ok"', "text/plain")

            def do_DELETE(self):  # noqa: N802 - Seafile api2 "delete file", used by overwrite
                if not self._auth():
                    return None
                url = urlparse(self.path)
                name = parse_qs(url.query).get("p", [""])[0]
                if url.path != f"/api2/repos/{server.repo['id']}/file/" or name not in server.files:
                    return self._send(404, {"detail": "File not found"})
                del server.files[name]
                server.links = {k: v for k, v in server.links.items() if v != name}
                return self._send(200, b'"success"', "text/plain")

            def do_PUT(self):  # noqa: N802
                if not self._auth():
                    return None
                length = int(self.headers.get("Content-Length", 0))
                path = parse_qs(self.rfile.read(length).decode())["p"][0]
                if path not in server.files:
                    return self._send(404, {"detail": "File not found"})
                key = secrets.token_hex(6)
                server.links[key] = path
                host = f"http://{self.headers['Host']}"
                return self._send(201, b"", headers=[("Location", f"{host}/f/{key}/")])

        self._serve(Handler)
