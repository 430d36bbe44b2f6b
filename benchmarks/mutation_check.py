"""Do the tests fail when the logic is wrong? Apply small wrong changes one at a time in a
temporary copy of the repository and run the tests that should catch each.

    python benchmarks/mutation_check.py            # every mutation (about 12 min on 2 cores)
    python benchmarks/mutation_check.py -k margin  # those whose name contains 'margin'

The copy holds the package in its installed layout (``analysis/`` and ``platforms/`` inside
``pynn_microcircuit/``, as a job archive does), so the tests import the mutated code, not the
editable install. A mutation *survives* when its tests still pass: the list then names a
hole in the suite. Exit status 1 if any survives (or a mutation no longer applies: the code
it mutates has changed, and so must the list; or the unmutated copy fails a target).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (name, file, original text, mutated text, tests that must catch it)
MUTATIONS = [
    ("walltime margin 0.2 -> 0.02", "pynn_microcircuit/budget.py",
     '"walltime": 0.2}', '"walltime": 0.02}', "tests/test_budget.py"),
    ("memory margin 0.03 -> 0.003", "pynn_microcircuit/budget.py",
     'MARGINS = {"memory": 0.03', 'MARGINS = {"memory": 0.003', "tests/test_budget.py"),
    ("fingerprint rounded to 4 digits", "pynn_microcircuit/modelfile.py",
     'f"{obj:.12g}"', 'f"{obj:.4g}"', "tests/test_modelfile.py"),
    ("fingerprint check removed", "pynn_microcircuit/modelfile.py",
     "    if actual != stored:", "    if False:", "tests/test_modelfile.py"),
    ("read-back sorted by id", "platforms/spinnaker/readback.py",
     "np.lexsort((ids[keep], times[keep]))", "np.lexsort((times[keep], ids[keep]))",
     "tests/test_spinnaker_readback.py"),
    ("warm-up cut one step late", "platforms/spinnaker/readback.py",
     "keep = times >= t_start_ms", "keep = times > t_start_ms",
     "tests/test_spinnaker_readback.py"),
    ("dirty-tree refusal removed", "platforms/spinnaker/jobs.py",
     'if job.get("dirty") and not allow_dirty:', "if False:",
     "tests/test_spinnaker_jobs.py::test_a_dirty_job_is_refused_unless_allowed"),
    ("residual variance set to 1", "pynn_microcircuit/scaling.py",
     "residual = np.where(bad, -s2_ext_new / (s2_rec + s2_ext), 0.0)",
     "residual = np.where(bad, 1.0, 0.0)", "tests/test_scaling.py"),
    ("provenance read after end()", "platforms/spinnaker/run.py",
     "record.update(provenance_record(run_dir_abs, *run_databases()))",
     "pass", "tests/test_spinnaker.py::test_provenance_is_read_before_spinnaker_deletes_it"),
    ("re-injected router drops counted as lost", "platforms/spinnaker/provenance.py",
     "if dropped > 0 and (not has_reinjection or accounted < dropped):", "if dropped > 0:",
     "tests/test_spinnaker.py::test_router_drops_count_only_when_not_reinjected"),
    ("neuron-core bound doubled", "platforms/spinnaker/capacity.py",
     "REALTIME_NEURONS_PER_CORE = 64", "REALTIME_NEURONS_PER_CORE = 128",
     "tests/test_spinnaker.py::test_no_plan_overruns_the_neuron_cores"),
    ("delay shift dropped", "platforms/spinnaker/backend.py",
     "DELAY_SHIFT_STEPS = 0.49", "DELAY_SHIFT_STEPS = 0.0",
     "tests/test_spinnaker.py::test_delays_sent_so_that_the_boards_truncation_rounds"),
    ("code archive as tar.gz", "platforms/spinnaker/code.py",
     'ARCHIVE_NAME = "code.zip"', 'ARCHIVE_NAME = "code.tar.gz"', "tests/test_spinnaker_jobs.py"),
    ("results not packed", "platforms/spinnaker/jobs.py",
     "    write_zip(dest, files)\n    shutil.rmtree(out, ignore_errors=True)",
     "    write_zip(dest, {})\n    shutil.rmtree(out, ignore_errors=True)",
     "tests/test_spinnaker_jobs.py"),
    ("Welch df replaced by the references' df", "analysis/verdicts.py",
     "df = float(welch_df(a, nu_t, b, nu_r))", "df = float(nu_r)", "tests/test_verdicts.py"),
    ("test side borrows the references' phi", "analysis/verdicts.py",
     "        phi_t, nu_t = moderated(*test_prior, xt, vt)",
     "        phi_t, nu_t = phi_r, nu_r", "tests/test_verdicts.py"),
    ("relative margin absolute near zero", "analysis/verdicts.py",
     'span = abs(c["reference"]) if c["statistic"] in RELATIVE else 1.0',
     "span = unit", "tests/test_verdicts.py"),
    ("default control back to BH", "analysis/verdicts.py",
     'DEFAULT_CONTROL = "fwer"', 'DEFAULT_CONTROL = "fdr"', "tests/test_analysis.py"),
    ("self-comparison allowed", "analysis/report.py",
     "        if t.path.resolve() in seen:", "        if False:", "tests/test_analysis.py"),
    ("another platform's options accepted", "pynn_microcircuit/cli/main.py",
     "        if not owners or platform.name in owners:", "        if True:",
     "tests/test_budget.py"),
    ("budget keys of another platform accepted", "pynn_microcircuit/budget.py",
     "        if key not in accepted:", "        if False:", "tests/test_platform.py"),
    ("NEURON weights built without the charge match", "platforms/neuron/run.py",
     "build_spec=charge_matched(spec, factor) if matched else None,", "build_spec=None,",
     "tests/test_neuron.py"),
]  # fmt: skip


def installed_copy(dest: Path) -> None:
    """The working tree's files, with analysis/ and platforms/ inside pynn_microcircuit/."""
    from pynn_microcircuit.platforms.spinnaker.code import installed_layout

    installed_layout(ROOT, dest, also=("tests", "benchmarks"))
    # a git checkout of its own, as job archives are built from git (a mutation is then an
    # uncommitted change, which the archive packs)
    git = ["git", "-c", "user.name=m", "-c", "user.email=m@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=dest, check=True)


def run_tests(copy: Path, tests: str) -> subprocess.CompletedProcess:
    """The tests in the copy; their child processes (``python -c``, ``python -m``) import the
    copy too, ahead of the editable install."""
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests.split()],
        cwd=copy, capture_output=True, text=True, env=env,
    )  # fmt: skip


