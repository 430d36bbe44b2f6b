"""A single-node SLURM cluster on this machine, for tests and trying job scripts.

Controller and node daemon run on localhost from Debian's ``slurm-wlm`` (22.05), with a
private configuration and state under a folder of your choice and MUNGE authentication::

    sudo apt-get install -y slurm-wlm munge
    sudo python -m pynn_microcircuit.platforms.slurm.local_cluster start /tmp/slurm   # prints the SLURM_CONF
    export SLURM_CONF=/tmp/slurm/slurm.conf
    python run.py submit --scheduler slurm reference --n-scale 0.05 --seeds 0-1
    sudo python -m pynn_microcircuit.platforms.slurm.local_cluster stop /tmp/slurm

The daemons run as root (SlurmUser=root), need no cgroups (proctrack/linuxproc,
task/none) and use private ports, so they leave any system SLURM alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch")


def available() -> str | None:
    """None if a local cluster can be started here, else why not."""
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        return f"{', '.join(missing)} not found (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the SLURM daemons of a local cluster must run as root"
    if not Path("/etc/munge/munge.key").is_file():
        return "no /etc/munge/munge.key (reinstall munge)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(base: Path, cpus: int | None = None, memory_mb: int | None = None) -> Path:
    """``base/slurm.conf`` for one node (this host) in one partition, on two free ports."""
    host = socket.gethostname()
    cpus = cpus or os.cpu_count() or 1
    if memory_mb is None:
        with open("/proc/meminfo") as f:
            total_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        memory_mb = total_kb // 1024 - 1024
    for sub in ("state", "spool", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    conf = base / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=local",
                f"SlurmctldHost={host}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                f"StateSaveLocation={base}/state",
                f"SlurmdSpoolDir={base}/spool",
                f"SlurmctldPidFile={base}/slurmctld.pid",
                f"SlurmdPidFile={base}/slurmd.pid",
                f"SlurmctldLogFile={base}/log/slurmctld.log",
                f"SlurmdLogFile={base}/log/slurmd.log",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "JobAcctGatherType=jobacct_gather/none",
                "SchedulerType=sched/backfill",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                "ReturnToService=2",
                "MpiDefault=none",
                f"NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
                f"PartitionName=local Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    return conf


def _munge_running() -> bool:
    return subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0


def start(base: str | Path, timeout: float = 30.0) -> Path:
    """Start munged (if needed), slurmctld and slurmd for ``base``; returns slurm.conf."""
    why = available()
    if why:
        raise RuntimeError(why)
    base = Path(base).resolve()
    conf = write_config(base)
    env = dict(os.environ, SLURM_CONF=str(conf))
    if not _munge_running():
        for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(d).mkdir(parents=True, exist_ok=True)
        subprocess.run(["munged", "--force"], check=True, capture_output=True)
    subprocess.run(["slurmctld", "-c"], check=True, env=env, capture_output=True)
    subprocess.run(["slurmd"], check=True, env=env, capture_output=True)
    t0 = time.time()
    while time.time() - t0 < timeout:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() in ("idle", "mixed", "allocated"):
            return conf
        time.sleep(0.5)
    raise RuntimeError(f"the local SLURM node did not come up; see {base}/log")


def stop(base: str | Path) -> None:
    """Stop the daemons started by :func:`start` for ``base`` (munged is left running)."""
    base = Path(base).resolve()
    for name in ("slurmd", "slurmctld"):
        pid_file = base / f"{name}.pid"
        if pid_file.is_file():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
    time.sleep(1)


def wait_idle(conf: Path, timeout: float = 600.0) -> bool:
    """Wait until the queue is empty; True if it emptied in time."""
    env = dict(os.environ, SLURM_CONF=str(conf))
    t0 = time.time()
    while time.time() - t0 < timeout:
        out = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True)
        if out.returncode == 0 and not out.stdout.strip():
            return True
        time.sleep(1)
    return False


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: python -m pynn_microcircuit.platforms.slurm.local_cluster start|stop DIR")
    if sys.argv[1] == "start":
        print(f"export SLURM_CONF={start(sys.argv[2])}")
    else:
        stop(sys.argv[2])
