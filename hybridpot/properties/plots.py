"""Plots of property reports (:func:`hybridpot.properties.report.property_report`): the EOS, phonon bands with
DOS, thermal expansion; several reports (e.g. a trained potential and its reference) overlaid.

Each function takes ``reports``: a dict label → report (one or more), and saves a PNG to ``path``
when given; it returns the figure. Units: Å³, eV, THz, K.
"""

from __future__ import annotations

import numpy as np

from hybridpot.plots import _finish, plt

_STYLES = ("-", "--", ":", "-.")


def eos_plot(reports: dict, *, path=None):
    """Energy per atom against volume per atom, points and the Birch–Murnaghan fit, one colour per report."""
    from ase import units

    from hybridpot.properties.eos import birch_murnaghan_energy

    fig, ax = plt.subplots(figsize=(4.5, 4.0))
    for k, (label, r) in enumerate(reports.items()):
        eos, n = r["eos"], r["structure"]["n_atoms"]
        v = np.asarray(eos["volumes_A3"])
        fine = np.linspace(v.min(), v.max(), 200)
        e_fit = birch_murnaghan_energy(fine, eos["e0_eV"], eos["v0_A3"], eos["b0_GPa"] * units.GPa, eos["b0_prime"])
        line = ax.plot(fine / n, e_fit / n, _STYLES[k % 4], label=f"{label}: B0 {eos['b0_GPa']:.1f} GPa")[0]
        ax.plot(v / n, np.asarray(eos["energies_eV"]) / n, "o", ms=3, color=line.get_color())
    ax.set_xlabel("volume per atom (Å³)")
    ax.set_ylabel("energy per atom (eV)")
    ax.legend(fontsize=8)
    return _finish(fig, ax, path, True)


def phonon_plot(reports: dict, *, path=None, title: str | None = None):
    """Phonon bands along the standard path with the DOS beside them; imaginary modes drawn as negative."""
    fig, (ax, ax_dos) = plt.subplots(1, 2, figsize=(7.5, 4.0), sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    first = next(iter(reports.values()))["phonons"]["bands"]
    for k, (label, r) in enumerate(reports.items()):
        ph = r["phonons"]
        x = np.asarray(ph["bands"]["x"])
        scale = first["x"][-1] / x[-1]  # reports on different cells share the first one's axis
        nu = np.asarray(ph["bands"]["frequencies_THz"])
        lines = ax.plot(x * scale, nu, _STYLES[k % 4], color=f"C{k}", lw=1.0)
        lines[0].set_label(label)
        ax_dos.plot(ph["dos"]["states_per_THz"], ph["dos"]["frequencies_THz"], _STYLES[k % 4], color=f"C{k}", lw=1.0)
    ticks, names = [], []
    for x, name in zip(first["special_x"], first["labels"]):
        name = r"$\Gamma$" if name == "G" else name
        if ticks and np.isclose(x, ticks[-1]):  # a break in the path: "X|M"
            names[-1] = f"{names[-1]}|{name}"
        else:
            ticks.append(x)
            names.append(name)
        ax.axvline(x, color="k", lw=0.5)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xticks(ticks, names)
    ax.set_xlim(first["x"][0], first["x"][-1])
    ax.set_ylabel("frequency (THz)")
    ax.legend(fontsize=8)
    ax_dos.set_xlabel("DOS (1/THz)")
    if title:
        ax.set_title(title, fontsize=9)
    return _finish(fig, ax, path, True)


def thermal_expansion_plot(reports: dict, *, path=None, title: str | None = None):
    """Linear expansion coefficient α(T) and the lattice scale (V(T)/V)^(1/3) of the QHA."""
    fig, (ax_a, ax_v) = plt.subplots(1, 2, figsize=(8.0, 3.6))
    for k, (label, r) in enumerate(reports.items()):
        q = r["qha"]
        t = np.asarray(q["temperature_K"])
        ax_a.plot(t, 1e6 * np.asarray(q["linear_expansion_per_K"]), _STYLES[k % 4], label=label)
        ax_v.plot(t, q["lattice_scale"], _STYLES[k % 4], label=label)
    ax_a.set_xlabel("T (K)")
    ax_a.set_ylabel("α (10⁻⁶ / K)")
    ax_v.set_xlabel("T (K)")
    ax_v.set_ylabel("a(T) / a_static")
    ax_a.legend(fontsize=8)
    if title:
        ax_a.set_title(title, fontsize=9)
    return _finish(fig, ax_a, path, True)


def report_plots(reports: dict, out_dir, *, title: str | None = None) -> list[str]:
    """Every plot the reports have data for, as PNGs in ``out_dir`` (``eos.png``, ``phonons.png``,
    ``thermal_expansion.png``); returns their paths."""
    import os

    first = next(iter(reports.values()))
    written = []
    for key, name, fn in (("eos", "eos.png", eos_plot), ("phonons", "phonons.png", phonon_plot),
                          ("qha", "thermal_expansion.png", thermal_expansion_plot)):
        if key in first:
            p = os.path.join(os.fspath(out_dir), name)
            fn(reports, path=p, **({} if key == "eos" else {"title": title}))
            written.append(p)
    return written
