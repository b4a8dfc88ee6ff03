#!/usr/bin/env bash
# Every GPU row of the README in one run of at most 8 minutes:
#   1. DimeNet++ (published sizes, aspirin, batch 32, E+F) against PyTorch Geometric
#   2. the MACE-like equivariant model against mace-torch
#   3. the diatomic study: the vmapped program, the loop and PyTorch, projected to the full paper study
#   4. Behler–Parrinello MD (jax-md) atom-steps/s at 97,556 atoms (L1₂ Ni₃Al, 29³ × 4)
# Each row has its own time limit (printed); a row that runs out prints "timed out" and the
# script goes on. Peers (torch, torch_geometric, mace-torch) are optional: their rows say so.
#
#   bash benchmarks/gpu.sh          # on a GPU machine (JAX with CUDA, torch with CUDA)
#   bash benchmarks/gpu.sh --cpu    # smoke test on a CPU: tiny sizes, same commands, ~5 minutes
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}

if [ "${1:-}" = "--cpu" ]; then
    export JAX_PLATFORMS=cpu
    DIMENET="--n-frames 8 --batch-size 4 --pyg-steps 1"
    MACE="--n-frames 8 --batch-size 4 --torch-steps 1 --skip-dimenet"
    DIATOMIC="--steps 100 --torch-steps 100"
    BP="--one 4 --steps 2"
    LIMITS=(150 90 60 30)
else
    DIMENET="--n-frames 128 --pyg-steps 10"
    MACE="--n-frames 128 --torch-steps 10 --skip-dimenet"
    DIATOMIC="--steps 2000 --torch-steps 3000"
    BP="--one 29 --steps 10 --triplet-chunk 2000000"
    LIMITS=(150 120 120 90)
fi

row() {  # row TITLE LIMIT_S COMMAND...
    local title=$1 limit=$2
    shift 2
    echo
    echo "## $title (limit ${limit} s): $*"
    local t0=$SECONDS
    timeout "$limit" "$@"
    local rc=$?
    if [ $rc -eq 124 ]; then echo "timed out after ${limit} s"; elif [ $rc -ne 0 ]; then echo "failed (exit $rc)"; fi
    echo "($((SECONDS - t0)) s)"
}

$PY -c "import jax; print('jax', jax.__version__, jax.devices())"
row "DimeNet++ vs PyG" "${LIMITS[0]}" $PY benchmarks/dimenet_pyg.py $DIMENET
row "MACE-like vs mace-torch" "${LIMITS[1]}" $PY benchmarks/equivariant_mace.py $MACE
row "diatomic study, paper protocol" "${LIMITS[2]}" $PY benchmarks/diatomic_training.py $DIATOMIC
row "Behler-Parrinello MD, atom-steps/s" "${LIMITS[3]}" $PY benchmarks/bp_md_scaling.py $BP
