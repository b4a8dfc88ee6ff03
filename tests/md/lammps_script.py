"""Run under ``mpiexec -n N`` by test_lammps.py: a hybridpot model in LAMMPS on a data file.

``python lammps_script.py MODEL DATA OUT.json [--steps N] [--ghost R] [--elements Al Ni]``: rank 0
writes the energy, the forces (by atom ID), the pressure tensor (atoms at rest) and, with ``--steps``, the total
energy along an NVE run (1 fs) into ``OUT.json``.
"""

import argparse
import json

import jax
import numpy as np

from hybridpot.md.lammps import LammpsHybridpot, open_lammps
from hybridpot.potentials import load_potential

jax.config.update("jax_enable_x64", True)
parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--steps", type=int, default=0)
parser.add_argument("--ghost", type=float, default=None)
parser.add_argument("--elements", nargs="+", default=None)
parser.add_argument("--temperature", type=float, default=600.0)
args = parser.parse_args()

SKIN = 0.5
potential = load_potential(args.model)
lmp = open_lammps()
lmp.commands_string(f"""
units metal
atom_style atomic
boundary p p p
read_data {args.data}
timestep 0.001
""")
try:
    fix = LammpsHybridpot(lmp, potential, skin=SKIN, ghost_cutoff=args.ghost, elements=args.elements)
except ValueError as err:
    if lmp.extract_setting("world_rank") == 0:
        with open(args.out, "w") as fh:
            json.dump({"error": str(err)}, fh)
    raise SystemExit(0)
lmp.commands_string("""
thermo_style custom step pe ke etotal temp pxx pyy pzz pxy pxz pyz
thermo_modify norm no
run 0
""")
ids = np.asarray(lmp.gather_atoms("id", 0, 1))
forces = np.asarray(lmp.gather_atoms("f", 1, 3)).reshape(-1, 3)[np.argsort(ids)]
result = {"energy": lmp.get_thermo("pe"), "forces": forces.tolist(),
          "pressure_bar": [lmp.get_thermo(f"p{c}") for c in ("xx", "yy", "zz", "xy", "xz", "yz")],
          "ranks": lmp.extract_setting("world_size"), "calls": fix.n_calls}
if args.steps:
    lmp.commands_string(f"""
velocity all create {args.temperature} 1 mom yes rot yes
fix nve all nve
thermo 10
""")
    etot = []
    for _ in range(args.steps // 10):
        lmp.command("run 10 pre no post no")
        etot.append(lmp.get_thermo("etotal"))
    result["etotal"] = etot
    result["temperature"] = lmp.get_thermo("temp")
if lmp.extract_setting("world_rank") == 0:
    with open(args.out, "w") as fh:
        json.dump(result, fh)
lmp.close()
lmp.finalize()
