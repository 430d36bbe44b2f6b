"""A local stand-in for the EBRAINS Neuromorphic Computing Platform job service.

The real service cannot be reached from CI, so the tests run the unmodified ``nmpi`` client
against this server. It speaks the endpoints the client (hbp-neuromorphic-platform 0.11) uses:
``GET <userinfo>`` (OpenID user info), ``POST /jobs/``, ``GET /jobs/<id>?with_log=..`` and
plain file downloads for ``output_data``. A job moves submitted -> running -> finished on
successive reads, and its output is the files of ``output_dir``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse


class StandIn:
    def __init__(self, token: str, output_dir: Path | None = None):
        self.token = token
        self.output_dir = output_dir
        self.jobs: dict[int, dict] = {}
        self.reads: dict[int, int] = {}
        self.auth_headers: list[str] = []
        self.fail_job = False
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
                if url.path.startswith("/files/"):
                    path = server.output_dir / url.path[len("/files/") :]
                    return self._send(200, raw=path.read_bytes())
                if not self._authorised():
                    return None
                if url.path == "/userinfo":
                    return self._send(200, {"sub": "u-1", "preferred_username": "tester"})
                if url.path.startswith("/jobs/"):
                    job_id = int(url.path.strip("/").split("/")[1])
                    if job_id not in server.jobs:
                        return self._send(404, {"detail": "no such job"})
                    n = server.reads[job_id] = server.reads.get(job_id, 0) + 1
                    states = ["submitted", "running", "error" if server.fail_job else "finished"]
                    job = dict(server.jobs[job_id], status=states[min(n - 1, 2)])
                    job["log"] = "line 1\nsimulating\ndone\n"
                    if job["status"] == "finished":
                        host = f"http://{self.headers['Host']}"
                        files = sorted(p for p in server.output_dir.rglob("*") if p.is_file())
                        job["output_data"] = {
                            "files": [
                                {
                                    "url": f"{host}/files/{p.relative_to(server.output_dir)}",
                                    "path": str(p.relative_to(server.output_dir)),
                                }
                                for p in files
                            ]
                        }
                    return self._send(200, job)
                return self._send(404, {"detail": "not found"})

            def do_POST(self):  # noqa: N802
                if not self._authorised():
                    return None
                if self.path.rstrip("/") != "/jobs":
                    return self._send(404, {"detail": "not found"})
                length = int(self.headers.get("Content-Length", 0))
                job = json.loads(self.rfile.read(length))
                job_id = len(server.jobs) + 1
                job.update(id=job_id, resource_uri=f"/jobs/{job_id}", status="submitted")
                server.jobs[job_id] = job
                return self._send(201, job)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
