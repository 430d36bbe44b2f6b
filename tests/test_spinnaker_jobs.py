"""Submitting, following and fetching SpiNNaker jobs through the real ``nmpi`` client, against
a local stand-in of the EBRAINS job service (the real one is not reachable from CI)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("nmpi")

from nmpi_standin import StandIn  # noqa: E402
from test_analysis import make_run  # noqa: E402

from platforms.spinnaker.jobs import write_job  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "s3cr3t-token-value"


def cli(args, cwd, home, token=TOKEN):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EBRAINS_", "NMPI_"))}
    env["HOME"] = str(home)
    if token:
        env["EBRAINS_TOKEN"] = token
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_submit_status_fetch_end_to_end(tmp_path):
    output = tmp_path / "remote"
    output.mkdir()
    make_run(output / "run_output", 3)  # what the job writes on the platform
    home = tmp_path / "home"
    home.mkdir()
    with StandIn(TOKEN, output) as server:
        job_dir = write_job(tmp_path / "jobs", "pd14", ["run.py", "--platform", "spinnaker"], None)
        job = yaml.safe_load((job_dir / "job.yaml").read_text())
        rc, out = cli(["submit", str(job_dir)], tmp_path, home)
        assert rc == 2 and "is incomplete: set collab" in out and "Traceback" not in out
        job.update(collab="my-collab", service=server.url, userinfo=server.url + "/userinfo")
        (job_dir / "job.yaml").write_text(yaml.safe_dump(job))

        rc, out = cli(["submit", str(job_dir)], tmp_path, home, token=None)
        assert rc == 2 and "no EBRAINS access token" in out

        rc, out = cli(["submit", str(job_dir)], tmp_path, home)
        assert rc == 0, out
        assert "as job /jobs/1" in out
        sent = server.jobs[1]
        assert sent["collab"] == "my-collab" and sent["hardware_platform"] == "SpiNNaker"
        assert sent["command"] == "run.py --platform spinnaker"
        assert sent["hardware_config"]["spynnaker_version"] == "7.4.1"
        assert f"Bearer {TOKEN}" in server.auth_headers
        rc, out = cli(["submit", str(job_dir)], tmp_path, home)
        assert rc == 2 and "submitted already" in out and len(server.jobs) == 1

        rc, out = cli(["status", str(job_dir)], tmp_path, home)
        assert rc == 0 and "job /jobs/1: submitted" in out
        rc, out = cli(["fetch", str(job_dir)], tmp_path, home)  # second read: running
        assert rc == 2 and "is 'running', not finished" in out
        rc, out = cli(["fetch", str(job_dir), "--runs", str(tmp_path / "runs")], tmp_path, home)
        assert rc == 0, out
    run_dir = Path(out.split("run directory: ")[1].split()[0])
    assert (run_dir / "spikes.h5").is_file()
    assert json.loads((run_dir / "run.json").read_text())["seed"] == 3
    # the token is nowhere on disk: job files, run directory, the home token file
    for path in [*job_dir.rglob("*"), *run_dir.rglob("*"), *home.rglob("*")]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in out


def test_unreachable_service_and_failed_job(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    job_dir = write_job(tmp_path / "jobs", "x", ["run.py"], "c")
    job = yaml.safe_load((job_dir / "job.yaml").read_text())
    job.update(service="http://127.0.0.1:9", userinfo="http://127.0.0.1:9/userinfo")
    (job_dir / "job.yaml").write_text(yaml.safe_dump(job))
    rc, out = cli(["submit", str(job_dir)], tmp_path, home)
    assert rc == 2 and "cannot reach the EBRAINS platform" in out and TOKEN not in out
    with StandIn(TOKEN, tmp_path) as server:
        server.fail_job = True
        job.update(service=server.url, userinfo=server.url + "/userinfo")
        (job_dir / "job.yaml").write_text(yaml.safe_dump(job))
        assert cli(["submit", str(job_dir)], tmp_path, home)[0] == 0
        cli(["status", str(job_dir)], tmp_path, home)
        cli(["status", str(job_dir)], tmp_path, home)
        rc, out = cli(["fetch", str(job_dir)], tmp_path, home)
        assert rc == 2 and "is 'error'" in out and "it failed" in out
