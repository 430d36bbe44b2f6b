#!/usr/bin/env bash
# Build an MPI-enabled NEST from the nest-simulator source distribution on PyPI, with
# Debian's OpenMPI, into a virtual environment, and install this package beside it.
#
#   sudo apt-get install -y openmpi-bin libopenmpi-dev libgsl-dev libltdl-dev libboost-dev cmake
#   platforms/nest/build_mpi_nest.sh [VENV]        # default VENV: .venv-mpi
#   VENV/bin/mpirun -np 2 VENV/bin/python run.py --platform nest --n-scale 0.05 ...
#
# The PyPI wheel has threads but no MPI; this builds the same version (3.10.0) from its sdist
# with scikit-build-core, switching on CMake's with-mpi (mpi4py is what PyNN uses to gather).
# About 20-40 minutes on 2 cores.
set -euo pipefail
VENV="${1:-.venv-mpi}"
NEST_VERSION="${NEST_VERSION:-3.10.0}"
JOBS="${JOBS:-$(nproc)}"
HERE="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v mpicc >/dev/null || { echo "error: mpicc not found; install libopenmpi-dev" >&2; exit 1; }
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# the sdist, not the wheel
"$VENV/bin/python" -m pip download --quiet --no-deps --no-binary nest-simulator \
    "nest-simulator==${NEST_VERSION}" -d "$WORK"
# build the wheel with MPI (scikit-build-core passes cmake.define.* to CMake)
CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" "$VENV/bin/python" -m pip wheel --no-deps -w "$WORK/wheel" \
    --config-settings=cmake.define.with-mpi=ON \
    --config-settings=build-dir="$WORK/build" \
    "$WORK/nest_simulator-${NEST_VERSION}.tar.gz"
"$VENV/bin/python" -m pip install --quiet "$WORK"/wheel/nest_simulator-*.whl mpi4py
# this package (its nest-simulator requirement is already satisfied by the MPI build)
"$VENV/bin/python" -m pip install --quiet -e "$HERE[test]"
"$VENV/bin/python" - <<'EOF'
import nest
assert nest.GetKernelStatus("build_info")["have_mpi"], "NEST was built without MPI"
print("MPI-enabled NEST", nest.__version__)
EOF
