"""Jobs for the EBRAINS Neuromorphic Computing Platform (SpiNNaker) through its ``nmpi`` client.

A job is a directory ``jobs/<name>/``:

* ``job.yaml`` -- what is submitted: ``code`` (``code.zip`` in the folder until ``submit``
  uploads it to the collab's drive and replaces it by its download URL; or a git URL given
  with ``--code-url URL@COMMIT``), ``command``, ``collab``, ``hardware_config``, ``inputs``,
  ``commit``, ``fingerprint``, ``seeds``;
* ``model.json`` -- the whole model (:mod:`pynn_microcircuit.modelfile`): inside the archive,
  or, for a ``--code-url`` job, uploaded by ``submit`` and named in ``inputs``;
* ``code.zip`` -- the user's commit (:mod:`pynn_microcircuit.platforms.spinnaker.code`).

What the platform does with it, from its source (JavaSpiNNaker ``SpiNNaker-nmpiexec``, paths
below ``src/main/java/uk/ac/manchester/spinnaker/nmpiexec/``; the job queue
``ebrains-neuromorphic-job-queue-api``, ``api/simqueue/``):

* the queue stores ``command`` in 500 characters (``db.py``, ``String(500)``): every command
  we prepare is checked against that (:data:`MAX_COMMAND`); the model never travels in it;
* ``job_parameters/JobParametersFactory.java`` tries Git, Zip, Direct. Git clones an http(s)
  ``code`` into ``<working dir>/<repository name>`` and the job runs there
  (``GitPyNNJobParametersFactory.java``); Zip downloads it into the working directory and
  expands it with commons-compress's ``Expander`` (``ZipPyNNJobParametersFactory.java``:
  archive formats only, so the code is a zip of regular files);
* ``jobprocessmanager/JobProcessManager.java`` (``getJobParameters``) downloads every input
  into the *working directory* (for a git job: the parent of where it runs), named by the
  download (``utils/FileDownloader.java``); the run finds its model by fingerprint
  (:func:`pynn_microcircuit.modelfile.locate_model`);
* ``jobprocess/PyNNJobProcess.java``: a setup script runs with every ``hardware_config``
  entry as an environment variable (``extra_pip_installs`` is pip-installed one entry per
  call, ``SpiNNaker-nmpiserv/execute_pynn.bash``; we never send ``spynnaker_version``, which
  makes it rebuild repositories that no longer exist for 7.x); the machine is written into
  ``spynnaker.cfg``; ``python`` + the command split by its argument pattern runs; the outputs
  are the new files except ``*.pyc`` and those under directories named ``reports`` or
  ``application_generated_data_files``, and ``reports/`` is zipped to ``reports.zip``;
* ``JobProcessManager.processOutcome`` uploads each output under ``output.getName()``: the
  file name alone, folders dropped, so equal names overwrite each other.

So a job leaves exactly one output of its own: ``pd14-<fingerprint8>-results.zip``
(:func:`results_name`), the run (or ensemble) directory zipped by :func:`pack_results`,
whose folder is then removed; ``fetch`` finds that file by name wherever the download put it
and unpacks it into a new run (or reference) directory.

``submission.json`` (written by ``submit``) holds the job id and server. The access token
comes from ``EBRAINS_TOKEN`` or the client's token file (``~/.hbptoken``, entry of
``EBRAINS_USER``) and is never written into job files, run.json or logs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import yaml

from pynn_microcircuit.errors import UserError

from .code import ARCHIVE_NAME, build_archive, parse_code_url, write_zip
from .nmpi_compat import quiet_client

log = logging.getLogger(__name__)

JOB_FILE = "job.yaml"
SUBMISSION_FILE = "submission.json"
DEFAULT_SERVICE = "https://nmpi-v3.hbpneuromorphic.eu"
DEFAULT_USERINFO = "https://iam.ebrains.eu/auth/realms/hbp/protocol/openid-connect/userinfo"
DEFAULT_DRIVE = "https://drive.ebrains.eu"
REQUIRED = ("platform", "code", "command", "collab")
#: Where the job's run directory lands on the platform (relative to the job's working dir).
REMOTE_OUT = "run_output"
#: What the platform's image lacks for the run path (it has sPyNNaker, PyNN, Neo, NumPy).
EXTRA_PIP_INSTALLS = ["h5py>=3.8", "pyyaml>=6"]
#: A git job is a plain checkout: the setup installs it in place (``pip install -e.``, one
#: word, as execute_pynn.bash calls pip once per entry) without dependencies (pip reads
#: ``PIP_NO_DEPS`` from the environment the hardware_config entries become).
GIT_JOB_SETUP = {"extra_pip_installs": [*EXTRA_PIP_INSTALLS, "-e."], "PIP_NO_DEPS": "1"}
#: The job queue's column for the command (api/simqueue/db.py: ``String(500)``).
MAX_COMMAND = 500
#: What to do when the job queue refuses a job (api/simqueue/resources/for_users.py,
#: ``create_job``), by HTTP status; the job folder is left as it was, ready to submit again.
REFUSAL_HINTS = {
    404: " - check 'collab' in job.yaml (or EBRAINS_COLLAB): it must be a collab you can edit",
    403: " - the collab needs SpiNNaker quota: request it on the EBRAINS neuromorphic platform",
    500: " - the service failed; try again later",
}
#: The sPyNNaker release the capacity model and the run path were checked against.
CHECKED_SPYNNAKER = "7.4.1"


def results_name(fingerprint: str) -> str:
    """The job's one output file: no other output of a job has this name."""
    return f"pd14-{fingerprint[:8]}-results.zip"


