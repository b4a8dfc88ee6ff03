"""Table of the isotope check: diatomic-study models trained on H2 predict D2 and HD levels.

Reads the ``results.json`` of ``hybridpot study diatomic`` runs that share one output folder (the
D2 and HD runs load the H2-trained units: the mass is not part of a unit's fingerprint) and prints,
per isotopologue, the reference curve's term values G(v) − G(0) and each model's error
(model − reference, median over seeds; cm⁻¹), both from the sinc DVR with the isotopologue's mass
on the study's DVR grid. Usage::

    python experiments/spectroscopic_fit/isotope_table.py H2=x_H2.json D2=x_D2.json HD=x_HD.json --fraction 40
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def isotope_table(results: dict[str, dict], fraction: str, state: str = "X", num_levels: int = 5) -> str:
    """Markdown rows: per isotopologue the reference G(v) and each model's error, v = 1 … num_levels."""
    head = "| isotopologue | μ (u) | curve | " + " | ".join(f"G({v})" for v in range(1, num_levels + 1)) + " |"
    lines = [head, "|---|---|---|" + "---|" * num_levels]
    for name, r in results.items():
        reference = r["reference_term_values_inv_cm"][state][:num_levels]
        lines.append(f"| {name} | {r['reduced_mass_amu']:.6f} | FCI curve | " + " | ".join(f"{x:.1f}" for x in reference) + " |")
        for model, per_fraction in r["term_value_errors_inv_cm"][state].items():
            errors = per_fraction[fraction][:num_levels]
            lines.append(f"| {name} | | {model} − FCI | " + " | ".join(f"{x:+.1f}" for x in errors) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="NAME=results.json, one per isotopologue")
    p.add_argument("--fraction", default="40", help="training fraction (%%) of the models shown")
    args = p.parse_args(argv)
    results = {}
    for item in args.runs:
        name, _, path = item.partition("=")
        results[name] = json.loads(Path(path).read_text())
    grid = next(iter(results.values()))["dvr_grid"]
    print(f"Training fraction {args.fraction} %; cm⁻¹; DVR grid {grid['start']}–{grid['stop']} Å, {grid['points']} points")
    print(isotope_table(results, args.fraction))


if __name__ == "__main__":
    main()