def where_in_copy(path: str) -> str:
    from pynn_microcircuit.platforms.spinnaker.code import job_path

    return job_path(path) or path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", default="", help="only mutations whose name contains this")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if args.k in m[0]]
    survived, stale = [], []
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        copy = Path(tmp) / "repo"
        installed_copy(copy)
        baseline = {}
        for tests in dict.fromkeys(m[4] for m in chosen):  # each target passes unmutated
            baseline[tests] = run_tests(copy, tests).returncode == 0
            if not baseline[tests]:
                print(f"BASELINE FAILS: {tests} - its mutations are not judged", flush=True)
        for name, rel, old, new, tests in chosen:
            if not baseline[tests]:
                stale.append(name)
                continue
            path = copy / where_in_copy(rel)
            text = path.read_text()
            if text.count(old) != 1:
                stale.append(name)
                print(f"STALE     {name}: '{old[:50]}' is not once in {rel}", flush=True)
                continue
            path.write_text(text.replace(old, new))
            t0 = time.perf_counter()
            res = run_tests(copy, tests)
            path.write_text(text)
            caught = res.returncode != 0
            print(f"{'caught  ' if caught else 'SURVIVED'}  {name} ({tests}, "
                  f"{time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
            if not caught:
                survived.append(name)
    print(f"{len(chosen) - len(survived) - len(stale)} of {len(chosen)} caught; survived: "
          f"{', '.join(survived) or 'none'}; stale: {', '.join(stale) or 'none'}")  # fmt: skip
    return 1 if survived or stale else 0


if __name__ == "__main__":
    sys.exit(main())