def drive_name(prefix: str, name: str) -> str:
    """The name a job's file ``name`` (its code archive, an input) has on the collab drive."""
    return f"pd14-{prefix}-{name}"


def model_input_name(fingerprint: str) -> str:
    """The name a ``--code-url`` job's model file is uploaded under (the command names it)."""
    return drive_name(fingerprint[:8], "model.json")


def prepare_job(
    jobs_root: Path,
    name: str,
    model: dict,
    collab: str | None,
    code_url: str | None = None,
    dry_run: str | None = None,
) -> tuple[Path, dict]:
    """Create ``jobs_root/name/`` (never overwriting an existing job): job.yaml, model.json
    and, unless ``code_url`` names a repository, the code archive of the user's commit.
    Returns the folder and the content of its job.yaml."""
    job_dir = Path(jobs_root) / name
    if job_dir.exists():
        raise UserError(f"job '{job_dir}' exists; choose another --job name (nothing overwritten)")
    model_text = json.dumps(model, indent=2) + "\n"
    command = ["run.py", "--platform", "spinnaker", "--ebrains-job"]
    setup = {"extra_pip_installs": list(EXTRA_PIP_INSTALLS)}
    if code_url:
        url, commit = parse_code_url(code_url)
        code, info = url, {"commit": commit, "dirty": False}
        command += ["--model", model_input_name(model["fingerprint"]), "--code-commit", commit]
        setup = json.loads(json.dumps(GIT_JOB_SETUP))
    else:
        command += ["--model", "model.json"]
    command += ["--fingerprint", model["fingerprint"], "--out", REMOTE_OUT, "--no-analysis", "-q"]
    command_line = " ".join(command)
    if len(command_line) > MAX_COMMAND:
        raise UserError(
            f"the job's command has {len(command_line)} characters; the platform stores "
            f"{MAX_COMMAND}: use a shorter --code-url"
        )
    Path(jobs_root).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=jobs_root))  # complete, then renamed
    try:
        (tmp / "model.json").write_text(model_text)
        if not code_url:
            info = build_archive(tmp / ARCHIVE_NAME, {"model.json": model_text.encode()})
            code = ARCHIVE_NAME
            if info["untracked_sources"]:
                log.warning(
                    "not in the job's code (untracked): %s - 'git add' what the code imports, "
                    "then prepare the job again",
                    ", ".join(info["untracked_sources"]),
                )
        job = {
            "platform": "SpiNNaker",
            "code": code,
            "command": command_line,
            "collab": collab,
            "hardware_config": setup,
            "inputs": ["model.json"] if code_url else [],
            "commit": info["commit"],
            "dirty": info["dirty"],
            "fingerprint": model["fingerprint"],
            "seeds": model["run"]["seeds"],
            "spynnaker_checked": CHECKED_SPYNNAKER,
            "service": DEFAULT_SERVICE,
            "userinfo": DEFAULT_USERINFO,
            "drive": DEFAULT_DRIVE,
            "dry_run": dry_run,
        }
        (tmp / JOB_FILE).write_text(
            "# SpiNNaker job prepared by pynn-microcircuit; fill in 'collab' before submitting\n"
            + yaml.safe_dump(job, sort_keys=False)
        )
        tmp.rename(job_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return job_dir, job


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

    def refused():
        raise UserError(
            "the EBRAINS platform refused the access token (expired or invalid): get a new "
            "one and set EBRAINS_TOKEN"
        )

    with quiet_client(bool(token), refused) as complete:
        try:
            return complete(
                nmpi.Client(
                    username=user,
                    token=token,
                    job_service=os.environ.get(
                        "NMPI_JOB_SERVICE", job.get("service", DEFAULT_SERVICE)
                    ),
                    user_info_endpoint=os.environ.get(
                        "NMPI_USERINFO", job.get("userinfo", DEFAULT_USERINFO)
                    ),
                )
            )
        except UserError:
            raise
        except Exception as exc:  # requests/connection errors never contain the token
            raise UserError(
                f"cannot reach the EBRAINS platform at {job.get('service')}: "
                f"{type(exc).__name__}; check the network and the token"
            ) from None


def submit(job_dir: str | Path, allow_dirty: bool = False) -> str:
    """Submit the job; writes ``submission.json``; returns the job id. A job already submitted
    is not submitted twice; a job whose code has uncommitted changes only with
    ``allow_dirty``."""
    job_dir = Path(job_dir)
    job = read_job(job_dir)
    if job.get("dirty") and not allow_dirty:
        raise UserError(
            f"the job's code is commit {str(job.get('commit'))[:12]} plus uncommitted changes: "
            "commit them and prepare the job again, or submit with --allow-dirty"
        )
    sub = job_dir / SUBMISSION_FILE
    if sub.is_file():
        old = _submission(job_dir)
        raise UserError(
            f"'{job_dir}' was submitted already (job {old['job_id']}); use 'run.py status "
            f"{job_dir}' or copy the job to a new directory"
        )
    c = client(job)
    code = job["code"]
    if not code.startswith(("http://", "https://")):
        code = upload(job_dir, job, c.token, code, f"{job_dir.name}-{str(job.get('commit'))[:12]}")
    fp = str(job.get("fingerprint", ""))[:8]
    inputs = [
        name
        if name.startswith(("http://", "https://"))
        else upload(job_dir, job, c.token, name, fp)
        for name in job.get("inputs") or []
    ]
    try:
        job_id = c.submit_job(
            source=code,
            platform=job["platform"],
            collab_id=job["collab"],
            config=job.get("hardware_config"),
            inputs=inputs or None,
            command=job["command"],
            tags=["pynn-microcircuit"],
        )
    except Exception as exc:  # nmpi raises Exception("Error <status>: <detail>")
        text = str(exc)
        hint = next(
            (h for code, h in REFUSAL_HINTS.items() if text.startswith(f"Error {code}")), ""
        )
        raise UserError(f"the platform refused the job: {text}{hint}") from None
    sub.write_text(
        json.dumps(
            {
                "job_id": job_id,
                "service": c.job_server,
                "code": code,
                "inputs": inputs,
                "commit": job.get("commit"),
                "submitted_at": time.time(),
            },
            indent=2,
        )
        + "\n"
    )
    return str(job_id)


def upload(job_dir: Path, job: dict, token: str | None, name: str, prefix: str) -> str:
    """Upload the job's file ``name`` (its code archive, or an input) to the collab's drive
    (``ebrains-drive``) as :func:`drive_name`; returns a world-readable download URL,
    which the platform's runner fetches (and, for the code, expands)."""
    local = job_dir / name
    if not local.is_file():
        raise UserError(f"'{local}' is missing; prepare the job again")
    if not token:
        raise UserError("uploading to the drive needs EBRAINS_TOKEN (it takes no password)")
    try:
        from ebrains_drive.client import DriveApiClient
    except ImportError:
        raise UserError("ebrains-drive is not installed: pip install -e '.[spinnaker]'") from None
    drive = os.environ.get("EBRAINS_DRIVE_URL", job.get("drive", DEFAULT_DRIVE)).rstrip("/")
    try:
        c = DriveApiClient(token=token)
        c.server = c.drive_url = drive
        repo = c.repos.get_repo_by_url(str(job["collab"]))
        uploaded = repo.get_dir("/").upload_local_file(
            str(local), name=drive_name(prefix, local.name), overwrite=True
        )
        link = uploaded.get_share_link()
    except Exception as exc:  # requests/drive errors never contain the token
        raise UserError(
            f"could not upload {name} to the drive of collab '{job['collab']}' at {drive}: "
            f"{type(exc).__name__}; check the collab name and the token"
        ) from None
    return link.rstrip("/") + "/?dl=1"


def _submission(job_dir: Path) -> dict:
    sub = job_dir / SUBMISSION_FILE
    if not sub.is_file():
        raise UserError(f"'{job_dir}' has not been submitted; run 'run.py submit {job_dir}'")
    try:
        record = json.loads(sub.read_text())
        if not isinstance(record, dict) or "job_id" not in record:
            raise ValueError("no job_id")
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(
            f"'{sub}' is damaged ({type(exc).__name__}: {exc}); it should hold the job id "
            "'submit' printed - restore it from that, or remove it and submit again"
        ) from None
    return record


def _submitted_job(job_dir: Path) -> tuple[dict, dict]:
    """(job.yaml, submission) of a job that was submitted; a job never submitted is told
    so before anything its job.yaml still lacks for submitting."""
    sub = _submission(job_dir) if (job_dir / JOB_FILE).is_file() else {}
    return read_job(job_dir), sub  # without job.yaml read_job says it is no job directory


def status(job_dir: str | Path) -> dict:
    """``{"job_id", "status", "log_tail"}`` of a submitted job."""
    job_dir = Path(job_dir)
    job, sub = _submitted_job(job_dir)
    info = client(job).get_job(sub["job_id"], with_log=True)
    log_lines = (info.get("log") or "").strip().splitlines()
    return {"job_id": sub["job_id"], "status": info.get("status"), "log_tail": log_lines[-5:]}


def fetch(job_dir: str | Path, runs_root: str | Path = "runs") -> Path:
    """Download a finished job's output into a new run directory (one seed) or a new
    reference directory (an ensemble: ``reference.json`` + ``seed_<s>/``), check it reads
    back, and record where it came from (``job_origin.json``: job id, commit, fingerprint)."""
    from pynn_microcircuit.analysis.io import load_run
    from pynn_microcircuit.rundir import finished, new_run_dir, read_run_json

    job_dir = Path(job_dir)
    job, sub = _submitted_job(job_dir)
    c = client(job)
    info = c.get_job(sub["job_id"], with_log=True)
    state = info.get("status")
    if state != "finished":
        raise UserError(
            f"job {sub['job_id']} is '{state}', not finished; fetch it when 'run.py status' "
            "says finished"
            + (" (it failed: see the log with run.py status)" if state == "error" else "")
        )
    origin = {
        "job": str(job_dir),
        "job_id": sub["job_id"],
        "commit": job.get("commit"),
        "fingerprint": job.get("fingerprint"),
        "fetched_at": time.time(),
    }
    name = results_name(str(job.get("fingerprint")))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            c.download_data(info, local_dir=tmp)
        except Exception as exc:  # urllib errors name the URL, never the token
            raise UserError(
                f"could not download the output of job {sub['job_id']}: {type(exc).__name__}: "
                f"{exc}; try again later"
            ) from None
        found = sorted(Path(tmp).rglob(name))  # the service may nest or rename folders
        if not found:
            got = sorted(p.name for p in Path(tmp).rglob("*") if p.is_file())
            raise UserError(
                f"job {sub['job_id']} returned no {name} (got: {', '.join(got) or 'nothing'}); "
                "see its log with run.py status"
            )
        unpacked = Path(tmp) / "unpacked"
        _unzip(found[0], unpacked)
        out = unpacked / REMOTE_OUT
        ensemble = (out / "reference.json").is_file()
        if not ensemble and not (out / "run.json").is_file():
            raise UserError(f"{name} of job {sub['job_id']} holds no run.json; see its log")
        stem = f"{job_dir.name}_{'reference' if ensemble else 'job'}"
        run_dir = new_run_dir(None, stem, root=runs_root)
        for item in out.iterdir():
            shutil.move(str(item), run_dir / item.name)
        finished(run_dir)  # complete: the job wrote its records
    (run_dir / "job_origin.json").write_text(json.dumps(origin, indent=2) + "\n")
    (job_dir / "fetched.json").write_text(json.dumps({"run_dir": str(run_dir)}) + "\n")
    runs = sorted(run_dir.glob("seed_*")) if ensemble else [run_dir]
    if ensemble:
        from pynn_microcircuit.study import load_reference

        load_reference(run_dir)  # raises a clear error if no seed finished
    for r in runs:
        rec = read_run_json(r)
        if rec.get("simulated", True):
            load_run(r)  # raises a clear error if the output is incomplete
        ran = str(rec.get("versions", {}).get("sPyNNaker", "")).split("!")[-1]
        if ran and ran != CHECKED_SPYNNAKER:
            log.warning(
                "%s ran sPyNNaker %s; the capacity model and run path were checked against %s",
                r.name,
                ran,
                CHECKED_SPYNNAKER,
            )
    return run_dir


def _unzip(archive: Path, dest: Path) -> None:
    """Unpack a results zip; a damaged one, or one naming a path outside ``dest``, is a
    one-line error."""
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                target = (dest / member).resolve()
                if not target.is_relative_to(dest.resolve()):
                    raise UserError(f"{archive.name} names a path outside its folder: {member}")
            z.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{archive.name} is damaged ({exc}); fetch the job again") from None


def pack_results(out: Path, fingerprint: str, cwd: Path = Path(".")) -> Path:
    """Inside a job: zip the run (or ensemble) directory ``out`` into
    :func:`results_name` in ``cwd`` and remove ``out``, so that the job's only output of its
    own is that file (the runner would upload every file of ``out`` under its bare name).
    What the run left is packed even after a failure."""
    out, cwd = Path(out), Path(cwd)
    files = {}
    if out.is_dir():
        for path in sorted(out.rglob("*")):
            if path.is_file():
                files[(Path(REMOTE_OUT) / path.relative_to(out)).as_posix()] = path
    dest = cwd / results_name(fingerprint)
    write_zip(dest, files)
    shutil.rmtree(out, ignore_errors=True)
    log.info("results packed into %s (%d files)", dest, len(files))
    return dest
