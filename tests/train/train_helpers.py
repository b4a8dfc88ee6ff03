"""Shared helpers of the trainer tests (and benchmarks/graph_training_seeds.py).

* :func:`pair_mlp_model`: the library's learned pair potential (:mod:`hybridpot.models.pair_mlp`)
  for Al/Cu with float64 parameters (``three_body=True`` exercises the triplet path);
* :func:`emt_structures`: rattled Cu/Al fcc cells and small clusters labelled by ASE's EMT.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from hybridpot.models.pair_mlp import pair_mlp_model as _library_pair_mlp_model
from hybridpot.train import Dataset

SPECIES = (13, 29)  # Al, Cu
#: The library model (hybridpot.models.pair_mlp) with the tests' species and float64 parameters.
pair_mlp_model = functools.partial(_library_pair_mlp_model, species=SPECIES, dtype="float64")


def emt_structures(n_bulk: int = 16, n_cluster: int = 8, seed: int = 0) -> Dataset:
    """EMT-labelled Cu/Al: rattled, strained 4-atom fcc cells (with stress) and 3–5-atom clusters."""
    from ase import Atoms
    from ase.build import bulk
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n_bulk):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.numbers = rng.choice([13, 29], size=len(atoms))
        strain = np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))
        atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        images.append(atoms)
    for _ in range(n_cluster):
        n = int(rng.integers(3, 6))
        pos = [np.zeros(3)]
        while len(pos) < n:
            p = pos[int(rng.integers(len(pos)))] + rng.normal(size=3) / np.sqrt(3) * 2.5
            if min(np.linalg.norm(p - q) for q in pos) > 2.2:
                pos.append(p)
        images.append(Atoms(numbers=rng.choice([13, 29], size=n), positions=np.array(pos)))
    for atoms in images:
        atoms.calc = EMT()
    return Dataset.from_atoms(images)


@pytest.fixture(scope="session")
def emt_data():
    """(train, valid) EMT datasets: 20 + 4 structures."""
    data = emt_structures()
    return data.split(4, seed=1)
