"""Side by side: the median test RMSE of two diatomic studies (e.g. paper and improved protocol).

Reads two ``results.json`` files written by ``hybridpot study diatomic`` and prints, for every
state and model both ran, the median RMSE per training fraction (baseline → candidate, cm⁻¹) and
in how many fractions the candidate is lower. ``--out`` also writes the table to a file.

Example (the comparison in docs/studies/diatomic.md)::

    python experiments/diatomic/compare_protocols.py docs/studies/diatomic_paper_results.json \\
        docs/studies/diatomic_improved_results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hybridpot.studies.diatomic.report import comparison_markdown


def main(argv=None):
    """Print (and optionally write) the comparison table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("baseline", type=Path, help="results.json of the baseline study (e.g. the paper protocol)")
    p.add_argument("candidate", type=Path, help="results.json of the candidate study (e.g. the improved protocol)")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    args = p.parse_args(argv)
    table = comparison_markdown(*(json.loads(path.read_text()) for path in (args.baseline, args.candidate)))
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
