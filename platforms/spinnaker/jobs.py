"""Jobs for the EBRAINS Neuromorphic Computing Platform (SpiNNaker) through its ``nmpi`` client.

A job is a directory ``jobs/<name>/`` with ``job.yaml``::

    platform: SpiNNaker               # nmpi hardware platform
    source: https://github.com/...    # repository the platform checks out and runs
    command: run.py --platform spinnaker --ebrains-job --n-scale ... --out run_output
    collab: my-collab                 # EBRAINS collab the job is accounted to
    hardware_config: {spynnaker_version: "7.4.1", extra_pip_installs: [...]}
    inputs: []                        # URLs of input files
    service: https://nmpi-v3.hbpneuromorphic.eu
    userinfo: https://iam.ebrains.eu/auth/realms/hbp/protocol/openid-connect/userinfo

``submission.json`` (written by ``submit``) holds the job id and server; ``fetch`` downloads
the job's output into a new run directory. The access token comes from ``EBRAINS_TOKEN`` or
the client's own token file (``~/.hbptoken``, entry of ``EBRAINS_USER``) and is never written
into job files, run.json or logs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from pynn_microcircuit.errors import UserError

JOB_FILE = "job.yaml"
SUBMISSION_FILE = "submission.json"
DEFAULT_SERVICE = "https://nmpi-v3.hbpneuromorphic.eu"
DEFAULT_USERINFO = "https://iam.ebrains.eu/auth/realms/hbp/protocol/openid-connect/userinfo"
DEFAULT_SOURCE = "https://github.com/pynn-microcircuit/pynn-microcircuit"
REQUIRED = ("platform", "source", "command", "collab")
#: Where the job's run directory lands on the platform (relative to the job's working dir).
REMOTE_OUT = "run_output"


def write_job(
    jobs_root: Path, name: str, command: list[str], collab: str | None, extra: dict | None = None
) -> Path:
    """Create ``jobs_root/name/job.yaml`` (never overwriting an existing job)."""
    job_dir = Path(jobs_root) / name
    if job_dir.exists():
        raise UserError(f"job '{job_dir}' exists; choose another --job name (nothing overwritten)")
    job_dir.mkdir(parents=True)
    job = {
        "platform": "SpiNNaker",
        "source": DEFAULT_SOURCE,
        "command": " ".join(command),
        "collab": collab,
        "hardware_config": {
            "spynnaker_version": "7.4.1",
            "extra_pip_installs": ["elephant>=1.1", "h5py>=3.8", "pyyaml>=6", "psutil>=5.9"],
        },
        "inputs": [],
        "service": DEFAULT_SERVICE,
        "userinfo": DEFAULT_USERINFO,
        **(extra or {}),
    }
    (job_dir / JOB_FILE).write_text(
        "# SpiNNaker job prepared by pynn-microcircuit; fill in 'collab' before submitting\n"
        + yaml.safe_dump(job, sort_keys=False)
    )
    return job_dir


def read_job(job_dir: str | Path) -> dict:
    """``job.yaml`` of ``job_dir``, checked; one-line errors naming what is missing."""
    job_dir = Path(job_dir)
    path = job_dir / JOB_FILE
    if not path.is_file():
        raise UserError(f"'{job_dir}' is not a job directory (no {JOB_FILE}); see jobs/README.md")
    try:
        job = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"'{path}' is not valid YAML ({exc.__class__.__name__})") from None
    missing = [k for k in REQUIRED if not job.get(k)]
    if missing:
        raise UserError(
            f"'{path}' is incomplete: set {', '.join(missing)} (e.g. collab: my-collab)"
        )
    if job["platform"] != "SpiNNaker":
        raise UserError(f"'{path}': platform '{job['platform']}' is not SpiNNaker")
    return job


def _token() -> tuple[str | None, str | None]:
    """(token, username) from the environment, else (None, user) for the client's token file."""
    token = os.environ.get("EBRAINS_TOKEN")
    user = os.environ.get("EBRAINS_USER")
    if token:
        return token, user
    tokenfile = Path.home() / ".hbptoken"
    if tokenfile.is_file():
        try:
            entries = json.loads(tokenfile.read_text())
        except json.JSONDecodeError:
            entries = {}
        if user and user in entries:
            return None, user
        if not user and len(entries) == 1:
            return None, next(iter(entries))
    raise UserError(
        "no EBRAINS access token: set EBRAINS_TOKEN (or EBRAINS_USER with a token in "
        "~/.hbptoken from an earlier nmpi login)"
    )


