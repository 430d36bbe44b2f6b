"""Submitting, following and fetching SpiNNaker jobs through the real ``nmpi`` and
``ebrains-drive`` clients, against local stand-ins of the EBRAINS job service and drive, and a
replica of the platform's job runner that really runs the job (none of the real services is
reachable from CI; see ebrains_replicas.py for what the replicas do and how they differ)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("nmpi")

from ebrains_replicas import (  # noqa: E402
    DriveStandIn,
    expand,
    expander_available,
    run_like_platform,
)
from nmpi_standin import StandIn  # noqa: E402
from test_analysis import make_run  # noqa: E402

FINGERPRINT = "0123456789abcdef" * 4


def write_job(root, name, command, collab):
    """A minimal job folder whose code is already a URL (nothing to upload)."""
    job_dir = root / name
    job_dir.mkdir(parents=True)
    job = {
        "platform": "SpiNNaker",
        "code": "https://example.org/pd14.zip",
        "command": " ".join(command),
        "collab": collab,
        "hardware_config": {"extra_pip_installs": ["h5py>=3.8"]},
        "fingerprint": FINGERPRINT,
    }
    (job_dir / "job.yaml").write_text(yaml.safe_dump(job))
    return job_dir


def job_outputs(remote, make_output):
    """A job's outputs as the platform's runner leaves them: ``make_output(run_output)``
    writes the run (or ensemble) directory, packed into the one results file as the job's
    own code packs it; with the reports' zip beside it."""
    from pynn_microcircuit.platforms.spinnaker.jobs import pack_results

    remote.mkdir()
    make_output(remote / "run_output")
    pack_results(remote / "run_output", FINGERPRINT, cwd=remote)
    (remote / "reports.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    return remote


def needs_expander():
    """The runner's real archive library; CI (REQUIRE_EXPANDER=1) fails instead of skipping."""
    if not expander_available():
        if os.environ.get("REQUIRE_EXPANDER"):
            pytest.fail("java + commons-compress (the runner's Expander) missing")
        pytest.skip("needs java and libcommons-compress-java (the runner's Expander)")


ROOT = Path(__file__).resolve().parents[1]
TOKEN = "s3cr3t-token-value"


def cli(args, cwd, home, token=TOKEN, extra_env=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EBRAINS_", "NMPI_"))}
    env.pop("XDG_CONFIG_HOME", None)
    env["HOME"] = str(home)
    if token:
        env["EBRAINS_TOKEN"] = token
    env.update(extra_env or {})
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_submit_status_fetch_end_to_end(tmp_path):
    output = job_outputs(tmp_path / "remote", lambda out: make_run(out, 3))
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
        assert "spynnaker_version" not in sent["hardware_config"]
        assert sent["code"] == "https://example.org/pd14.zip"
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
    assert (run_dir / "spikes.h5").is_file() and not (run_dir / "INCOMPLETE").exists()
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


def _set_job(job_dir, **values):
    job = yaml.safe_load((job_dir / "job.yaml").read_text())
    job.update(values)
    (job_dir / "job.yaml").write_text(yaml.safe_dump(job))
    return job


def test_job_runs_end_to_end_on_a_replica_of_the_platform(tmp_path):
    """plan -> dry run -> job folder -> submit (code archive uploaded to the drive) -> the
    platform runner's replica (Git refuses the URL, commons-compress's Expander expands the
    zip, the command runs, outputs are uploaded under their bare names) -> fetch: a
    reference directory of two seeds, each the model the dry run mapped, which compare
    accepts."""
    import zipfile

    pytest.importorskip("spynnaker")
    needs_expander()
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "my.yaml").write_text("bg_rate_hz: 8.5\n")
    rc, out = cli(
        [
            "--platform", "spinnaker", "--n-scale", "0.01", "--input", "dc",
            "--record-fraction", "0.5", "--config", str(tmp_path / "my.yaml"), "--seeds", "3,4",
            "--job", "pd14", "-q",
        ],
        tmp_path,
        home,
    )  # fmt: skip
    assert rc == 0, out[-3000:]
    job_dir = tmp_path / "jobs" / "pd14"
    assert {p.name for p in job_dir.iterdir()} == {"job.yaml", "model.json", "code.zip"}
    job = yaml.safe_load((job_dir / "job.yaml").read_text())
    assert job["code"] == "code.zip" and job["seeds"] == [3, 4]
    assert job["command"].startswith("run.py --platform spinnaker --ebrains-job --model model.json")
    assert len(job["command"]) <= 500  # the job queue's column (api/simqueue/db.py)
    with zipfile.ZipFile(job_dir / "code.zip") as z:  # regular files only, the installed layout
        infos = z.infolist()
    assert all((i.external_attr >> 16) & 0o170000 == 0o100000 for i in infos)
    names = {i.filename for i in infos}
    assert {"run.py", "model.json", "CODE_VERSION.json",
            "pynn_microcircuit/analysis/verdicts.py",
            "pynn_microcircuit/platforms/spinnaker/run.py"} <= names  # fmt: skip
    assert not any(n.startswith(("analysis/", "platforms/", "tests/")) for n in names)
    model = json.loads((job_dir / "model.json").read_text())
    assert model["params"]["bg_rate_hz"] == 8.5 and model["spec_args"]["input"] == "dc"
    assert model["run"]["record_fraction"] == 0.5 and job["fingerprint"] == model["fingerprint"]
    dry = json.loads(
        (Path(job["dry_run"]) if Path(job["dry_run"]).is_absolute() else tmp_path / job["dry_run"])
        .joinpath("run.json")
        .read_text()
    )
    assert dry["model_fingerprint"] == model["fingerprint"]

    platform = tmp_path / "platform"
    platform.mkdir()

    def execute(job_id, sent):
        return run_like_platform(sent, platform / str(job_id), platform / "home")

    (platform / "home").mkdir()
    with DriveStandIn(TOKEN, "my-collab") as drive, StandIn(TOKEN, executor=execute) as server:
        _set_job(job_dir, collab="my-collab", service=server.url, userinfo=server.url + "/userinfo")
        env = {"EBRAINS_DRIVE_URL": drive.url}
        if job["dirty"]:  # a developer's tree with uncommitted changes: packed, and said so
            rc, out = cli(["submit", str(job_dir)], tmp_path, home, extra_env=env)
            assert rc == 2 and "--allow-dirty" in out
        rc, out = cli(["submit", str(job_dir), "--allow-dirty"], tmp_path, home, extra_env=env)
        assert rc == 0, out
        sent = server.jobs[1]
        assert sent["code"].startswith(drive.url + "/f/") and sent["code"].endswith("/?dl=1")
        uploaded = next(iter(drive.files.values()))
        assert uploaded == (job_dir / "code.zip").read_bytes()
        server.wait(1)
        rc, out = cli(["status", str(job_dir)], tmp_path, home)
        assert rc == 0 and "job /jobs/1: finished" in out, out + server.results[1][1][-3000:]
        outputs = server.results[1][2]
        # the job's one output of its own, and sPyNNaker's reports zipped by the runner
        assert set(outputs) == {f"pd14-{model['fingerprint'][:8]}-results.zip", "reports.zip"}
        rc, out = cli(["fetch", str(job_dir), "--runs", str(tmp_path / "runs")], tmp_path, home)
        assert rc == 0, out
    ref = Path(out.split("run directory: ")[1].split()[0])
    assert json.loads((ref / "reference.json").read_text())["seeds"] == [3, 4]
    for seed in (3, 4):
        rec = json.loads((ref / f"seed_{seed}" / "run.json").read_text())
        assert rec["simulated"] is False and rec["seed"] == seed and rec["input"] == "dc"
        assert rec["model_fingerprint"] == model["fingerprint"]
        assert (
            rec["code"]["commit"] == job["commit"] and rec["code"]["source"] == "CODE_VERSION.json"
        )
        assert rec["mapping"] == dry["mapping"]  # the same model, mapped the same way
        assert rec["spynnaker"]["version"].endswith("7.4.1")
        assert (ref / f"seed_{seed}" / "spinnaker.log").is_file()
    assert json.loads((ref / "job_origin.json").read_text())["commit"] == job["commit"]
    for path in [*job_dir.rglob("*"), *ref.rglob("*"), *home.rglob("*")]:
        if path.is_file() and path.suffix != ".zip":
            assert TOKEN.encode() not in path.read_bytes(), path


def test_the_runner_replica_expands_as_commons_compress_does(tmp_path):
    """The replica's archive rules are the library's own: a gzip-compressed tar is refused
    (ArchiveStreamFactory.detect knows no compressor), a symbolic link in a plain tar arrives
    as an empty regular file, in a zip as a file holding the link's target."""
    import io
    import tarfile
    import zipfile

    needs_expander()
    link = tarfile.TarInfo("pkg/analysis")
    link.type, link.linkname = tarfile.SYMTYPE, "../analysis"
    data = tarfile.TarInfo("pkg/a.py")
    data.size = 6
    for mode, name in (("w:gz", "code.tar.gz"), ("w", "code.tar")):
        with tarfile.open(tmp_path / name, mode) as tar:
            tar.addfile(data, io.BytesIO(b"X = 1\n"))
            tar.addfile(link)
    with zipfile.ZipFile(tmp_path / "code.zip", "w") as z:
        info = zipfile.ZipInfo("pkg/analysis")
        info.external_attr = 0o120777 << 16  # a symbolic link, as git archive writes one
        z.writestr(info, "../analysis")
    res = expand(tmp_path / "code.tar.gz", tmp_path / "gz")
    assert res.returncode != 0 and "No Archiver found for the stream signature" in res.stderr
    assert expand(tmp_path / "code.tar", tmp_path / "tar").returncode == 0
    assert (tmp_path / "tar/pkg/a.py").read_bytes() == b"X = 1\n"
    assert not (tmp_path / "tar/pkg/analysis").is_symlink()
    assert (tmp_path / "tar/pkg/analysis").read_bytes() == b""
    assert expand(tmp_path / "code.zip", tmp_path / "zip").returncode == 0
    assert (tmp_path / "zip/pkg/analysis").read_text() == "../analysis"


def test_every_prepared_command_fits_the_job_queue(tmp_path):
    """The job queue stores the command in 500 characters (api/simqueue/db.py): the model
    travels in the archive or as an input file, never in the command, with or without
    --code-url, and however large the model."""
    from pynn_microcircuit.modelfile import model_record
    from pynn_microcircuit.params import Params
    from pynn_microcircuit.platforms.spinnaker.jobs import GIT_JOB_SETUP, prepare_job
    from pynn_microcircuit.scaling import make_spec

    params = Params()
    run = {"t_presim_ms": 500.0, "t_sim_ms": 10000.0, "seeds": list(range(20)),
           "record_fraction": 1.0}  # fmt: skip
    model = model_record(params, make_spec(params, 0.1, 0.1), False, run, {"knobs": {}})
    url = "https://github.com/a-long-user-name/a-long-repository-name-for-pd14@" + "f" * 40
    for code_url in (None, url):
        _, job = prepare_job(tmp_path / "jobs", f"j{bool(code_url)}", model, None, code_url)
        assert len(job["command"]) <= 500, len(job["command"])
        assert len(json.dumps(model)) > 1000  # the model could never have fitted
        assert model["fingerprint"] in job["command"]
    assert job["inputs"] == ["model.json"] and job["hardware_config"] == GIT_JOB_SETUP
    assert "--model pd14-" in job["command"] and "--code-commit " + "f" * 40 in job["command"]


def _ensemble(out):
    out.mkdir()
    (out / "reference.json").write_text(
        json.dumps({"platform": "spinnaker", "n_scale": 1.0, "k_scale": 1.0, "method": "n",
                    "t_sim_ms": 2000.0, "t_presim_ms": 500.0, "seeds": [0, 1]})
    )  # fmt: skip
    for seed in (0, 1):
        make_run(out / f"seed_{seed}", seed)


def test_fetch_two_seed_ensemble_gives_a_reference_that_compare_accepts(tmp_path):
    """The service returns every output under its bare name, at a path the job queue mangles
    (nmpi_standin): both seeds come back whole, inside the one results file."""
    output = job_outputs(tmp_path / "remote", _ensemble)
    home = tmp_path / "home"
    home.mkdir()
    with StandIn(TOKEN, output) as server:
        job_dir = write_job(tmp_path / "jobs", "ens", ["run.py"], "c")
        _set_job(job_dir, service=server.url, userinfo=server.url + "/userinfo")
        assert cli(["submit", str(job_dir)], tmp_path, home)[0] == 0
        cli(["status", str(job_dir)], tmp_path, home)
        cli(["status", str(job_dir)], tmp_path, home)
        rc, out = cli(["fetch", str(job_dir), "--runs", str(tmp_path / "runs")], tmp_path, home)
        assert rc == 0, out
    ref = Path(out.split("run directory: ")[1].split()[0])
    assert sorted(p.name for p in ref.glob("seed_*")) == ["seed_0", "seed_1"]
    for seed in (0, 1):
        assert json.loads((ref / f"seed_{seed}" / "run.json").read_text())["seed"] == seed
    test_run = make_run(tmp_path / "test_run", 7)
    rc, out = cli(["compare", str(test_run), "--reference", str(ref)], tmp_path, home)
    assert rc == 0, out


def test_expired_token_is_one_line_and_never_prompts(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with StandIn(TOKEN, tmp_path) as server:
        job_dir = write_job(tmp_path / "jobs", "x", ["run.py"], "c")
        _set_job(job_dir, service=server.url, userinfo=server.url + "/userinfo")
        rc, out = cli(["submit", str(job_dir)], tmp_path, home, token="expired", timeout=60)
    assert rc == 2 and "refused the access token" in out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out


def test_untracked_source_is_named_when_a_job_is_prepared(tmp_path, caplog):
    """``git archive`` packs tracked files only: a new module not yet added would be missing
    on the platform, so preparing the job names it (the archive indeed lacks it)."""
    import zipfile

    from pynn_microcircuit.platforms.spinnaker.code import ROOT
    from pynn_microcircuit.platforms.spinnaker.jobs import ARCHIVE_NAME, prepare_job

    if not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout")
    probe = ROOT / "pynn_microcircuit" / f"_untracked_probe_{os.getpid()}.py"
    probe.write_text("X = 1\n")
    try:
        model = {"fingerprint": "f" * 16, "run": {"seeds": [0]}}
        with caplog.at_level("WARNING"):
            job_dir, _ = prepare_job(tmp_path / "jobs", "probe", model, collab=None)
    finally:
        probe.unlink()
    rel = probe.relative_to(ROOT).as_posix()
    assert any(rel in r.getMessage() and "git add" in r.getMessage() for r in caplog.records)
    with zipfile.ZipFile(job_dir / ARCHIVE_NAME) as z:
        names = z.namelist()
    assert "run.py" in names and rel not in names


def test_status_of_a_job_never_submitted_says_so(tmp_path):
    """A prepared job has no collab yet; status and fetch say it was never submitted (and how
    to submit) rather than asking for the collab."""
    from pynn_microcircuit.errors import UserError
    from pynn_microcircuit.platforms.spinnaker.jobs import fetch, prepare_job, status

    model = {"fingerprint": "f" * 16, "run": {"seeds": [0]}}
    job_dir, job = prepare_job(tmp_path / "jobs", "fresh", model, collab=None)
    assert job["collab"] is None
    for call in (status, lambda d: fetch(d, tmp_path / "runs")):
        with pytest.raises(UserError, match=r"has not been submitted; run 'run.py submit .*fresh'"):
            call(job_dir)
    with pytest.raises(UserError, match="not a job directory"):
        status(tmp_path / "jobs" / "nothing")
    assert not (tmp_path / "runs").exists()


def test_code_url_job_runs_from_a_git_clone(tmp_path):
    """A --code-url job: the runner's Git factory clones the repository (here served over
    git's plain HTTP protocol from a bare copy of this checkout) into
    ``<working dir>/<name>`` and runs there; the model is an input file the runner saves in
    ``<working dir>`` under a name of the download's choosing, which the run finds by its
    fingerprint; the results come back as the one results file."""
    import functools
    import http.server
    import threading

    pytest.importorskip("spynnaker")
    from pynn_microcircuit.platforms.spinnaker.code import ROOT as CODE_ROOT

    if not (CODE_ROOT / ".git").exists():
        pytest.skip("needs the git checkout")
    served = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--bare", str(CODE_ROOT), str(served / "pd14.git")],
                   check=True)  # fmt: skip
    subprocess.run(["git", "--git-dir", str(served / "pd14.git"), "update-server-info"], check=True)
    head = subprocess.run(["git", "--git-dir", str(served / "pd14.git"), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/pd14.git"
    home = tmp_path / "home"
    home.mkdir()
    try:
        rc, out = cli(["--platform", "spinnaker", "--n-scale", "0.01", "--seed", "5",
                       "--job", "git", "--code-url", f"{url}@{head}", "-q"], tmp_path, home)  # fmt: skip
        assert rc == 0, out[-3000:]
        job_dir = tmp_path / "jobs" / "git"
        job = yaml.safe_load((job_dir / "job.yaml").read_text())
        assert job["code"] == url and job["inputs"] == ["model.json"]
        assert len(job["command"]) <= 500 and "--code-commit " + head in job["command"]
        platform = tmp_path / "platform"
        (platform / "home").mkdir(parents=True)

        def execute(job_id, sent):
            return run_like_platform(sent, platform / str(job_id), platform / "home")

        with DriveStandIn(TOKEN, "c") as drive, StandIn(TOKEN, executor=execute) as server:
            _set_job(job_dir, collab="c", service=server.url, userinfo=server.url + "/userinfo")
            env = {"EBRAINS_DRIVE_URL": drive.url}
            rc, out = cli(["submit", str(job_dir)], tmp_path, home, extra_env=env)
            assert rc == 0, out
            sent = server.jobs[1]
            assert sent["code"] == url and len(sent["input_data"]) == 1
            assert any(n.endswith("-model.json") for n in drive.files)
            server.wait(1)
            log = server.results[1][1]
            assert server.results[1][0] == 0, log[-3000:]
            assert (platform / "1" / "pd14" / "run.py").is_file()  # ran in the clone
            rc, out = cli(["fetch", str(job_dir), "--runs", str(tmp_path / "runs")], tmp_path, home)
            assert rc == 0, out
    finally:
        httpd.shutdown()
    run_dir = Path(out.split("run directory: ")[1].split()[0])
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["seed"] == 5 and rec["model_fingerprint"] == job["fingerprint"]
    assert rec["code"]["commit"] == head and rec["code"]["source"] == "git"


def test_a_dirty_job_is_refused_unless_allowed(tmp_path):
    """A job whose archive holds uncommitted changes is refused before anything is uploaded
    or submitted (whatever the state of this checkout), and goes with --allow-dirty."""
    home = tmp_path / "home"
    home.mkdir()
    with StandIn(TOKEN, tmp_path) as server:
        job_dir = write_job(tmp_path / "jobs", "dirty", ["run.py"], "c")
        _set_job(job_dir, service=server.url, userinfo=server.url + "/userinfo", dirty=True,
                 commit="a" * 40)  # fmt: skip
        rc, out = cli(["submit", str(job_dir)], tmp_path, home)
        assert rc == 2 and "plus uncommitted changes" in out and "--allow-dirty" in out
        assert server.jobs == {} and not (job_dir / "submission.json").exists()
        rc, out = cli(["submit", str(job_dir), "--allow-dirty"], tmp_path, home)
        assert rc == 0 and len(server.jobs) == 1, out


def test_damaged_submission_record_is_one_line(tmp_path):
    from pynn_microcircuit.errors import UserError
    from pynn_microcircuit.platforms.spinnaker.jobs import status, submit

    job_dir = write_job(tmp_path / "jobs", "x", ["run.py"], "c")
    (job_dir / "submission.json").write_text("{bad")
    for call in (status, submit):
        with pytest.raises(UserError, match=r"submission.json' is damaged \(JSONDecodeError"):
            call(job_dir)
    assert (job_dir / "submission.json").read_text() == "{bad"  # nothing rewritten


def test_refused_jobs_are_one_line_and_can_be_submitted_again(tmp_path):
    """The job queue's refusals (a collab the user cannot edit: 404; no quota: 403), as its
    create_job answers them, end in one line with what to do; nothing is recorded as
    submitted, and the corrected job goes through - its code uploaded again over the first
    upload (the drive client deletes the old file first)."""
    import zipfile

    home = tmp_path / "home"
    home.mkdir()
    job_dir = tmp_path / "jobs" / "r"
    job_dir.mkdir(parents=True)
    with zipfile.ZipFile(job_dir / "code.zip", "w") as z:
        z.writestr("run.py", "print('x')\n")
    job = {"platform": "SpiNNaker", "code": "code.zip", "command": "run.py", "collab": "wrong",
           "commit": "b" * 40, "fingerprint": FINGERPRINT, "dirty": False}  # fmt: skip
    (job_dir / "job.yaml").write_text(yaml.safe_dump(job))
    with DriveStandIn(TOKEN, "wrong") as drive, StandIn(TOKEN, tmp_path) as server:
        server.collabs = {"right"}
        _set_job(job_dir, service=server.url, userinfo=server.url + "/userinfo")
        env = {"EBRAINS_DRIVE_URL": drive.url}
        rc, out = cli(["submit", str(job_dir)], tmp_path, home, extra_env=env)
        lines = out.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and "Error 404" in lines[0] and "check 'collab'" in out
        assert server.jobs == {} and not (job_dir / "submission.json").exists()
        server.collabs, server.quota = {"wrong"}, False
        rc, out = cli(["submit", str(job_dir)], tmp_path, home, extra_env=env)
        assert rc == 2 and "Error 403" in out and "quota" in out and server.jobs == {}
        server.quota = True  # granted: the same job goes through, its code uploaded again
        rc, out = cli(["submit", str(job_dir)], tmp_path, home, extra_env=env)
        assert rc == 0 and len(server.jobs) == 1, out
        assert len(drive.files) == 1  # one archive on the drive, not three
