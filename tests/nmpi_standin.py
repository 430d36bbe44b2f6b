"""A local stand-in for the EBRAINS Neuromorphic Computing Platform job service.

The real service cannot be reached from CI, so the tests run the unmodified ``nmpi`` client
against this server. It speaks the endpoints the client (hbp-neuromorphic-platform 0.11) uses:
``GET <userinfo>`` (OpenID user info), ``POST /jobs/``, ``GET /jobs/<id>?with_log=..`` and
plain file downloads for ``output_data``. A job moves submitted -> running -> finished on
successive reads, and its output is the files of ``output_dir``. With ``executor`` set
(``executor(job_id, job) -> (exit code, log, outputs)``, outputs as file name -> file, e.g.
the platform runner's replica in ``ebrains_replicas``), a submitted job really runs, in the
background: ``running`` until it ends, then ``finished`` (exit 0) or ``error``, with its log
and files.

Outputs as the real services list them: the runner stores each under its file name alone in
one folder per job, served as ``<server>/services/rest/output/<collab>/<id>/<name>``
(JavaSpiNNaker ``SpiNNaker-nmpiserv/.../jobmanager/OutputManagerImpl.java``, ``addOutputs``),
and reports only the URL (``DataItem`` has ``url`` alone). The job queue fills in the
missing ``path`` with ``url.lstrip(prefix)`` (``api/simqueue/data_repositories.py``,
``SpiNNakerTemporaryStorage.get_path``): ``str.lstrip`` strips a *set of characters*, not a
prefix, so the path keeps a mangled collab and the job id in front of the name (collab
``my-collab``, job 1: ``y-collab/1/<name>``), and the ``nmpi`` client saves each file at that
path below its download folder (``Client.download_data``).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlparse

#: Where the runner's server serves a job's outputs (OutputManagerImpl.addOutputs).
OUTPUT_PATH = "/services/rest/output/"
#: The prefix SpiNNakerTemporaryStorage.get_path strips (data_repositories.py).
REAL_PREFIX = "http://spinnaker.cs.man.ac.uk/services/rest/output/"


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) for a handler class; a context
    manager that serves while inside."""

    def _serve(self, handler) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class StandIn(LocalServer):
    def __init__(self, token: str, output_dir: Path | None = None, executor=None):
        self.token = token
        self.executor = executor
        self.results: dict[int, tuple] = {}
        self.threads: dict[int, threading.Thread] = {}
        self.output_dir = output_dir
        self.jobs: dict[int, dict] = {}
        self.reads: dict[int, int] = {}
        self.stored: dict[int, dict[str, Path]] = {}
        self.auth_headers: list[str] = []
        self.fail_job = False
        #: Collabs the token's user may submit to (None: any), and whether it has quota.
        self.collabs: set | None = None
        self.quota = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code, obj=None, raw: bytes | None = None):
                body = raw if raw is not None else json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization", "")
                server.auth_headers.append(auth)
                if auth != f"Bearer {server.token}":
                    self._send(401, {"error": "invalid_token"})
                    return False
                return True

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                if url.path.startswith(OUTPUT_PATH):
                    _collab, job_id, name = url.path[len(OUTPUT_PATH) :].split("/", 2)
                    files = server.stored.get(int(job_id), {})
                    if name not in files:
                        return self._send(404, {"detail": "no such output"})
                    return self._send(200, raw=files[name].read_bytes())
                if not self._authorised():
                    return None
                if url.path == "/userinfo":
                    return self._send(200, {"sub": "u-1", "preferred_username": "tester"})
                if url.path.startswith("/jobs/"):
                    job_id = int(url.path.strip("/").split("/")[1])
                    if job_id not in server.jobs:
                        return self._send(404, {"detail": "no such job"})
                    if server.executor:
                        return self._send(200, server.executed_job(job_id, self.headers["Host"]))
                    n = server.reads[job_id] = server.reads.get(job_id, 0) + 1
                    states = ["submitted", "running", "error" if server.fail_job else "finished"]
                    job = dict(server.jobs[job_id], status=states[min(n - 1, 2)])
                    job["log"] = "line 1\nsimulating\ndone\n"
                    if job["status"] == "finished":
                        files = {p.name: p for p in server.output_dir.rglob("*") if p.is_file()}
                        server.stored[job_id] = files
                        job["output_data"] = server.output_data(self.headers["Host"], job, files)
                    return self._send(200, job)
                return self._send(404, {"detail": "not found"})

            def do_POST(self):  # noqa: N802
                if not self._authorised():
                    return None
                if self.path.rstrip("/") != "/jobs":
                    return self._send(404, {"detail": "not found"})
                length = int(self.headers.get("Content-Length", 0))
                job = json.loads(self.rfile.read(length))
                refused = server.refusal(job)
                if refused:
                    return self._send(*refused)
                job_id = len(server.jobs) + 1
                job.update(id=job_id, resource_uri=f"/jobs/{job_id}", status="submitted")
                server.jobs[job_id] = job
                if server.executor:
                    t = threading.Thread(target=server._execute, args=(job_id, dict(job)))
                    server.threads[job_id] = t
                    t.start()
                return self._send(201, job)

        self._serve(Handler)

    def refusal(self, job: dict) -> tuple | None:
        """(status, body) with which the job queue refuses ``job``, as its ``create_job``
        does (api/simqueue/resources/for_users.py): 404 for a collab the user cannot edit,
        403 without quota for the platform (``utils.check_quotas``); a command over the
        database column's 500 characters (``db.py``) fails in the database: 500."""
        if self.collabs is not None and job.get("collab") not in self.collabs:
            return 404, {"detail": "You do not have access to this collab or there is no "
                                   "collab with this id"}  # fmt: skip
        if not self.quota or job.get("hardware_platform") != "SpiNNaker":
            return 403, {"detail": "You do not have sufficient compute quota to submit this job"}
        if len(job.get("command") or "") > 500:
            return 500, None, b"Internal Server Error"
        return None

    def _execute(self, job_id: int, job: dict) -> None:
        try:
            self.results[job_id] = self.executor(job_id, job)
        except Exception as exc:  # noqa: BLE001 - the runner's own failure: job error
            self.results[job_id] = (1, f"runner failed: {exc!r}", {})

    def executed_job(self, job_id: int, host: str) -> dict:
        job = dict(self.jobs[job_id])
        if job_id not in self.results:
            return dict(job, status="running", log="running\n")
        rc, log, outputs = self.results[job_id]
        job.update(status="finished" if rc == 0 else "error", log=log)
        self.stored[job_id] = outputs
        job["output_data"] = self.output_data(host, job, outputs)
        return job

    def output_data(self, host: str, job: dict, files: dict) -> dict:
        """``output_data`` as the job queue returns it (see the module docstring)."""
        tails = [f"{quote(job['collab'])}/{job['id']}/{quote(n)}" for n in sorted(files)]
        return {
            "repository": "SpiNNaker Manchester temporary storage",
            "files": [
                # the path as the queue computes it for the real host (the mangling depends
                # on the prefix's characters)
                {
                    "url": f"http://{host}{OUTPUT_PATH}{t}",
                    "path": (REAL_PREFIX + t).lstrip(REAL_PREFIX),
                }
                for t in tails
            ],
        }

    def wait(self, job_id: int, timeout: float = 900) -> None:
        self.threads[job_id].join(timeout)
