"""Liquid Ni₅₀Al₅₀ MD with the trained BP potentials (jax-md Langevin), compared with EMT.

1. 2048 atoms (8×8×8 fcc cells, random Ni/Al occupation, liquid volume) are melted with the
   trained potential at 2000 K, then run at 1650 K (NVT Langevin, 2 fs, friction 0.01/fs).
2. Along the same trajectory, every stored frame is also evaluated with EMT (ASE): energy RMSE.
3. EMT MD (ASE Langevin, same start, same conditions) gives the reference g(r); the partial and
   total g(r) of both are compared (max |Δg| and the first-peak positions).

Needs ``experiments/alni/alni_bp_params.npz`` from ``train_bp.py --save-params``::

    nice -n 15 python experiments/alni/md_jaxmd.py --steps 1000 --model sm+bp
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import CUTOFF, SPECIES, make_spec, second_moment_term  # noqa: E402
from md_glue import radial_distribution, run_nvt  # noqa: E402

from hybridpot.hybrid import additive  # noqa: E402
from hybridpot.models import DescriptorScaling, behler_parrinello  # noqa: E402
from hybridpot.physics import SecondMomentParams  # noqa: E402
from hybridpot.potentials import EnergyNormalisation, assembled_terms  # noqa: E402

PARAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "alni_bp_params.npz")


def load_potential(name: str, path: str = PARAMS, hidden=(32, 32), triplet_chunk=None):
    """``energy_fn(graph, triplets) -> [n_graph]`` eV of a model saved by ``train_bp.py``
    (``triplet_chunk``: angular terms that many triplets at a time, for large cells)."""
    z = np.load(path)
    spec = make_spec()
    scaling = DescriptorScaling(z[f"{name}/scaling_mean"], z[f"{name}/scaling_scale"], np.zeros(len(SPECIES)))
    model = behler_parrinello(spec, scaling, hidden=hidden, triplet_chunk=triplet_chunk)
    template = model.init(jax.random.PRNGKey(0))
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    params = jax.tree_util.tree_unflatten(
        treedef, [jnp.asarray(z[f"{name}/params/{jax.tree_util.keystr(k)}"]) for k, _ in leaves])
    norm = EnergyNormalisation(jnp.asarray(z[f"{name}/shift"], jnp.float32), jnp.asarray(z[f"{name}/scale"], jnp.float32))
    if f"{name}/sm/a" in z:  # the hybrid: the fitted baseline (float32, passed as its params) + the network
        sm = SecondMomentParams(*(jnp.asarray(z[f"{name}/sm/{f}"], jnp.float32) for f in SecondMomentParams._fields))
        model = additive(second_moment_term(sm, CUTOFF, trainable=True), model)
        params = {"physics": sm, "learned": params}

    def energy_fn(graph, triplets):
        return assembled_terms(model, params, norm, graph, triplets).total

    return energy_fn


def trained_potential(name: str = "sm+bp", path: str = PARAMS, hidden=(32, 32), triplet_chunk=None):
    """The model ``name`` saved by ``train_bp.py`` as a :class:`~hybridpot.potentials.TrainedPotential`
    (what the ASE calculator and the LAMMPS driver evaluate): the same energies as
    :func:`load_potential`, with the fitted baseline as a fixed physics term."""
    from common import second_moment_spec

    from hybridpot.models import behler_parrinello_model_args
    from hybridpot.potentials import TrainedPotential

    z = np.load(path)
    spec = make_spec()
    scaling = DescriptorScaling(z[f"{name}/scaling_mean"], z[f"{name}/scaling_scale"], np.zeros(len(SPECIES)))
    args = behler_parrinello_model_args(spec, scaling, hidden=hidden)
    if triplet_chunk is not None:
        args["triplet_chunk"] = int(triplet_chunk)
    prefix = f"{name}/params/"
    learned = {}
    for key in (k for k in z.files if k.startswith(prefix)):  # "['params']['VmapMLP_0']['Dense_0']['bias']"
        node = learned
        parts = [p.strip("'") for p in key[len(prefix) + 1 : -1].split("][")]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = np.asarray(z[key])[None]
    physics = None
    params = learned
    if f"{name}/sm/a" in z:
        physics = second_moment_spec(SecondMomentParams(*(np.asarray(z[f"{name}/sm/{f}"], np.float64)
                                                           for f in SecondMomentParams._fields)))
        params = {"physics": {}, "learned": learned}
    norm = EnergyNormalisation(np.asarray(z[f"{name}/shift"]), np.asarray(z[f"{name}/scale"]))
    return TrainedPotential("behler_parrinello", args, params, norm, physics=physics,
                            metadata={"source": f"{os.path.basename(path)}:{name}"})


def liquid_start(n_rep: int = 8, x_ni: float = 0.5, seed: int = 0):
    """ASE ``Atoms``: random Ni_x Al_(1−x) on an fcc lattice at the liquid volume (Vegard + 8 %)."""
    from ase.build import bulk

    a = ((1 - x_ni) * 3.99**3 + x_ni * 3.49**3) ** (1 / 3) * 1.08 ** (1 / 3)
    atoms = bulk("Al", "fcc", a=a, cubic=True).repeat((n_rep,) * 3)
    n = len(atoms)
    rng = np.random.default_rng(seed)
    atoms.numbers = rng.permutation(np.array([28] * int(round(x_ni * n)) + [13] * (n - int(round(x_ni * n)))))
    return atoms


def emt_energies(frames, atoms):
    """EMT potential energies (eV) of ``frames`` ``[F, N, 3]``."""
    from ase.calculators.emt import EMT

    out = []
    a = atoms.copy()
    a.calc = EMT()
    for pos in frames:
        a.set_positions(pos)
        out.append(a.get_potential_energy())
    return np.asarray(out)


def emt_md(atoms, temperature_K, n_steps, record_every, seed=0):
    """ASE Langevin MD with EMT (2 fs, friction 0.01/fs); frames every ``record_every`` steps."""
    from ase import units
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    a = atoms.copy()
    a.calc = EMT()
    MaxwellBoltzmannDistribution(a, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    dyn = Langevin(a, 2 * units.fs, temperature_K=temperature_K, friction=0.01 / units.fs,
                   rng=np.random.default_rng(seed + 1))
    frames, energies = [], []
    t0 = time.perf_counter()
    for _ in range(n_steps // record_every):
        dyn.run(record_every)
        frames.append(a.get_positions())
        energies.append(a.get_potential_energy())
    return np.stack(frames), np.asarray(energies), time.perf_counter() - t0


def main(argv=None):
    """Command line; prints the comparison and writes ``--out`` (JSON) and a g(r) figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="sm+bp")
    parser.add_argument("--n-rep", type=int, default=8)
    parser.add_argument("--melt-steps", type=int, default=400)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--record-every", type=int, default=20)
    parser.add_argument("--temperature", type=float, default=1650.0)
    parser.add_argument("--emt-md", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", default=os.path.join("experiments", "alni", "results_md.json"))
    args = parser.parse_args(argv)

    atoms = liquid_start(args.n_rep)
    n = len(atoms)
    energy_fn = load_potential(args.model)
    common = dict(cutoff=CUTOFF, angular_cutoff=CUTOFF, masses=atoms.get_masses(), dt_fs=2.0, gamma_per_fs=0.01,
                  segment=10, log=lambda s: print("  " + s, flush=True))
    print(f"{n} atoms, {args.model}: melting at 2000 K for {args.melt_steps} steps", flush=True)
    melt = run_nvt(energy_fn, atoms.get_positions(), atoms.numbers, atoms.cell[:], temperature_K=2000.0,
                   n_steps=args.melt_steps, record_every=args.melt_steps, **common)
    start = atoms.copy()
    start.set_positions(melt["positions"][-1])
    start.wrap()
    print(f"production at {args.temperature} K for {args.steps} steps", flush=True)
    traj = run_nvt(energy_fn, start.get_positions(), start.numbers, start.cell[:], temperature_K=args.temperature,
                   n_steps=args.steps, record_every=args.record_every, seed=1, **common)
    per_step = traj["seconds"] / args.steps
    print(f"jax-md: {1e3 * per_step:.1f} ms/step, {1e6 * per_step / n:.2f} µs/atom/step; "
          f"{traj['n_builds']} list builds ({traj['build_seconds']:.1f} s)", flush=True)
    frames = traj["positions"]
    e_emt = emt_energies(frames, start)
    e_bp = traj["energy"]
    diff = (e_bp - e_emt) / n
    temperature = 2 * traj["kinetic"] / (3 * n * 8.617333262e-5)
    result = {
        "argv": sys.argv, "n_atoms": n, "model": args.model, "steps": args.steps, "dt_fs": 2.0,
        "temperature_K_target": args.temperature, "temperature_K_mean": float(temperature[len(temperature) // 2 :].mean()),
        "ms_per_step": 1e3 * per_step, "us_per_atom_step": 1e6 * per_step / n, "n_builds": traj["n_builds"],
        "energy_rmse_along_traj_meV_atom": float(1e3 * np.sqrt(np.mean(diff**2))),
        "energy_mean_offset_meV_atom": float(1e3 * diff.mean()),
        "energy_std_of_difference_meV_atom": float(1e3 * diff.std()),
        "emt_energy_range_meV_atom": float(1e3 * (e_emt.max() - e_emt.min()) / n),
        "correlation_bp_emt": float(np.corrcoef(e_bp, e_emt)[0, 1]) if len(e_bp) > 2 else None,
    }
    half = frames[len(frames) // 2 :]
    rdf = {"bp": {}, "emt": {}}
    pairs = {"all": None, "Al-Al": (13, 13), "Al-Ni": (13, 28), "Ni-Ni": (28, 28)}
    for key, pair in pairs.items():
        rdf["bp"][key] = radial_distribution(half, start.cell[:], numbers=start.numbers, pair=pair)
    if args.emt_md:
        print("EMT MD (ASE) from the same start", flush=True)
        e_frames, e_en, e_sec = emt_md(start, args.temperature, args.steps, args.record_every, seed=1)
        result["emt_md_ms_per_step"] = 1e3 * e_sec / args.steps
        e_half = e_frames[len(e_frames) // 2 :]
        for key, pair in pairs.items():
            rdf["emt"][key] = radial_distribution(e_half, start.cell[:], numbers=start.numbers, pair=pair)
            r, g_bp = rdf["bp"][key]
            _, g_emt = rdf["emt"][key]
            result[f"rdf_{key}_max_abs_diff"] = float(np.max(np.abs(g_bp - g_emt)))
            result[f"rdf_{key}_first_peak_bp_emt"] = [float(r[np.argmax(g_bp)]), float(r[np.argmax(g_emt)])]
        result["emt_md_mean_epot_meV_atom"] = float(1e3 * e_en[len(e_en) // 2 :].mean() / n)
        result["bp_md_mean_epot_meV_atom"] = float(1e3 * e_bp[len(e_bp) // 2 :].mean() / n)
    _plot(rdf, os.path.join("docs", "figures", "alni_md_rdf.png"), args)
    print(json.dumps(result, indent=1))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


def _plot(rdf, path, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), sharey=False)
    for ax, key in zip(axes, ["all", "Al-Al", "Al-Ni", "Ni-Ni"]):
        for who, style in (("emt", "k-"), ("bp", "r--")):
            if key in rdf[who]:
                r, g = rdf[who][key]
                ax.plot(r, g, style, label="EMT MD (ASE)" if who == "emt" else f"{args.model} MD (jax-md)")
        ax.set_title(f"g(r) {key}")
        ax.set_xlabel("r (Å)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"liquid Ni50Al50, {args.temperature:.0f} K, 2048 atoms")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
