r"""DimeNet and DimeNet++ over hybridpot graphs (DimezblNet is their composition with ZBL).

DimeNet (Gasteiger, Groß & Günnemann, ICLR 2020) passes messages :math:`m_{ji}` along directed edges
j → i and updates them from the messages :math:`m_{kj}` of the edges that end in j, with the angle
at j of the triplet k → j → i (eq. 3 of Tao & Wan):

.. math::
    m_{ji}^{(l+1)} = f_\text{update}\Big(m_{ji}^{(l)},\ \sum_{k \in N_j \setminus \{i\}}
        f_\text{int}\big(m_{kj}^{(l)}, e_\text{RBF}^{(ji)}, a_\text{SBF}^{(kj, ji)}\big)\Big),

with the radial Bessel basis :math:`e_\text{RBF}(d)` (eq. 4) and the 2D spherical Fourier–Bessel
basis :math:`a_\text{SBF}(d_{kj}, \alpha)` (eq. 5), both multiplied by the polynomial envelope
:math:`u_p(d / r_c)` (eq. 6). The atomic energy is the sum of the output blocks of every layer and
the structure energy the sum over atoms. DimeNet++ (Gasteiger et al., NeurIPS-W 2020) replaces the
bilinear layer by a Hadamard product in a down-projected triplet space (``int_emb_size``) and the
linear SBF/RBF maps by two-layer maps through ``basis_emb_size``.

DimezblNet (Tao & Wan) adds the Ziegler–Biersack–Littmark repulsion of every pair within the ZBL
range (eq. 8–10) to the learned energy. It is not a flag of this model but a composition,
``additive(zbl_term(...), dimenet_pp(...))``: :func:`hybridpot.potentials.dimezblnet`.

Conventions and choices (see docs/models/dimenet.md for the reasoning):

* Edge e is j → i with j = ``senders[e]``, i = ``receivers[e]``; a message lives on an edge. The
  triplet angle is the core's :func:`~hybridpot.graph.triplet_angles`: the angle **at j** between
  R_k − R_j and R_i − R_j (the paper's ∠x_k x_j x_i). DimeNet++'s code uses the angle between
  R_j − R_i and R_k − R_j, which is π minus ours; Y_l^0(π − θ) = (−1)^l Y_l^0(θ) is absorbed by the
  sign of the (learned) SBF weights, so the model family is the same. The original DimeNet code
  measured the angle at i (a bug listed in the authors' README); it is not reproduced.
* The SBF's radial part is the correct normalised j_l(z_ln d_kj / r_c) times u_p(d_kj); the authors'
  code multiplies it by an envelope that is implicitly divided by d (README known issue), which is
  not reproduced.
* ``rbf_edge``: the authors' code multiplies the message m_kj by the RBF of d_kj (README known
  issue; the published numbers use it): ``"kj"``, the default. ``"ji"`` applies the RBF of d_ji to
  the aggregated triplet sum instead, the fix the README recommends.
* Dense kernels use Glorot-orthogonal initialisation (a random orthogonal matrix rescaled to the
  Glorot variance 2 / (fan_in + fan_out)), biases zero, element embeddings U(−√3, √3), the final
  layer of every output block zero (as in the DimeNet paper), and the bilinear tensor
  N(0, (2 / emb_size)²) as in the authors' code (standard deviation 2 / F, not √(2 / F)).
* Activation: swish / SiLU, x·σ(x).
* Element embeddings are learned per entry of ``species``; an atomic number outside it raises
  ``ValueError`` naming it (host-side, in ``energy`` on concrete graphs; the trainer checks the whole data set
  through ``GraphModel.species`` before building batches).
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import check_integer, check_positive
from hybridpot.basis import (
    polynomial_envelope,
    radial_bessel_basis,
    spherical_bessel_radial,
    zonal_spherical_harmonics,
)
from hybridpot.elements import check_species, check_species_list, species_index_table
from hybridpot.graph import (
    Triplets,
    edge_distances,
    edge_mask,
    edge_vectors,
    node_mask,
)
from hybridpot.graph.triplets import SAME_IMAGE_TOLERANCE, triplet_angles
from hybridpot.models.chunking import auto_chunk, chunked_sum, map_and_sum, map_chunks
from hybridpot.potential import GraphModel, atomic_model

Variant = Literal["dimenet", "dimenet++"]
RbfEdge = Literal["kj", "ji"]


# ----------------------------------------------------------------------------- initialisers
def glorot_orthogonal(scale: float = 2.0):
    """Kernel initialiser of DimeNet: random (semi-)orthogonal W rescaled to Var(W) = scale / (fan_in + fan_out).

    Returns ``init(key, shape [fan_in, fan_out], dtype) -> [fan_in, fan_out]``.
    """

    def init(key, shape, dtype=jnp.float32):
        if len(shape) != 2:
            raise ValueError(f"glorot_orthogonal needs a 2-D kernel shape, got {shape}")
        w = nn.initializers.orthogonal()(key, shape, jnp.float32)
        w = w * jnp.sqrt(scale / ((shape[0] + shape[1]) * jnp.var(w)))
        return w.astype(dtype)

    return init


def _dense(features: int, *, bias: bool = True, zeros: bool = False, dtype=jnp.float32, name=None) -> nn.Dense:
    kernel_init = nn.initializers.zeros if zeros else glorot_orthogonal()
    return nn.Dense(features, use_bias=bias, kernel_init=kernel_init, param_dtype=dtype, name=name)


def spherical_basis_projection(radial, angular, kj, kernel):
    r"""The SBF of every triplet times a kernel, ``a_SBF @ W``, without forming the ``[T, L·N]`` basis.

    .. math::
        (a_\text{SBF} W)_{t k} = \sum_l Y_l(\alpha_t) \sum_n \tilde j_{ln}(d_{kj_t})\, W_{lN+n,\,k},

    i.e. the radial factors are projected once per edge (``[E, L, K]``, a matrix product) and only
    the L angular weights are applied per triplet. Equal to
    ``combine_spherical_basis(radial[kj], angular) @ kernel`` up to float rounding. On CPU it is
    also faster: XLA fused the spherical Bessel series into the ``[T, L·N]`` gather of the direct
    form and evaluated it once per triplet (the largest op of a DimeNet++ training step in a
    jax.profiler trace; ``optimization_barrier`` does not survive XLA CPU's pipeline to stop it).

    Args:
        radial: ``[E, L, N]`` radial factors per edge (envelope included), Å^{-3/2}.
        angular: ``[T, L]`` Y_l^0 of each triplet's angle (0 for padding triplets).
        kj: ``[T]`` int edge k → j of each triplet.
        kernel: ``[L·N, K]`` weights, rows l-major as :func:`~hybridpot.basis.combine_spherical_basis`.

    Returns:
        ``[T, K]``.
    """
    return _angular_combination(_radial_projection(radial, kernel), angular, kj)


def _radial_projection(radial, kernel):
    """``[E, L, K]``: the radial factors ``[E, L, N]`` times the rows of ``kernel [L·N, K]`` of each l."""
    n_l, n_n = radial.shape[-2:]
    return jnp.einsum("eln,lnk->elk", radial, kernel.reshape(n_l, n_n, -1))


def _angular_combination(per_edge, angular, kj):
    """``[T, K]``: Σ_l angular[t, l] · per_edge[kj[t], l] (the per-triplet half of :func:`spherical_basis_projection`)."""
    # a sum of L gathered [T, K] terms (one loop fusion); the [T, L, K] product with a reduction
    # over L was materialised by XLA CPU
    return sum(angular[:, l, None] * per_edge[kj, l] for l in range(per_edge.shape[1]))


class DenseKernel(nn.Module):
    """The kernel alone of a bias-free ``nn.Dense`` (same name, shape and initialisation, so the
    same parameter layout), for layers whose product is computed in another order.

    ``__call__(fan_in) -> [fan_in, features]``.
    """

    features: int
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, fan_in: int):
        return self.param("kernel", glorot_orthogonal(), (fan_in, self.features), self.param_dtype)


# ----------------------------------------------------------------------------- triplets
def all_edge_pairs(graph: jraph.GraphsTuple):
    """Every ordered edge pair (kj, ji) as triplet candidates with a validity mask; jittable.

    The dense O(n_edge²) alternative to :func:`hybridpot.graph.build_triplets` for use inside
    ``jax.jit`` when the graph is traced (e.g. :mod:`hybridpot.testing` checks): pair (a, b) is a
    real triplet k → j → i when receiver(a) = sender(b), both edges are real, and k is not the very
    atom i in the same periodic image. Only for small graphs.

    Returns:
        ``(kj [n_edge²] int32, ji [n_edge²] int32, mask [n_edge²] bool)``.
    """
    n_edge = graph.senders.shape[0]
    kj = jnp.repeat(jnp.arange(n_edge, dtype=jnp.int32), n_edge)
    ji = jnp.tile(jnp.arange(n_edge, dtype=jnp.int32), n_edge)
    real = jnp.asarray(edge_mask(graph))
    shifts = graph.edges["shifts"]
    chained = graph.receivers[kj] == graph.senders[ji]
    same_site = (graph.senders[kj] == graph.receivers[ji]) & (
        jnp.sum((shifts[kj] + shifts[ji]) ** 2, axis=-1) < SAME_IMAGE_TOLERANCE**2
    )
    mask = chained & ~same_site & real[kj] & real[ji]
    return kj, ji, mask


# ----------------------------------------------------------------------------- blocks
class ResidualLayer(nn.Module):
    """x + σ(W₂ σ(W₁ x + b₁) + b₂): the residual layer of DimeNet's interaction blocks. ``[..., F] → [..., F]``."""

    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        f = x.shape[-1]
        y = nn.silu(_dense(f, dtype=self.param_dtype)(x))
        return x + nn.silu(_dense(f, dtype=self.param_dtype)(y))


class EmbeddingBlock(nn.Module):
    r"""Initial messages (eq. 7): m_ji = σ(W [h_i ‖ h_j ‖ σ(W_rbf e_RBF(d_ji))] + b).

    Attributes:
        emb_size: F, message width.
        n_species: number of element embeddings (rows of the table, U(−√3, √3)).

    ``__call__(species_index [n_node] int, rbf [n_edge, N_rbf], senders, receivers [n_edge])``
    returns messages ``[n_edge, F]``.
    """

    emb_size: int
    n_species: int
    param_dtype: Any = jnp.float32

    def bytes_per_edge(self, dtype) -> int:
        """Bytes this block holds per edge, forward and backward: the RBF layer (pre-activation and
        output), the ``[3F]`` concatenation and the output layer, with their cotangents."""
        return 2 * 7 * self.emb_size * np.dtype(dtype).itemsize

    @nn.compact
    def __call__(self, species_index, rbf, senders, receivers):
        bound = float(np.sqrt(3.0))
        table = self.param(
            "species_embedding",
            lambda k, s, d: jax.random.uniform(k, s, d, -bound, bound),
            (self.n_species, self.emb_size),
            self.param_dtype,
        )
        h = table[species_index]
        rbf = nn.silu(_dense(self.emb_size, dtype=self.param_dtype)(rbf))
        x = jnp.concatenate([h[receivers], h[senders], rbf.astype(h.dtype)], axis=-1)
        return nn.silu(_dense(self.emb_size, dtype=self.param_dtype)(x))


class InteractionBlock(nn.Module):
    r"""One directional message-passing update of all messages (DimeNet or DimeNet++).

    Triplet term (x_kj = σ(W_kj m_kj + b), summed over the triplets k → j → i of each ji):

    * ``"dimenet"``: :math:`\sum_k \sum_{l,n} W_{f l n}\, (W_\text{sbf} a_\text{SBF})_l\, (x_{kj} \odot W_\text{rbf} e_\text{RBF})_n`,
      a bilinear layer with ``num_bilinear`` SBF channels.
    * ``"dimenet++"``: x_kj ⊙ RBF map → σ(down-projection to ``int_emb_size``) → ⊙ (two-layer SBF
      map) → sum → σ(up-projection to F).

    Then m ← m + σ(W [residuals(σ(W_ji m + b) + triplet term)] + b), followed by
    ``num_after_skip`` residual layers. ``rbf_edge="ji"`` multiplies the summed triplet term by the
    RBF of d_ji instead of m_kj by the RBF of d_kj (module docstring).

    ``triplet_chunk``: the triplet term of this many triplets at a time
    (:func:`~hybridpot.models.chunking.chunked_sum`: ``lax.scan``, each chunk rematerialised in the
    backward pass), so memory holds one chunk of per-triplet intermediates; None: all at once;
    ``"auto"``: chunked only when all at once would pass
    :data:`~hybridpot.models.chunking.MEMORY_BUDGET` (:meth:`bytes_per_triplet`). The result does
    not depend on it, nor do the parameters (same names and shapes).

    ``__call__(m [n_edge, F], rbf [n_edge, N_rbf], radial [n_edge, L, N], angular [n_triplet, L], kj,
    ji [n_triplet])`` returns updated messages ``[n_edge, F]``; the SBF of triplet t is
    radial[kj[t], l, n] · angular[t, l] (:func:`spherical_basis_projection`; padding triplets have
    angular 0 and add exactly 0). It is the composition of three parts that large graphs call
    separately (:class:`DimeNetNetwork`), the per-edge ones a chunk of edges at a time:
    :meth:`triplet_inputs` (per edge), :meth:`triplet_sum` (per triplet, onto edges) and
    :meth:`update` (per edge).
    """

    variant: Variant
    emb_size: int
    num_bilinear: int = 8
    int_emb_size: int = 64
    basis_emb_size: int = 8
    num_before_skip: int = 1
    num_after_skip: int = 2
    rbf_edge: RbfEdge = "kj"
    param_dtype: Any = jnp.float32
    triplet_chunk: int | str | None = "auto"

    def setup(self):
        # the names (and the Dense_i / ResidualLayer_i numbering) are those the layers had when
        # this block was one compact method, so parameter files keep their layout
        d, f = self.param_dtype, self.emb_size
        self.dense_ji = _dense(f, dtype=d)
        self.dense_kj = _dense(f, dtype=d)
        rbf_width = f if self.rbf_edge == "kj" else self.triplet_width
        if self.variant == "dimenet++":
            self.rbf_1 = _dense(self.basis_emb_size, bias=False, dtype=d)
            self.down_projection = _dense(self.int_emb_size, bias=False, dtype=d)
            self.sbf_1 = DenseKernel(self.basis_emb_size, d)
            self.sbf = DenseKernel(self.int_emb_size, d)
            self.up_projection = _dense(f, bias=False, dtype=d)
        else:
            self.sbf = DenseKernel(self.num_bilinear, d)
            self.bilinear = self.param(
                "bilinear", nn.initializers.normal(stddev=2.0 / f), (self.num_bilinear, f, f), d,  # [B, F_in, F_out]
            )
        self.rbf = _dense(rbf_width, bias=False, dtype=d)
        for i in range(self.num_before_skip + self.num_after_skip):
            setattr(self, f"ResidualLayer_{i}", ResidualLayer(d))
        self.final_before_skip = _dense(f, dtype=d)

    @property
    def triplet_width(self) -> int:
        """Width of the per-edge features the triplet term gathers and returns (DimeNet++: ``int_emb_size``)."""
        return self.int_emb_size if self.variant == "dimenet++" else self.emb_size

    def bytes_per_triplet(self, num_spherical: int, dtype) -> int:
        """Bytes the triplet term of one interaction holds per triplet, forward and backward: its
        per-triplet arrays (SBF projections, gathered x_kj, products; DimeNet's [B·F] outer
        product), each with its cotangent, and the angular weights ``[L]`` with theirs."""
        if self.variant == "dimenet++":
            widths = 3 * self.int_emb_size + self.basis_emb_size
        else:
            widths = (self.num_bilinear + 2) * self.emb_size + self.num_bilinear
        return 2 * (widths + num_spherical) * np.dtype(dtype).itemsize

    def bytes_per_edge(self, dtype) -> int:
        """Bytes the per-edge parts of one interaction hold per edge, forward and backward: the
        activations of the larger of :meth:`triplet_inputs` and :meth:`update` (every layer's
        pre-activation and output, the residual layers' five arrays each), with their cotangents."""
        f, basis = self.emb_size, self.basis_emb_size if self.variant == "dimenet++" else 0
        inputs = 4 * f + basis + 2 * self.triplet_width
        update = f * (8 + 5 * (self.num_before_skip + self.num_after_skip)) + basis + self.triplet_width
        return 2 * max(inputs, update) * np.dtype(dtype).itemsize

    def _basis_map(self, x):
        """Linear map of the RBF (DimeNet) or two bias-free layers through ``basis_emb_size`` (DimeNet++)."""
        if self.variant == "dimenet++":
            x = self.rbf_1(x)
        return self.rbf(x)

    def triplet_inputs(self, m, rbf):
        """Per edge: the features x_kj the triplet term gathers, ``[n_edge, triplet_width]``.

        σ(W_kj m + b), times the RBF map if ``rbf_edge="kj"``; DimeNet++ then σ(down-projection).
        ``m [n_edge, F]``, ``rbf [n_edge, N_rbf]``; acts on every edge separately.
        """
        x_kj = nn.silu(self.dense_kj(m))
        if self.rbf_edge == "kj":
            x_kj = x_kj * self._basis_map(rbf)
        if self.variant == "dimenet++":
            x_kj = nn.silu(self.down_projection(x_kj))
        return x_kj

    def triplet_sum(self, x_kj, radial, angular, kj, ji, angular_fn=None):
        """The triplet term summed onto the ji edges, ``[n_edge, triplet_width]``, ``triplet_chunk``
        triplets at a time (``"auto"``: from the memory budget).

        ``x_kj [n_edge, triplet_width]`` (:meth:`triplet_inputs`), ``radial [n_edge, L, N]``,
        ``angular [n_triplet, L]``, ``kj, ji [n_triplet]`` int. With ``angular_fn``, ``angular`` is
        instead any per-triplet input ``[n_triplet, ...]`` and ``angular_fn(kj, ji, angular)`` gives
        the ``[t, L]`` weights of a chunk of t triplets inside the chunk, so the weights of all
        triplets are never held (they must be 0 for zero ``angular``: the zeroed repeated items of an
        overlapping last chunk).
        """
        n_edge = x_kj.shape[0]
        fan_in = radial.shape[-2] * radial.shape[-1]
        kernel = (self.sbf_1 if self.variant == "dimenet++" else self.sbf)(fan_in)  # [L·N, K]
        if angular_fn is None:
            per_edge = _radial_projection(radial, kernel)  # [E, L, K]

            def sbf(kj, angular):
                return _angular_combination(per_edge, angular, kj)
        else:
            # per triplet, (Y_l · j_ln) @ W: the per-edge projection [E, L, K] and the scatter of
            # its gradient were several of the largest per-edge arrays of a chunked large cell

            def sbf(kj, angular):
                return (angular[:, :, None] * radial[kj]).reshape(kj.shape[0], fan_in) @ kernel

        if self.variant == "dimenet++":
            w_sbf = self.sbf(self.basis_emb_size)

            def term(kj, ji, angular):
                angular = angular if angular_fn is None else angular_fn(kj, ji, angular)
                x = x_kj[kj] * (sbf(kj, angular) @ w_sbf)  # [T, int_emb]
                return jax.ops.segment_sum(x, ji, num_segments=n_edge)
        else:
            f = self.emb_size
            w = self.bilinear

            def term(kj, ji, angular):
                angular = angular if angular_fn is None else angular_fn(kj, ji, angular)
                s = sbf(kj, angular)  # [T, B]
                # Σ_{b, n} s_b x_n W[b, n, :] per triplet, as one [T, B·F] @ [B·F, F] product
                outer = (s[:, :, None] * x_kj[kj][:, None, :]).reshape(s.shape[0], self.num_bilinear * f)
                return jax.ops.segment_sum(outer @ w.reshape(-1, f), ji, num_segments=n_edge)

        chunk = self.triplet_chunk
        if chunk == "auto":
            chunk = auto_chunk(kj.shape[0], self.bytes_per_triplet(radial.shape[-2], x_kj.dtype))
        return chunked_sum(term, (kj, ji, angular), chunk)

    def update(self, m, agg, rbf):
        """Per edge: the new messages ``[n_edge, F]`` from the old ``m [n_edge, F]``, the triplet sum
        ``agg [n_edge, triplet_width]`` (:meth:`triplet_sum`) and ``rbf [n_edge, N_rbf]``; acts on
        every edge separately."""
        x_ji = nn.silu(self.dense_ji(m))
        if self.rbf_edge == "ji":
            agg = agg * self._basis_map(rbf)
        if self.variant == "dimenet++":
            agg = nn.silu(self.up_projection(agg))
        x = x_ji + agg
        for i in range(self.num_before_skip):
            x = getattr(self, f"ResidualLayer_{i}")(x)
        m = m + nn.silu(self.final_before_skip(x))
        for i in range(self.num_before_skip, self.num_before_skip + self.num_after_skip):
            m = getattr(self, f"ResidualLayer_{i}")(m)
        return m

    def __call__(self, m, rbf, radial, angular, kj, ji):
        return self.update(m, self.triplet_sum(self.triplet_inputs(m, rbf), radial, angular, kj, ji), rbf)


class OutputBlock(nn.Module):
    r"""Atomic outputs of one layer: t_i = W_out σ(…σ(W [Σ_j (W_rbf e_RBF(d_ji)) ⊙ m_ji] + b)…).

    DimeNet++ (``out_emb_size`` set) first up-projects the atom sum to ``out_emb_size`` (no bias).
    The last layer has no bias and starts at zero.

    ``__call__(m [n_edge, F], rbf [n_edge, N_rbf], receivers [n_edge], n_node)`` → ``[n_node]``:
    :meth:`node_outputs` of :meth:`edge_sum` (large graphs call them separately, a chunk at a time).
    """

    emb_size: int
    num_dense: int = 3
    out_emb_size: int | None = None
    param_dtype: Any = jnp.float32

    def setup(self):
        # the names of the layers when this block was one compact method (same parameter layout)
        d = self.param_dtype
        self.rbf = _dense(self.emb_size, bias=False, dtype=d)
        if self.out_emb_size is not None:
            self.up_projection = _dense(self.out_emb_size, bias=False, dtype=d)
        for i in range(self.num_dense):
            setattr(self, f"Dense_{i}", _dense(self.out_emb_size or self.emb_size, dtype=d))
        self.final = _dense(1, bias=False, zeros=True, dtype=d)

    def bytes_per_node(self, dtype) -> int:
        """Bytes :meth:`node_outputs` holds per atom, forward and backward: the input, the
        up-projection and every layer's pre-activation and output, with their cotangents."""
        width = self.out_emb_size or self.emb_size
        return 2 * (self.emb_size + width * (1 + 2 * self.num_dense) + 1) * np.dtype(dtype).itemsize

    def edge_sum(self, m, rbf, receivers, n_node: int):
        """``[n_node, F]``: Σ_j (W_rbf e_RBF(d_ji)) ⊙ m_ji onto the receivers i, a sum over edges
        (``m [n_edge, F]``, ``rbf [n_edge, N_rbf]``, ``receivers [n_edge]``; zero rbf adds 0)."""
        return jax.ops.segment_sum(self.rbf(rbf) * m, receivers, num_segments=n_node)

    def node_outputs(self, x):
        """``[n_node]`` atomic outputs from the atom sums ``x [n_node, F]`` (:meth:`edge_sum`); acts
        on every atom separately."""
        if self.out_emb_size is not None:
            x = self.up_projection(x)
        for i in range(self.num_dense):
            x = nn.silu(getattr(self, f"Dense_{i}")(x))
        return self.final(x)[:, 0]

    def __call__(self, m, rbf, receivers, n_node: int):
        return self.node_outputs(self.edge_sum(m, rbf, receivers, n_node))


class DimeNetNetwork(nn.Module):
    """The learned energy of DimeNet / DimeNet++: graph (+ triplets) → ``[n_node]`` atomic outputs
    (model units; padding atoms 0), whose sum per graph is the energy.

    Attributes:
        species: atomic numbers with an embedding each (order = row of the embedding table).
        variant: ``"dimenet"`` (bilinear interaction) or ``"dimenet++"``.
        cutoff: r_c of the bases and envelope, Å (graphs must be built with it).
        emb_size: F, message width. num_blocks: interaction blocks.
        num_bilinear: SBF channels of the bilinear layer (DimeNet).
        out_emb_size, int_emb_size, basis_emb_size: DimeNet++ widths.
        num_spherical: L, num_radial: N (SBF is L·N, RBF is N wide).
        envelope_p: p of the polynomial envelope (6 = DimeNet's "exponent 5").
        num_before_skip, num_after_skip, num_dense_output: layer counts of the blocks.
        rbf_edge: ``"kj"`` (authors' code) or ``"ji"`` (README fix), see the module docstring.
        param_dtype: dtype of the parameters.
        triplet_chunk: each interaction's triplet term this many triplets at a time (memory of
            large cells; see :class:`InteractionBlock`); None: all at once; ``"auto"``: chunked
            only when one interaction's per-triplet intermediates would pass 1 GiB. When the
            triplets are chunked, the interaction and output blocks also run one at a time under
            ``lax.scan``, each rematerialised in the backward pass (their parameters stacked at
            call time; the parameter layout does not change), so the per-edge activations of one
            block are held instead of all blocks'; inside each block the per-edge parts
            (:meth:`InteractionBlock.triplet_inputs`, :meth:`InteractionBlock.update` with the
            output block's atom sum, the embedding) run a chunk of edges at a time and the output
            MLP a chunk of atoms at a time, each rematerialised, with chunks from the same budget
            (:meth:`InteractionBlock.bytes_per_edge`, :meth:`OutputBlock.bytes_per_node`), and the
            angular weights are computed inside the triplet chunks.

    ``__call__(graph, triplets)``: ``triplets`` from :func:`hybridpot.graph.build_triplets`
    (padded or not), or None for the dense enumeration of :func:`all_edge_pairs` (small graphs).
    Padding graphs get exactly 0; padding edges and triplets contribute exactly 0.
    """

    species: tuple[int, ...]
    variant: Variant = "dimenet++"
    cutoff: float = 5.0
    emb_size: int = 128
    num_blocks: int = 4
    num_bilinear: int = 8
    out_emb_size: int = 256
    int_emb_size: int = 64
    basis_emb_size: int = 8
    num_spherical: int = 7
    num_radial: int = 6
    envelope_p: int = 6
    num_before_skip: int = 1
    num_after_skip: int = 2
    num_dense_output: int = 3
    rbf_edge: RbfEdge = "kj"
    param_dtype: Any = jnp.float32
    triplet_chunk: int | str | None = "auto"

    @nn.compact
    def __call__(self, graph: jraph.GraphsTuple, triplets: Triplets | None = None) -> jax.Array:
        z = graph.nodes["atomic_numbers"]
        n_node = z.shape[0]
        table = species_index_table(self.species)
        index = jnp.maximum(jnp.asarray(table)[z], 0)  # padding / unknown → row 0 (masked below)

        real_edge = edge_mask(graph)
        r = edge_distances(graph)
        env = jnp.where(real_edge, polynomial_envelope(r, self.cutoff, self.envelope_p), 0.0)
        rbf = radial_bessel_basis(r, self.cutoff, self.num_radial) * env[:, None]  # [E, N]

        if triplets is None:
            kj, ji, t_mask = all_edge_pairs(graph)
        else:
            kj, ji = jnp.asarray(triplets.kj), jnp.asarray(triplets.ji)
            t_mask = jnp.asarray(edge_mask(graph))[ji]  # real triplet ⇔ real ji edge (triplet_mask)
        radial = spherical_bessel_radial(r, self.cutoff, self.num_spherical, self.num_radial)
        radial = radial * env[:, None, None]  # [E, L, N]
        vectors = edge_vectors(graph)

        def triplet_angular(kj, ji, mask):
            """``[t, L]`` Y_l^0 of the angles of triplets (kj, ji), times their mask ``[t]``."""
            _, theta = triplet_angles(graph, Triplets(kj, ji, None), vectors)
            return zonal_spherical_harmonics(theta, self.num_spherical) * mask[:, None]

        d = self.param_dtype
        out_emb = self.out_emb_size if self.variant == "dimenet++" else None

        embedding = EmbeddingBlock(self.emb_size, len(self.species), d, parent=None)
        output = OutputBlock(self.emb_size, self.num_dense_output, out_emb, d, parent=None)
        block = InteractionBlock(
            self.variant, self.emb_size, self.num_bilinear, self.int_emb_size, self.basis_emb_size,
            self.num_before_skip, self.num_after_skip, self.rbf_edge, d, self.triplet_chunk, parent=None,
        )
        dtype = jnp.result_type(rbf.dtype, d)
        chunk = self.triplet_chunk
        if chunk == "auto":
            chunk = auto_chunk(kj.shape[0], block.bytes_per_triplet(self.num_spherical, dtype))
        block = block.clone(triplet_chunk=chunk)
        if chunk is None or kj.shape[0] <= chunk or self.is_initializing():
            angular = triplet_angular(kj, ji, t_mask)  # [T, L]
            m = embedding.clone(parent=self)(index, rbf, graph.senders, graph.receivers)
            atomic = output.clone(parent=self)(m, rbf, graph.receivers, n_node)
            for _ in range(self.num_blocks):
                m = block.clone(parent=self)(m, rbf, radial, angular, kj, ji)
                atomic = atomic + output.clone(parent=self)(m, rbf, graph.receivers, n_node)
            return jnp.where(node_mask(graph), atomic, 0.0)
        # a graph large enough for chunked triplets: the blocks one at a time under lax.scan, each
        # rematerialised in the backward pass (nn.remat of each block barely lowered XLA CPU's
        # buffers), with their parameters stacked here, so the parameter layout is the same; inside
        # each block the per-edge parts run a chunk of edges at a time and the per-atom outputs a
        # chunk of atoms at a time (each chunk rematerialised), so a block holds a few [E, F]
        # arrays (its input and output messages, the triplet features and sum) instead of every
        # activation of its layers, and the angular weights are computed inside the triplet
        # chunks (all triplets' [T, L] weights with their gradient were the largest arrays left)
        params = self.variables["params"]
        edge_chunk = auto_chunk(rbf.shape[0], max(block.bytes_per_edge(dtype), embedding.bytes_per_edge(dtype)))
        node_chunk = auto_chunk(n_node, output.bytes_per_node(dtype))
        edges = graph.senders, graph.receivers

        def call(module, p, method):
            """``method`` of ``module`` with parameters ``p`` as a function of a tuple of arrays."""
            return lambda xs: module.apply({"params": p}, *xs, method=method)

        def atomic_outputs(p, m):
            x = chunked_sum(lambda *xs: output.apply({"params": p}, *xs, n_node, method=OutputBlock.edge_sum),
                            (m, rbf, graph.receivers), edge_chunk)
            return map_chunks(call(output, p, OutputBlock.node_outputs), (x,), node_chunk)

        m = map_chunks(lambda xs: embedding.apply({"params": params["EmbeddingBlock_0"]}, index, *xs),
                       (rbf, *edges), edge_chunk)
        atomic = atomic_outputs(params["OutputBlock_0"], m)
        stacked = [jax.tree.map(lambda *x: jnp.stack(x), *[params[f"{name}_{i + first}"] for i in range(self.num_blocks)])
                   for name, first in (("InteractionBlock", 0), ("OutputBlock", 1))]

        def updated_messages(p):
            """New messages of a chunk of edges and their output-block sum onto the atoms (one pass)."""

            def fn(xs):
                m, agg, rbf, receivers = xs
                m = block.apply({"params": p[0]}, m, agg, rbf, method=InteractionBlock.update)
                return m, output.apply({"params": p[1]}, m, rbf, receivers, n_node, method=OutputBlock.edge_sum)

            return fn

        def step(carry, p):
            m, atomic = carry
            x_kj = map_chunks(call(block, p[0], InteractionBlock.triplet_inputs), (m, rbf), edge_chunk)
            agg = block.apply({"params": p[0]}, x_kj, radial, t_mask, kj, ji, triplet_angular,
                              method=InteractionBlock.triplet_sum)
            m, x = map_and_sum(updated_messages(p), (m, agg, rbf, graph.receivers), edge_chunk)
            return (m, atomic + map_chunks(call(output, p[1], OutputBlock.node_outputs), (x,), node_chunk)), None

        (m, atomic), _ = jax.lax.scan(jax.checkpoint(step), (m, atomic), stacked)
        return jnp.where(node_mask(graph), atomic, 0.0)


# ----------------------------------------------------------------------------- GraphModel
_NETWORK_DEFAULTS = {
    "dimenet": dict(emb_size=128, num_blocks=6, num_bilinear=8),
    "dimenet++": dict(emb_size=128, out_emb_size=256, int_emb_size=64, basis_emb_size=8, num_blocks=4),
}


def dimenet_model(
    species: Sequence[int],
    *,
    variant: Variant = "dimenet++",
    cutoff: float = 5.0,
    param_dtype=jnp.float32,
    **hyper,
) -> GraphModel:
    r"""A DimeNet / DimeNet++ network as a :class:`~hybridpot.potential.GraphModel`.

    ``energy(params, graph, triplets) -> [n_graph]`` eV is the network's sum of atomic outputs
    (the assembled potential adds the per-element shift and scale, :mod:`hybridpot.potentials`).
    DimezblNet is a composition: ``hybridpot.hybrid.additive(zbl_term(...), dimenet_pp(...))``
    (:func:`hybridpot.potentials.dimezblnet`).

    Args:
        species: atomic numbers the model embeds; others raise ``ValueError`` naming them.
        variant: ``"dimenet"`` or ``"dimenet++"``.
        cutoff: graph and basis cutoff r_c, Å (published: 5).
        param_dtype: dtype of the parameters.
        **hyper: :class:`DimeNetNetwork` fields (``emb_size``, ``num_blocks``, ``num_bilinear``,
            ``out_emb_size``, ``int_emb_size``, ``basis_emb_size``, ``num_spherical``,
            ``num_radial``, ``envelope_p``, ``num_before_skip``, ``num_after_skip``,
            ``num_dense_output``, ``rbf_edge``); defaults are the published ones of the variant.
            ``triplet_chunk`` (default ``"auto"``): the triplet terms this many triplets at a time
            (memory of large cells, not energies; :class:`InteractionBlock`); None: all at once;
            ``"auto"``: chunked only when one interaction's per-triplet intermediates, forward
            and backward, would pass :data:`~hybridpot.models.chunking.MEMORY_BUDGET` (1 GiB), so
            training batches keep the unchunked program; chunked triplets also rematerialise the
            blocks one at a time and run their per-edge and per-atom layers in chunks
            (:class:`DimeNetNetwork`).

    Returns:
        ``GraphModel(init, energy, cutoff, needs_triplets=True, species)``; ``triplets=None`` in
        ``energy`` means the dense enumeration (small graphs only).
    """
    if variant not in _NETWORK_DEFAULTS:
        raise ValueError(f"unknown variant {variant!r}; use 'dimenet' or 'dimenet++'")
    check_positive("cutoff", cutoff)
    species = check_species_list(species)
    known = set(DimeNetNetwork.__dataclass_fields__) - {"species", "variant", "cutoff", "param_dtype", "parent", "name"}
    unknown = sorted(set(hyper) - known)
    if unknown:
        raise ValueError(f"unknown DimeNet hyper-parameter(s) {unknown}; known: {sorted(known)}")
    for k, v in hyper.items():
        if k == "triplet_chunk" and v in (None, "auto"):
            continue
        if k != "rbf_edge":
            check_integer(k, v, minimum=0 if k.startswith("num_before") or k.startswith("num_after") else 1)
    if hyper.get("rbf_edge", "kj") not in ("kj", "ji"):
        raise ValueError(f"rbf_edge must be 'kj' or 'ji', got {hyper['rbf_edge']!r}")
    network = DimeNetNetwork(
        species=species, variant=variant, cutoff=float(cutoff), param_dtype=param_dtype,
        **{**_NETWORK_DEFAULTS[variant], **hyper},
    )

    def init(key, graph, triplets=None):
        """The network parameters for this graph's shapes."""
        return network.init(key, graph, triplets)["params"]

    def atomic_energy(params, graph, triplets=None):
        """``[n_node]`` eV; ValueError for elements not in species."""
        check_species(graph.nodes["atomic_numbers"], species)
        return network.apply({"params": params}, graph, triplets)

    return atomic_model(init, atomic_energy, float(cutoff), needs_triplets=True, species=species)


def dimenet(species: Sequence[int], **kwargs) -> GraphModel:
    """DimeNet (bilinear interaction; emb 128, 6 blocks, 8 bilinear, 6 radial, 7 spherical, r_c 5 Å,
    p = 6) as a ``GraphModel``. Keywords as :func:`dimenet_model`."""
    return dimenet_model(species, variant="dimenet", **kwargs)


def dimenet_pp(species: Sequence[int], **kwargs) -> GraphModel:
    """DimeNet++ (emb 128, out-emb 256, int-emb 64, basis-emb 8, 4 blocks, 6 radial, 7 spherical,
    r_c 5 Å, p = 6) as a ``GraphModel``. Keywords as :func:`dimenet_model`."""
    return dimenet_model(species, variant="dimenet++", **kwargs)


#: Model kinds for model files (:mod:`hybridpot.potentials.registry` finds this dict).
MODEL_KINDS = {"dimenet": dimenet, "dimenet++": dimenet_pp}