def client(job: dict):
    """An ``nmpi.Client`` for the job's service, authenticated without prompting."""
    try:
        import nmpi
    except ImportError:
        raise UserError(
            "the EBRAINS client is not installed: pip install -e '.[spinnaker]'"
        ) from None
    token, user = _token()
    if token:
        # the client caches a given token in ~/.hbptoken (replacing the file); a token from
        # the environment stays there
        import nmpi.nmpi_user

        nmpi.nmpi_user.TOKENFILE = os.devnull
    try:
        return nmpi.Client(
            username=user,
            token=token,
            job_service=os.environ.get("NMPI_JOB_SERVICE", job.get("service", DEFAULT_SERVICE)),
            user_info_endpoint=os.environ.get(
                "NMPI_USERINFO", job.get("userinfo", DEFAULT_USERINFO)
            ),
        )
    except UserError:
        raise
    except Exception as exc:  # requests/connection errors never contain the token
        raise UserError(
            f"cannot reach the EBRAINS platform at {job.get('service')}: "
            f"{type(exc).__name__}; check the network and the token"
        ) from None


def submit(job_dir: str | Path) -> str:
    """Submit the job; writes ``submission.json``; returns the job id. A job already submitted
    is not submitted twice."""
    job_dir = Path(job_dir)
    job = read_job(job_dir)
    sub = job_dir / SUBMISSION_FILE
    if sub.is_file():
        old = json.loads(sub.read_text())
        raise UserError(
            f"'{job_dir}' was submitted already (job {old['job_id']}); use 'run.py status "
            f"{job_dir}' or copy the job to a new directory"
        )
    c = client(job)
    try:
        job_id = c.submit_job(
            source=job["source"],
            platform=job["platform"],
            collab_id=job["collab"],
            config=job.get("hardware_config"),
            inputs=job.get("inputs") or None,
            command=job["command"],
            tags=["pynn-microcircuit"],
        )
    except Exception as exc:
        raise UserError(f"the platform refused the job: {exc}") from None
    sub.write_text(
        json.dumps(
            {"job_id": job_id, "service": c.job_server, "submitted_at": time.time()}, indent=2
        )
        + "\n"
    )
    return str(job_id)


def _submission(job_dir: Path) -> dict:
    sub = job_dir / SUBMISSION_FILE
    if not sub.is_file():
        raise UserError(f"'{job_dir}' has not been submitted; run 'run.py submit {job_dir}'")
    return json.loads(sub.read_text())


def status(job_dir: str | Path) -> dict:
    """``{"job_id", "status", "log_tail"}`` of a submitted job."""
    job_dir = Path(job_dir)
    job, sub = read_job(job_dir), _submission(job_dir)
    info = client(job).get_job(sub["job_id"], with_log=True)
    log_lines = (info.get("log") or "").strip().splitlines()
    return {"job_id": sub["job_id"], "status": info.get("status"), "log_tail": log_lines[-5:]}


def fetch(job_dir: str | Path, runs_root: str | Path = "runs") -> Path:
    """Download a finished job's output into a new run directory and check it reads back."""
    from analysis.io import load_run
    from pynn_microcircuit.rundir import new_run_dir

    job_dir = Path(job_dir)
    job, sub = read_job(job_dir), _submission(job_dir)
    c = client(job)
    info = c.get_job(sub["job_id"], with_log=True)
    state = info.get("status")
    if state != "finished":
        raise UserError(
            f"job {sub['job_id']} is '{state}', not finished; fetch it when 'run.py status' "
            "says finished"
            + (" (it failed: see the log with run.py status)" if state == "error" else "")
        )
    with tempfile.TemporaryDirectory() as tmp:
        c.download_data(info, local_dir=tmp)
        found = [p.parent for p in Path(tmp).rglob("run.json")]
        if not found:
            raise UserError(f"job {sub['job_id']} produced no run.json; see its log")
        run_dir = new_run_dir(None, f"{job_dir.name}_job", root=runs_root)
        for item in found[0].iterdir():
            shutil.move(str(item), run_dir / item.name)
    (job_dir / "fetched.json").write_text(json.dumps({"run_dir": str(run_dir)}) + "\n")
    load_run(run_dir)  # raises a clear error if the output is incomplete
    return run_dir
