"""Annotated train files for ``hybridpot template``: one ``model`` section per model family, the
rest shared (no heavy imports, so the command line starts fast)."""

_TEMPLATE_HEAD = """\
# hybridpot train file: `hybridpot train this.yaml --set key=value ...`
# Units: Å, eV, eV/Å, eV/Å³ inside hybridpot; declare the files' units below.

dataset:
  train: train.extxyz        # required: extxyz / any ASE-readable file, ASE .db, or MD17 .npz
  valid: null                # a separate validation file, or null to hold out valid_fraction
  valid_fraction: 0.1        # share of `train` held out for validation (0: none)
  split_seed: 0
  format: null               # force a reader (e.g. extxyz, db, md17); null: from the file name
  energy_unit: eV            # eV, meV, hartree, Ry, kcal/mol, kJ/mol
  length_unit: Å             # Å (angstrom), bohr, nm
  energy_key: null           # label names when not energy / forces / stress (e.g. REF_energy)
  forces_key: null
  stress_key: null

"""

#: The ``model`` section of the template for each model family (``hybridpot template --model KIND``).
MODEL_SECTIONS = {
    "pair_mlp": """\
model:
  kind: pair_mlp             # required: a registered model kind (`hybridpot.potentials.model_kinds()`)
  cutoff: 4.0                # every other key is a constructor argument of that kind
  hidden: [16, 16]
  # species: [13, 29]        # default: the elements of the training data
  # dtype: float32           # default: run.dtype
  # other families: `hybridpot template --model behler_parrinello` (or dimenet++, mace)

""",
    "behler_parrinello": """\
model:
  kind: behler_parrinello    # one network per element over G2/G4 symmetry functions (Behler–Parrinello)
  descriptor:                # options of hybridpot.models.symmetry_function_spec for the data's species;
    cutoff: 6.0              # the spec and the feature scaling are fitted to the training data
    num_radial: 8
    num_angular_eta: 4       # 0: radial-only G2 descriptor (no triplets, several times cheaper)
  hidden: [32, 32]
  activation: tanh           # tanh, silu, softplus

""",
    "dimenet++": """\
model:
  kind: dimenet++            # DimeNet++ at its published sizes; `dimenet` for the bilinear DimeNet
  cutoff: 5.0                # other keys: emb_size, num_blocks, out_emb_size, int_emb_size, ... (dimenet_model)
  # species: [1, 6, 8]       # default: the elements of the training data

""",
    "mace": """\
model:
  kind: mace                 # MACE-like equivariant model (body order 4); `nequip` for the NequIP-like one
  cutoff: 5.0
  channels: 32               # hidden features: channels × (0e + 1o + ... up to lmax)
  lmax: 2
  num_interactions: 2
  correlation: 3
  # avg_num_neighbors: 12.0  # default: the training structures' mean neighbour count

""",
}

_TEMPLATE_TAIL = """\
physics: null                # physics term, e.g. {kind: zbl, cutoff: 2.0, switch: envelope}
                             # kinds: zbl, morse, lennard_jones, buckingham, harmonic,
                             # embedded_atom, coulomb; trainable: true fits its parameters
strategy: null               # with a physics term: additive (null), {name: aphynity, penalty: 0.1},
                             # {name: sequential} (physics first, then the model), {name: physinet}

output: runs/my_potential    # run folder; the model file is <output>/model.npz

data:                        # batching and padding
  batch_size: 8
  n_buckets: 3
loss:
  kind: mse                  # mse, mae, huber
  energy_weight: 1.0
  energy_per_atom: true
  forces_weight: 10.0
  stress_weight: 0.0         # > 0 trains on stress (periodic structures with stress labels)
optim:
  name: adam
  learning_rate: 1.0e-3
  decay: cosine              # constant, cosine, exponential
  ema_decay: 0.99
normalisation:
  shift: true                # per-element energies fitted by least squares
  scale: true                # scale the model output by the force RMS
run:
  seed: 0
  n_seeds: 1                 # > 1 trains an ensemble (vmapped); calculators report its spread
  max_steps: 1000
  eval_every: 100
  checkpoint_every: 100
  patience: null
  dtype: float32
"""


def template(kind: str = "pair_mlp") -> str:
    """The annotated train file with the ``model`` section of ``kind`` (a key of :data:`MODEL_SECTIONS`)."""
    if kind not in MODEL_SECTIONS:
        raise ValueError(f"no template for model kind {kind!r}; templates: {sorted(MODEL_SECTIONS)}")
    return _TEMPLATE_HEAD + MODEL_SECTIONS[kind] + _TEMPLATE_TAIL


#: The default template (the pair MLP).
TEMPLATE = template()
