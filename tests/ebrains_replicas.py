"""Replicas of the EBRAINS services a SpiNNaker job meets, for tests (none is reachable here).

* :func:`run_like_platform` does what the Manchester SpiNNaker platform's job runner does, as
  its public source documents it (SpiNNaker-nmpiexec: ``PyNNJobProcess`` and the
  job-parameter factories; summarised in shared/spinnaker.md): download an http(s) ``code``
  URL into an empty working directory and expand it (format detected from the content),
  run the setup with every ``hardware_config`` entry as an environment variable, write the
  machine into ``<working dir>/spynnaker.cfg`` -- here ``virtual_board = True`` and
  ``version = 5`` stand in for the board the real runner names --, remember the files, run
  ``python`` + the command split on spaces (``{system}`` -> ``spiNNaker``) in the working
  directory, return every new file except ``*.pyc`` and those under directories named
  ``reports`` or ``application_generated_data_files``, and zip ``reports/`` into
  ``reports.zip``. Where it differs: the real setup pip-installs ``extra_pip_installs``; the
  replica checks that they are installed (no downloads in tests).
* :class:`DriveStandIn` speaks the part of the EBRAINS drive (Seafile) API that the
  ``ebrains-drive`` client uses to upload a file and share it: token exchange, repository
  list, directory listing, upload link and upload, file detail, shared link, and the public
  download of a shared link (``?dl=1``).
"""

from __future__ import annotations

import configparser
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from importlib import metadata
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from nmpi_standin import LocalServer

IGNORED_DIRECTORIES = {"reports", "application_generated_data_files"}


def _gather(directory: Path) -> set[Path]:
    out = set()
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRECTORIES]
        out.update(Path(root, f) for f in files if not f.endswith(".pyc"))
    return out


def _setup(hardware_config: dict) -> dict:
    """The setup step: ``hardware_config`` as environment; requirements checked."""
    from packaging.requirements import Requirement

    env = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in hardware_config.items()}
    for req in hardware_config.get("extra_pip_installs", []):
        r = Requirement(req)
        version = metadata.version(r.name)  # raises PackageNotFoundError: job fails
        if version not in r.specifier:
            raise RuntimeError(f"{req} not satisfied by {version}")
    return env


def run_like_platform(job: dict, workdir: Path, home: Path) -> tuple[int, str, list[str]]:
    """Run ``job`` (the dict the nmpi client submitted) as the platform's runner would.

    Returns (exit code, log, output paths relative to ``workdir``).
    """
    workdir.mkdir(parents=True)
    code = job["code"].strip()
    if not code.startswith(("http://", "https://")):
        raise ValueError("the replica runs archive jobs only")
    archive = workdir / "download"
    urllib.request.urlretrieve(code, archive)
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            tar.extractall(workdir, filter="data")
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(workdir)
    else:
        raise ValueError("code is neither a tar nor a zip archive")
    env = {**os.environ, "HOME": str(home), **_setup(job.get("hardware_config") or {})}
    env.pop("XDG_CONFIG_HOME", None)
    cfg = configparser.ConfigParser()
    cfg_file = workdir / "spynnaker.cfg"
    if cfg_file.exists():
        cfg.read(cfg_file)
    if not cfg.has_section("Machine"):
        cfg.add_section("Machine")
    cfg.set("Machine", "virtual_board", "True")
    cfg.set("Machine", "version", "5")
    with open(cfg_file, "w") as fh:
        cfg.write(fh)
    before = _gather(workdir)
    command = [sys.executable] + [
        a.replace("{system}", "spiNNaker") for a in job["command"].split(" ") if a
    ]
    proc = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=900,
    )
    outputs = sorted(p for p in _gather(workdir) if p not in before)
    reports = workdir / "reports"
    if reports.is_dir():
        shutil.make_archive(str(workdir / "reports"), "zip", reports)
        outputs.append(workdir / "reports.zip")
    return proc.returncode, proc.stdout, [str(p.relative_to(workdir)) for p in outputs]


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
