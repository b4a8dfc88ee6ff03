r"""Element-resolved Behler–Parrinello symmetry functions of every atom of a graph.

For a centre atom i and the species list (Z_1 … Z_S) of a model, the descriptor is

* radial G2, one block per neighbour species s (S blocks of P_r functions),

  .. math:: G^2_{i,s,p} = \sum_{j \ne i,\, Z_j = Z_s} e^{-\eta_p (r_{ij} - r_{s,p})^2} f_c(r_{ij});

* angular G4, one block per unordered neighbour-species pair {s, t} (S(S+1)/2 blocks of P_a
  functions), summed over **ordered** neighbour pairs (j, k), j ≠ k (the convention of
  :mod:`hybridpot.basis.symmetry_functions`: each unordered pair counts twice),

  .. math:: G^4_{i,\{s,t\},p} = 2^{1-\zeta_p} \sum_{j \ne i} \sum_{k \ne i,j}
            [\{Z_j, Z_k\} = \{Z_s, Z_t\}]\,(1 + \lambda_p\cos\theta_{jik})^{\zeta_p}
            e^{-\eta_p (r_{ij}^2 + r_{ik}^2 + r_{jk}^2)}
            f^a_c(r_{ij}) f^a_c(r_{ik}) f^a_c(r_{jk}),

  with the cosine cutoff f_c at ``cutoff`` (radial) and f^a_c at ``angular_cutoff`` (≤ cutoff;
  ANI-style shorter angular range, which cuts the number of triplets that matter).

Layout of the ``[n_node, F]`` descriptor: radial blocks in species order (F_r = S·P_r), then
angular blocks in pair order (0,0), (0,1), …, (0,S−1), (1,1), … (F_a = S(S+1)/2 · P_a).

Triplets come from the graph (k → j → i, centre j; see :mod:`hybridpot.graph.triplets`). Any
triplet set that contains every triplet whose two edges are shorter than ``angular_cutoff`` gives
the same descriptors: :func:`angular_triplets` builds just those (what MD and benchmarks use);
the trainer passes all triplets of the graph, which is correct but slower.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot.basis.symmetry_functions import (
    angular_symmetry_terms,
    radial_symmetry_terms,
    symmetry_function_parameters,
)
from hybridpot.elements import check_species, species_index_table
from hybridpot.graph.batch import batch_graphs, edge_mask, node_mask, pad_graph
from hybridpot.graph.geometry import edge_distances, edge_vectors, safe_norm
from hybridpot.graph.triplets import (
    Triplets,
    build_triplets,
    pad_triplets,
    triplet_angles,
    triplet_mask,
)
from hybridpot.models.chunking import auto_chunk, chunked_sum


class SymmetryFunctionSpec(NamedTuple):
    """What the descriptor computes (hashable: all tuples and floats).

    Attributes:
        species: atomic numbers Z_1 … Z_S the descriptor resolves, in block order.
        cutoff: radial cutoff r_c, Å (the model's graph cutoff).
        angular_cutoff: angular cutoff r_c^a ≤ r_c, Å.
        radial_eta: η of the G2 functions, ``[P_r]`` Å⁻².
        radial_shift: r_s of the G2 functions, ``[P_r]`` Å.
        angular_eta: η of the G4 functions, ``[P_a]`` Å⁻².
        angular_zeta: ζ of the G4 functions, ``[P_a]`` (≥ 1).
        angular_lambda: λ of the G4 functions, ``[P_a]`` (±1).
    """

    species: tuple
    cutoff: float
    angular_cutoff: float
    radial_eta: tuple
    radial_shift: tuple
    angular_eta: tuple
    angular_zeta: tuple
    angular_lambda: tuple

    @property
    def n_species(self) -> int:
        """S, number of species."""
        return len(self.species)

    @property
    def n_pairs(self) -> int:
        """S(S+1)/2, number of unordered species pairs."""
        return self.n_species * (self.n_species + 1) // 2

    @property
    def n_radial(self) -> int:
        """F_r = S · P_r."""
        return self.n_species * len(self.radial_eta)

    @property
    def n_angular(self) -> int:
        """F_a = S(S+1)/2 · P_a."""
        return self.n_pairs * len(self.angular_eta)

    @property
    def n_features(self) -> int:
        """F = F_r + F_a, the length of one atom's descriptor."""
        return self.n_radial + self.n_angular


def symmetry_function_spec(
    species: Sequence[int],
    cutoff: float,
    angular_cutoff: float | None = None,
    *,
    num_radial: int = 8,
    num_angular_eta: int = 4,
    zetas=(1.0, 4.0),
    lambdas=(-1.0, 1.0),
    rule: str = "imbalzano2018",
    r_lower: float | None = None,
) -> SymmetryFunctionSpec:
    """A standard parameter set (:func:`hybridpot.basis.symmetry_function_parameters`) per cutoff.

    Radial G2: the shifted grid of ``rule`` on [0, ``cutoff``]; angular G4: the centred η grid of
    ``rule`` on ``angular_cutoff`` × ``zetas`` × ``lambdas``. With two species and the defaults,
    F = 2·8 + 3·(4·2·2) = 64 features per atom (the dimension of the Al–Ni HDNNP of the lecture).

    Args:
        species: atomic numbers, e.g. ``(13, 28)``; sorted and de-duplicated.
        cutoff: radial cutoff, Å.
        angular_cutoff: angular cutoff, Å (default ``cutoff``; must not exceed it).
        num_radial, num_angular_eta, zetas, lambdas, rule, r_lower: see
            :func:`~hybridpot.basis.symmetry_function_parameters`; ``num_angular_eta=0`` gives a
            radial-only (G2) descriptor, whose model needs no triplets (an embedded-atom-like
            HDNNP, several times cheaper to train).
    """
    species = tuple(sorted({int(z) for z in species}))
    if not species or species[0] < 1 or species[-1] > 118:
        raise ValueError(f"species must be atomic numbers in 1..118, got {list(species)}")
    angular_cutoff = float(cutoff if angular_cutoff is None else angular_cutoff)
    if not 0 < angular_cutoff <= cutoff:
        raise ValueError(f"angular_cutoff must lie in (0, cutoff={cutoff}], got {angular_cutoff}")
    radial = symmetry_function_parameters(cutoff, num_radial, 2, zetas, lambdas, rule, r_lower)
    angular = symmetry_function_parameters(angular_cutoff, 2, num_angular_eta or 2, zetas, lambdas, rule, r_lower)
    if num_angular_eta == 0:  # radial-only descriptor: the model reads no triplets
        angular = {k: () for k in angular}
    as_tuple = lambda x: tuple(float(v) for v in x)  # noqa: E731
    return SymmetryFunctionSpec(
        species, float(cutoff), angular_cutoff, as_tuple(radial["radial_eta"]), as_tuple(radial["radial_shift"]),
        as_tuple(angular["angular_eta"]), as_tuple(angular["angular_zeta"]), as_tuple(angular["angular_lambda"]),
    )


def pair_index_table(n_species: int) -> np.ndarray:
    """``[S, S] int32``: index of the unordered pair {s, t} in the order (0,0), (0,1), …, (1,1), …"""
    table = np.zeros((n_species, n_species), np.int32)
    k = 0
    for s in range(n_species):
        for t in range(s, n_species):
            table[s, t] = table[t, s] = k
            k += 1
    return table


#: Floats held per triplet and G4 term by the angular sums with their gradient: XLA asked for one
#: 28.5 GB float32 buffer for 6.6·10⁷ triplets × 12 terms (docs/studies/alni.md), i.e. ≈ 9.
_FLOATS_PER_TRIPLET_TERM = 9


def auto_triplet_chunk(spec: SymmetryFunctionSpec, n_triplet: int, dtype=jnp.float32,
                       budget: int | None = None) -> int | None:
    """Triplets per chunk that keep the angular terms of ``n_triplet`` triplets within ``budget`` bytes.

    :func:`~hybridpot.models.chunking.auto_chunk` with ``itemsize × 9 × len(spec.angular_eta)``
    bytes per triplet (measured): None (all at once, the fastest) when they fit, else the largest
    chunk that fits (at least 64). ``budget`` defaults to
    :data:`~hybridpot.models.chunking.MEMORY_BUDGET`.
    """
    per_triplet = np.dtype(dtype).itemsize * _FLOATS_PER_TRIPLET_TERM * max(len(spec.angular_eta), 1)
    return auto_chunk(n_triplet, per_triplet, budget)


def symmetry_function_descriptors(
    graph: jraph.GraphsTuple, triplets: Triplets, spec: SymmetryFunctionSpec, triplet_chunk: int | str | None = "auto"
) -> jnp.ndarray:
    """The element-resolved G2/G4 descriptor of every node (layout in the module docstring).

    Jittable, vmappable and differentiable; padding edges and triplets add exactly 0 and padding
    nodes get an all-zero row. Elements outside ``spec.species`` are counted as species 0 here
    (callers check species: :func:`hybridpot.elements.check_species`).

    Args:
        graph: ``GraphsTuple`` built with a cutoff ≥ ``spec.cutoff`` (edges beyond it add 0).
        triplets: k → j → i triplets of ``graph`` (any superset of :func:`angular_triplets`);
            unused (may be None) when ``spec`` has no angular functions.
        spec: the symmetry functions.
        triplet_chunk: evaluate the angular terms this many triplets at a time (``lax.scan`` with
            rematerialisation), so memory holds one chunk of per-triplet intermediates instead of
            all of them, also in the backward pass (forces); None: all at once (fastest);
            ``"auto"``: chunked only when all at once would exceed :data:`~hybridpot.models.chunking.MEMORY_BUDGET`
            (:func:`auto_triplet_chunk`).

    Returns:
        ``[n_node, spec.n_features]``, dimensionless (sums of exponentials).
    """
    n_node = graph.nodes["atomic_numbers"].shape[0]
    s_count, n_pairs = spec.n_species, spec.n_pairs
    table = jnp.asarray(np.maximum(species_index_table(spec.species), 0))
    species = table[graph.nodes["atomic_numbers"]]

    # radial: edge j -> i adds to the block of the sender's species at the receiver
    real_edge = edge_mask(graph)
    r = edge_distances(graph)
    radial = radial_symmetry_terms(r, jnp.asarray(spec.radial_eta), jnp.asarray(spec.radial_shift), spec.cutoff)
    radial = jnp.where(real_edge[:, None], radial, 0.0)
    segment = graph.receivers * s_count + species[graph.senders]
    radial = jax.ops.segment_sum(radial, segment, num_segments=n_node * s_count)
    radial = radial.reshape(n_node, spec.n_radial)

    if spec.n_angular == 0:
        return jnp.where(node_mask(graph)[:, None], radial, 0.0)

    # angular: triplet k -> j -> i has centre j and neighbours k, i
    kj, ji = jnp.asarray(triplets.kj), jnp.asarray(triplets.ji)
    vec = edge_vectors(graph)
    pair_table = jnp.asarray(pair_index_table(s_count))

    def angular_sums(kj, ji, valid):
        """``[n_node · n_pairs, P_a]`` sums of the G4 terms of the triplets (kj, ji) where ``valid``."""
        r_jk, r_ji = r[kj], r[ji]
        r_ki = safe_norm(vec[kj] + vec[ji])  # R_k − R_i, periodic shifts included
        t = Triplets(kj, ji, None)
        cos_theta, _ = triplet_angles(graph, t, vec)
        terms = angular_symmetry_terms(
            r_jk, r_ji, r_ki, cos_theta, jnp.asarray(spec.angular_eta), jnp.asarray(spec.angular_zeta),
            jnp.asarray(spec.angular_lambda), spec.angular_cutoff,
        )
        terms = jnp.where((triplet_mask(graph, t) & valid)[:, None], terms, 0.0)
        segment = graph.senders[ji] * n_pairs + pair_table[species[graph.senders[kj]], species[graph.receivers[ji]]]
        return jax.ops.segment_sum(terms, segment, num_segments=n_node * n_pairs)

    n_trip = kj.shape[0]
    if triplet_chunk == "auto":
        triplet_chunk = auto_triplet_chunk(spec, n_trip, r.dtype)
    angular = chunked_sum(angular_sums, (kj, ji, jnp.ones(n_trip, bool)), triplet_chunk)
    angular = angular.reshape(n_node, spec.n_angular)

    out = jnp.concatenate([radial, angular], axis=-1)
    return jnp.where(node_mask(graph)[:, None], out, 0.0)


def angular_triplets(graph: jraph.GraphsTuple, angular_cutoff: float) -> Triplets:
    """Triplets k → j → i of ``graph`` whose two edges are both shorter than ``angular_cutoff``.

    Host-side (numpy): triplets are built on the subgraph of short edges only, so the cost grows
    with the short-range neighbour count, and indices are mapped back to the edges of ``graph``.
    These are the only triplets with a non-zero G4 term. Returns numpy arrays.
    """
    vec = np.asarray(edge_vectors(jax.device_get(graph)), np.float64)
    r = np.linalg.norm(vec, axis=1)
    short = np.flatnonzero((r < angular_cutoff) & np.asarray(edge_mask(graph)))
    g = jax.device_get(graph)
    graph_of_edge = np.repeat(np.arange(np.asarray(g.n_edge).shape[0]), np.asarray(g.n_edge))
    n_edge = np.bincount(graph_of_edge[short], minlength=np.asarray(g.n_edge).shape[0])
    sub = g._replace(
        senders=np.asarray(g.senders)[short], receivers=np.asarray(g.receivers)[short],
        edges={"shifts": np.asarray(g.edges["shifts"])[short]}, n_edge=n_edge.astype(np.int32),
    )
    t = build_triplets(sub)
    return Triplets(short[t.kj].astype(np.int32), short[t.ji].astype(np.int32), t.n_triplet)


class DescriptorScaling(NamedTuple):
    """Per-species, per-feature standardisation x = (G − mean) / scale, fitted on a training set.

    Attributes:
        mean: ``[S, F]`` mean of each feature over the atoms of each species.
        scale: ``[S, F]`` standard deviation, floored at a fraction of |mean| (1 where it is below
            ``1e-8``, e.g. for an absent species).
        counts: ``[S]`` atoms of each species seen in the fit.
    """

    mean: np.ndarray
    scale: np.ndarray
    counts: np.ndarray


def identity_scaling(spec: SymmetryFunctionSpec) -> DescriptorScaling:
    """No scaling (mean 0, scale 1)."""
    shape = (spec.n_species, spec.n_features)
    return DescriptorScaling(np.zeros(shape), np.ones(shape), np.zeros(spec.n_species, np.int64))


def fit_descriptor_scaling(
    spec: SymmetryFunctionSpec,
    graphs: Iterable[jraph.GraphsTuple],
    *,
    batch_size: int = 16,
    min_relative_scale: float = 1e-3,
) -> DescriptorScaling:
    """Mean and standard deviation of every feature per species over all atoms of ``graphs``.

    Graphs (single structures, unpadded) are batched ``batch_size`` at a time and every batch is
    padded to one shape, so the descriptor compiles once. Elements outside ``spec.species`` raise.

    Args:
        spec: the symmetry functions.
        graphs: training structures as graphs built with cutoff ≥ ``spec.cutoff``.
        batch_size: structures per descriptor evaluation.
        min_relative_scale: the scale of a feature is at least this fraction of |mean|.
    Returns:
        :class:`DescriptorScaling` (float64 numpy).
    """
    graphs = [jax.device_get(g) for g in graphs]
    if not graphs:
        raise ValueError("fit_descriptor_scaling needs at least one graph")
    for g in graphs:
        check_species(g.nodes["atomic_numbers"], spec.species)
    chunks = []
    for start in range(0, len(graphs), batch_size):
        batch = jax.device_get(batch_graphs(graphs[start : start + batch_size]))
        trip = angular_triplets(batch, spec.angular_cutoff) if spec.n_angular else None
        chunks.append((batch, trip))
    n_node = max(int(np.sum(b.n_node)) for b, _ in chunks) + 1
    n_edge = max(int(np.sum(b.n_edge)) for b, _ in chunks) + 1
    n_trip = max(int(t.kj.shape[0]) for _, t in chunks) if spec.n_angular else 0
    n_graph = batch_size + 1
    fn = jax.jit(symmetry_function_descriptors, static_argnums=2)
    table = species_index_table(spec.species)
    s_count, f = spec.n_species, spec.n_features
    total, total_sq, counts = np.zeros((s_count, f)), np.zeros((s_count, f)), np.zeros(s_count, np.int64)
    for batch, trip in chunks:
        real_edge = int(np.sum(batch.n_edge))
        padded = pad_graph(batch, n_node, n_edge, n_graph)
        if trip is not None:
            trip = pad_triplets(trip, n_trip, padding_edge=real_edge, n_graph=n_graph)
        g = np.asarray(fn(padded, trip, spec), np.float64)
        z = np.asarray(padded.nodes["atomic_numbers"])
        for s in range(s_count):
            rows = g[(z > 0) & (table[z] == s)]
            total[s] += rows.sum(0)
            total_sq[s] += (rows**2).sum(0)
            counts[s] += rows.shape[0]
    n = np.maximum(counts, 1)[:, None]
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))
    # a feature that barely varies in training must not be blown up into a steep input: floor
    # the scale at 1e-3·|mean| (and use 1 for features that are constant, e.g. absent species)
    std = np.maximum(std, min_relative_scale * np.abs(mean))
    scale = np.where(std > 1e-8, std, 1.0)
    return DescriptorScaling(mean, scale, counts)
