r"""Δ-learning on top of an external low-level method: learn the correction, add it back.

A cheap method (GFN2-xTB, a force field, any ASE calculator) gives E_low; the network learns only
what the expensive method adds:

$$E_\text{corr}(R) \approx E_\text{high}(R) - E_\text{low}(R),\qquad
E(R) = E_\text{low}(R) + E_\text{corr}(R),\qquad F = F_\text{low} + F_\text{corr}$$

(eV, eV/Å; stress eV/Å³ likewise). The low level is not a JAX function, so it cannot be the
physics term of a hybrid (:mod:`hybridpot.hybrid`): the correction is trained on labels
E_high − E_low (``delta_dataset``) as an ordinary potential, and the two are added again in ASE
(``delta_calculator``)::

    from tblite.ase import TBLite
    from hybridpot.delta import delta_calculator, delta_dataset
    from hybridpot.io import label_atoms

    low = label_atoms(high, TBLite(method="GFN2-xTB"))      # same geometries, low-level labels
    corr = delta_dataset(high, low)                         # E_high − E_low, F_high − F_low
    result = fit(model, corr_train, corr_valid, config, "runs/delta")
    atoms.calc = delta_calculator(TBLite(method="GFN2-xTB"), TrainedPotential.from_run(...))

The bundled pair (``bundled_delta_pair``) is the 200 revised-MD17 ethanol frames (PBE/def2-SVP)
with GFN2-xTB labels of the same geometries (docs/studies/delta.md).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from hybridpot.structures import Dataset, Structure

#: GFN2-xTB labels of the bundled rMD17 ethanol frames (``experiments/delta/label_xtb.py``).
BUNDLED_GFN2XTB_FILE = "md17_ethanol_gfn2xtb_200.npz"
#: Largest position difference (Å) ``delta_dataset`` accepts between the two label sets.
POSITION_TOLERANCE = 1e-6


def delta_dataset(high: Dataset, low: Dataset, *, atol: float = POSITION_TOLERANCE) -> Dataset:
    """Correction labels ``high − low`` of the same structures: the training set of a Δ-model.

    Structure k of the result has the geometry of ``high[k]`` and energy
    ``E_high − E_low`` (eV), forces ``F_high − F_low`` ``[n_k, 3]`` (eV/Å) and, when both have
    one, stress ``σ_high − σ_low`` ``[3, 3]`` (eV/Å³; otherwise no stress).

    Args:
        high, low: the two label sets of the same ``n`` structures, in the same order.
        atol: largest accepted position difference, Å (cells must agree to the same tolerance).
    Returns:
        ``hybridpot.train.Dataset`` of ``n`` correction structures.
    Raises:
        ValueError: different lengths, or a structure whose atomic numbers, positions, cell or
            periodicity differ, naming its index.
    """
    if len(high) != len(low):
        raise ValueError(f"high has {len(high)} structures but low has {len(low)}: label the same structures")
    out = []
    for k, (h, lo) in enumerate(zip(high.structures, low.structures)):
        _check_same_structure(k, h, lo, atol)
        stress = None if h.stress is None or lo.stress is None else h.stress - lo.stress
        forces = None if h.forces is None or lo.forces is None else h.forces - lo.forces
        out.append(Structure(h.positions, h.numbers, h.energy - lo.energy, forces, h.cell, h.pbc, stress,
                             h.config_type))
    return Dataset(out)


def _check_same_structure(k: int, h: Structure, lo: Structure, atol: float) -> None:
    if h.numbers.shape != lo.numbers.shape or not np.array_equal(h.numbers, lo.numbers):
        raise ValueError(f"structure {k}: atomic numbers differ between high ({h.numbers.tolist()}) "
                         f"and low ({lo.numbers.tolist()})")
    gap = float(np.max(np.abs(h.positions - lo.positions), initial=0.0))
    if not gap <= atol:
        raise ValueError(f"structure {k}: positions differ by up to {gap:.3g} Å between high and low "
                         f"(tolerance {atol:.3g} Å)")
    pbc_h = np.zeros(3, bool) if h.pbc is None else np.asarray(h.pbc, bool)
    pbc_l = np.zeros(3, bool) if lo.pbc is None else np.asarray(lo.pbc, bool)
    if not np.array_equal(pbc_h, pbc_l):
        raise ValueError(f"structure {k}: periodicity differs between high ({pbc_h.tolist()}) and low ({pbc_l.tolist()})")
    if (h.cell is None) != (lo.cell is None):
        raise ValueError(f"structure {k}: one label set has a cell and the other has none")
    if h.cell is not None:
        gap = float(np.max(np.abs(np.asarray(h.cell) - np.asarray(lo.cell))))
        if not gap <= atol:
            raise ValueError(f"structure {k}: cells differ by up to {gap:.3g} Å between high and low "
                             f"(tolerance {atol:.3g} Å)")


def delta_calculator(low_calculator, potential, **calculator_kwargs):
    """ASE calculator of a trained Δ-model: the low level plus the learned correction, for MD and relaxations.

    ``energy`` (eV) = E_low + E_corr, ``forces`` ``[n, 3]`` (eV/Å) = F_low + F_corr and, for
    periodic cells when both calculators give one, ``stress`` ``[6]`` (eV/Å³, Voigt). The parts
    are in ``calc.results["energy_contributions"]`` (and ``forces_contributions``), low first.

    This is ASE's own ``ase.calculators.mixing.SumCalculator`` of ``low_calculator`` and a
    ``hybridpot.md.HybridpotCalculator`` of ``potential``, not a new calculator: the sum,
    caching and property bookkeeping are ASE's.

    Args:
        low_calculator: the ASE calculator of the low level the correction was trained on top of
            (same method and settings as the training labels).
        potential: the trained correction, a ``hybridpot.potentials.TrainedPotential`` or a model-file
            path.
        calculator_kwargs: passed to ``hybridpot.md.HybridpotCalculator`` (``skin``, ``dtype``,
            ``members``, ...).
    Returns:
        ``ase.calculators.mixing.SumCalculator``.
    """
    from ase.calculators.mixing import SumCalculator

    from hybridpot.md import HybridpotCalculator

    return SumCalculator([low_calculator, HybridpotCalculator(potential, **calculator_kwargs)])


def bundled_delta_pair() -> tuple[Dataset, Dataset]:
    """The bundled Δ-learning pair: 200 revised-MD17 ethanol frames with high- and low-level labels.

    Returns:
        Two ``hybridpot.train.Dataset`` ``(high, low)`` of the same 200 geometries (9 atoms, Å)
            in the order of ``hybridpot.io.bundled_md17``; ``high`` is PBE/def2-SVP (rMD17),
            ``low`` GFN2-xTB (tblite); energies eV, forces ``[9, 3]`` eV/Å. Provenance:
            ``hybridpot/data/md17_ethanol_gfn2xtb_200.md``.
    Raises:
        ValueError: the low-level file does not belong to the bundled frames (frame indices differ).
    """
    from hybridpot.io import bundled_md17

    frames = bundled_md17(units="eV")
    path = resources.files("hybridpot") / "data" / BUNDLED_GFN2XTB_FILE
    with resources.as_file(path) as p, np.load(p, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    if not np.array_equal(data["idx"], frames.index) or not np.array_equal(data["z"], frames.numbers):
        raise ValueError(f"{BUNDLED_GFN2XTB_FILE}: frame indices or atomic numbers differ from the bundled rMD17 frames")
    low = Dataset([Structure(r, data["z"], float(e), f) for r, e, f in zip(data["R"], data["E"], data["F"])])
    return frames.to_dataset(), low
