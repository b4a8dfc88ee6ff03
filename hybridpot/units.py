"""Physical constants and unit conversions (CODATA 2018).

hybridpot works in ångström (Å) and electronvolt (eV) unless a name says otherwise;
loaders convert with the factors below. Multiply a value in the unit named on the left
of ``_TO_`` by the factor to get it in the unit named on the right.
"""

#: Hartree energy in eV.
HARTREE_TO_EV = 27.211386245988
#: Bohr radius in Å.
BOHR_TO_ANGSTROM = 0.529177210903
#: 1 kcal/mol (thermochemical calorie, per particle) in eV: 4184 J / (N_A e).
KCAL_PER_MOL_TO_EV = 4184.0 / (6.02214076e23 * 1.602176634e-19)
#: Hartree energy in wavenumbers (cm⁻¹).
HARTREE_TO_INV_CM = 219474.6313632
#: Coulomb constant e²/(4πε₀) in eV·Å.
COULOMB_CONSTANT = 14.3996454784
#: Unified atomic mass unit in electron masses (atomic units of mass).
AMU_TO_ELECTRON_MASS = 1822.888486209
#: Boltzmann constant in eV/K.
BOLTZMANN_EV_PER_K = 8.617333262e-5
#: Debye in e·Å.
DEBYE_TO_E_ANGSTROM = 0.20819433622621247

EV_TO_HARTREE = 1.0 / HARTREE_TO_EV
ANGSTROM_TO_BOHR = 1.0 / BOHR_TO_ANGSTROM
EV_TO_KCAL_PER_MOL = 1.0 / KCAL_PER_MOL_TO_EV
