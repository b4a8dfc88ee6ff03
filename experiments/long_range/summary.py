"""Numbers quoted in docs/studies/long_range.md, read from a results file of ``run.py``.

For each model: its binding-curve error (model − oracle, eV) at 10 Å and at the largest separation,
the largest |error| beyond 10 Å, the learned charge of the first fragment at both ends of the curve,
and the learned per-element parameters; and the oracle's rise from 10 Å to the largest separation::

    python experiments/long_range/summary.py docs/studies/long_range_results.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+")
    for path in parser.parse_args(argv).results:
        with open(path) as fh:
            r = json.load(fh)
        ref = np.array(r["curve_reference"])
        print(path)
        for name, m in r["models"].items():
            d = np.array(m["curve"]["separation"])
            err = np.array(m["curve"]["energy"]) - ref
            at10 = int(np.argmin(np.abs(d - 10.0)))
            line = (f"  {name}: curve error {err[at10]:+.3f} eV at {d[at10]:.2f} Å, {err[-1]:+.3f} eV at {d[-1]:.2f} Å, "
                    f"max |error| beyond 10 Å {np.max(np.abs(err[d >= 10.0])):.3f} eV")
            if "cation_charge" in m["curve"]:
                q = m["curve"]["cation_charge"]
                line += f"; first fragment {q[0]:.3f} e at {d[0]:.2f} Å, {q[-1]:.3f} e at {d[-1]:.2f} Å"
            print(line)
            for key in ("electronegativity_eV", "hardness_eV", "charge_offset_e"):
                if key in m:
                    print(f"    {key}: " + ", ".join(f"{k} {v:.3f}" for k, v in m[key].items()))
        d = np.array(next(iter(r["models"].values()))["curve"]["separation"])
        at10 = int(np.argmin(np.abs(d - 10.0)))
        print(f"  oracle: rises {ref[-1] - ref[at10]:.3f} eV from {d[at10]:.2f} Å to {d[-1]:.2f} Å")


if __name__ == "__main__":
    main()
