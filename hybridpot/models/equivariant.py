r"""Equivariant message passing on e3nn-jax: NequIP-like and MACE-like models over hybridpot graphs.

Node features :math:`h_i` are irreps arrays (e3nn-jax ``IrrepsArray``): ``channels`` copies of every
irrep :math:`l^p` with :math:`l \le` ``lmax`` and the parity :math:`p = (-1)^l` of a polar tensor
(``32x0e + 32x1o + 32x2e`` for channels 32, lmax 2). An interaction t builds, for every edge
j → i, the equivariant convolution of NequIP (Batzner et al. 2022, eq. 3) and MACE (Batatia et al.
2022, eq. 8),

.. math::
    A_i = \frac{1}{\bar n} \sum_{j \in N(i)} R\big(e(r_{ji})\big) \odot
        \big[\, h_j \;\oplus\; h_j \otimes Y(\hat r_{ji}) \,\big],

with :math:`Y` the spherical harmonics up to ``sh_lmax`` (e3nn-jax, component normalisation),
:math:`\otimes` e3nn-jax's ``tensor_product`` (each path of each channel weighted separately),
:math:`e(r) = e_\text{Bessel}(r)\, u_p(r / r_c)` the radial Bessel basis times the polynomial
envelope of :mod:`hybridpot.basis` (the same as DimeNet's), :math:`R` a SiLU MLP without biases
(so a pair at the cutoff contributes exactly 0 with zero derivative) giving one weight per
channel and path, and :math:`\bar n` the average number of neighbours (``avg_num_neighbors``,
fixed at construction: :func:`average_neighbour_count` of the training graphs).

The update is where the two families differ (``correlation``, the body order minus one):

* ``correlation = 1`` (NequIP): :math:`h_i \leftarrow \mathrm{Gate}\big(W A_i + W_{Z_i} h_i\big)`, an
  equivariant linear map of the message plus an element-dependent self-interaction, through
  e3nn-jax's gate (SiLU on even scalars, tanh on odd ones, sigmoid gates on the rest). The energy
  is read from the scalars of the last layer.
* ``correlation = ν ≥ 2`` (MACE): a product basis of body order ν + 1 per channel k,
  :math:`B^{(1)}_{ik} = A_{ik},\ B^{(n)}_{ik} = B^{(n-1)}_{ik} \otimes A_{ik}` (e3nn-jax tensor
  products over the irreps of one channel, filtered to ``lmax``), contracted by an
  element-dependent linear map (``e3nn_jax.flax.Linear`` with indexed weights):
  :math:`m_i = \sum_n W^{(n)}_{Z_i} B^{(n)}_i`. This spans the same functions as MACE's symmetric
  contraction (which keeps only the symmetric part of the product and so has fewer, not
  different, features). Then :math:`h_i \leftarrow W m_i + W_{Z_i} h_i` (MACE eq. 11, no gate).
  Every layer has a readout: linear on the scalars for all but the last, a one-hidden-layer SiLU
  MLP on the last (MACE eq. 12).

The atomic energy is the sum of the readouts, the structure energy the sum over atoms. Per-element
shifts and scales are not here: the assembled potential (:mod:`hybridpot.potentials`) applies them
to every model alike. The initial features are an equivariant linear map of the one-hot element.

No Clebsch–Gordan coefficient is written here: every coupling is e3nn-jax's. Padding edges get
zero radial weights (their direction is replaced by a fixed unit vector before the spherical
harmonics, so their gradient is exactly 0), padding nodes and graphs get exactly 0.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Sequence

import e3nn_jax as e3nn
import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from hybridpot._checks import check_integer, check_positive
from hybridpot.basis import polynomial_envelope, radial_bessel_basis
from hybridpot.elements import check_species, check_species_list, species_index_table
from hybridpot.graph import edge_mask, node_mask
from hybridpot.graph.geometry import edge_vectors, safe_norm
from hybridpot.models.chunking import auto_chunk, chunked_sum, map_chunks
from hybridpot.potential import GraphModel, atomic_model


def polar_irreps(channels: int, lmax: int) -> e3nn.Irreps:
    """``channels`` copies of 0e, 1o, 2e, … up to ``lmax``: the irreps of polar tensors (hidden features)."""
    return e3nn.Irreps([(channels, (l, (-1) ** l)) for l in range(lmax + 1)])


def average_neighbour_count(graphs: Sequence[jraph.GraphsTuple]) -> float:
    """Mean number of neighbours per real atom over ``graphs`` (directed edges / atoms): the n̄ of
    the message normalisation. Padding nodes and edges are not counted. Host-side."""
    n_edge = sum(int(np.sum(np.asarray(edge_mask(g)))) for g in graphs)
    n_node = sum(int(np.sum(np.asarray(node_mask(g)))) for g in graphs)
    if n_node == 0:
        raise ValueError("average_neighbour_count needs at least one real atom")
    return n_edge / n_node


class Interaction(nn.Module):
    r"""The convolution :math:`A_i` of the module docstring for one layer.

    ``__call__(h [n_node, irreps], edge_basis, vectors [n_edge, 3], real [n_edge], senders, receivers)``,
    with ``edge_basis(vectors, real) -> (Y [n_edge, sh irreps], e [n_edge, N])`` (:func:`edge_basis`),
    returns ``A: [n_node, channels × (0e + … + lmax)]`` (an ``IrrepsArray``, one multiplicity
    ``channels`` for every irrep).

    ``edge_chunk``: the messages of this many edges at a time (``lax.scan``, each chunk
    rematerialised in the backward pass), so memory holds one chunk of per-edge intermediates;
    None: all at once; ``"auto"``: chunked only above :data:`~hybridpot.models.chunking.MEMORY_BUDGET`. The result
    does not depend on it, nor do the parameters (same names and shapes).
    """

    channels: int
    lmax: int
    radial_hidden: tuple[int, ...]
    avg_num_neighbors: float
    edge_chunk: int | str | None = "auto"

    @nn.compact
    def __call__(self, h, edge_basis, vectors, real, senders, receivers):
        target = polar_irreps(1, self.lmax)

        def message_irreps(h_j, sh_e):
            return e3nn.concatenate(
                [h_j.filter(keep=target), e3nn.tensor_product(h_j, sh_e, filter_ir_out=target)]
            ).regroup()

        n_edge = vectors.shape[0]
        # the messages' irreps, from one stand-in edge (a graph may have none)
        sh_probe, radial_probe = jax.eval_shape(edge_basis, vectors[:1], real[:1])
        probe = jax.eval_shape(lambda: message_irreps(e3nn.zeros(h.irreps, (1,), h.dtype),
                                                      e3nn.zeros(sh_probe.irreps, (1,), h.dtype)))
        mlp = e3nn.flax.MultiLayerPerceptron(
            self.radial_hidden + (probe.irreps.num_irreps,), act=jax.nn.silu, output_activation=False
        )
        out_irreps = polar_irreps(self.channels, self.lmax)
        linear = e3nn.flax.Linear(out_irreps, force_irreps_out=True)
        chunk = self.edge_chunk
        if chunk == "auto":
            # messages, their weights and product, the gathered h_j, the MLP's activations and
            # the linear map's output, each with its cotangent
            widths = (3 * probe.irreps.dim + h.irreps.dim + 2 * sum(self.radial_hidden)
                      + out_irreps.dim + 2 * (sh_probe.shape[-1] + radial_probe.shape[-1]))
            chunk = auto_chunk(n_edge, 2 * widths * jnp.dtype(h.dtype).itemsize)
        if chunk is None or n_edge <= chunk or self.is_initializing():
            sh, radial = edge_basis(vectors, real)
            messages = message_irreps(h[senders], sh)
            messages = messages * mlp(radial)
            a = e3nn.scatter_sum(messages, dst=receivers, output_size=h.shape[0])
            return linear(a / self.avg_num_neighbors)
        # The parameters as values: a bound Flax module cannot be called inside lax.scan. The
        # (bias-free) linear map is applied to each message before the sum instead of to the sum:
        # the result is the same, but the nodes then hold the narrower mapped features instead of
        # every message component (at 10⁶ atoms 1.4 kB instead of 5.6 kB per atom per layer). The
        # edges' bases are computed in each chunk from the vectors, so no [n_edge, ...] basis
        # array (nor its cotangent) is held.
        mlp_params, linear_params = mlp.variables["params"], linear.variables["params"]
        free_mlp, free_linear = mlp.clone(parent=None, name=None), linear.clone(parent=None, name=None)

        def chunk_sum(idx_s, idx_r, vectors_c, real_c, valid):
            sh_c, radial_c = edge_basis(vectors_c, real_c)
            m = message_irreps(h[idx_s], sh_c)
            m = free_linear.apply({"params": linear_params}, m * free_mlp.apply({"params": mlp_params}, radial_c))
            return e3nn.scatter_sum(m * valid[:, None], dst=idx_r, output_size=h.shape[0]).array

        # zero (repeated) edges are not real, so their radial features are 0, which zeroes their
        # messages only while the radial MLP has no biases; the mask does not rely on that
        valid = jnp.ones(n_edge, h.dtype)
        total = chunked_sum(chunk_sum, (senders, receivers, vectors, real, valid), chunk)
        return e3nn.IrrepsArray(out_irreps, total) / self.avg_num_neighbors


class ProductBasis(nn.Module):
    r"""MACE's higher-body-order update :math:`m_i = \sum_{n \le ν} W^{(n)}_{Z_i} B^{(n)}_i` (module docstring).

    ``__call__(a [n_node, channels × irreps], one_hot [n_node, n_species])`` →
    ``[n_node, channels × irreps_out]``.
    """

    channels: int
    lmax: int
    correlation: int
    irreps_out: Any

    @nn.compact
    def __call__(self, a, one_hot):
        basis = product_basis(a, self.channels, self.lmax, self.correlation, self.irreps_out)
        return e3nn.flax.Linear(self.irreps_out, force_irreps_out=True)(one_hot, basis)


def product_basis(a, channels: int, lmax: int, correlation: int, irreps_out) -> e3nn.IrrepsArray:
    r"""The products :math:`B^{(1)}, …, B^{(ν)}` of :class:`ProductBasis`, concatenated:
    ``a [n_node, channels × (0e + … + lmax)]`` → ``[n_node, channels × irreps of the products]``;
    the last product keeps only the irreps of ``irreps_out``. No parameters."""
    keep = polar_irreps(1, lmax)
    per_channel = a.mul_to_axis(channels)  # [n_node, channels, 0e + 1o + …]
    wanted = [ir for _, ir in e3nn.Irreps(irreps_out)]
    products, b = [per_channel], per_channel
    for n in range(2, correlation + 1):
        # the last product feeds only the output map: keep just the irreps it produces
        b = e3nn.tensor_product(b, per_channel, filter_ir_out=wanted if n == correlation else keep)
        products.append(b)
    return e3nn.concatenate(products, axis=-1).regroup().axis_to_mul()


def edge_basis(vectors, real, *, cutoff: float, num_radial: int, envelope_p: int, sh_lmax: int):
    """The edges' spherical harmonics and enveloped radial basis, the inputs of the messages.

    Args:
        vectors: ``[n_edge, 3]`` edge vectors r_j − r_i, Å. real: ``[n_edge]`` bool (or 0/1), False
            on padding edges. cutoff: r_c, Å. num_radial: Bessel functions. envelope_p: p of the
            polynomial envelope. sh_lmax: largest l of the harmonics.

    Returns:
        ``Y``: ``IrrepsArray [n_edge, (sh_lmax + 1)²]`` (component normalisation) and
        ``e: [n_edge, num_radial]``, the radial Bessel basis times the envelope, 0 on padding edges.
    """
    real = real.astype(bool)
    r = safe_norm(vectors)
    env = jnp.where(real, polynomial_envelope(r, cutoff, envelope_p), 0.0)
    radial = radial_bessel_basis(r, cutoff, num_radial) * env[:, None]
    # a padding edge has length 0: give it a fixed direction so Y and its gradient are finite
    # (its radial weights are 0, so it adds exactly nothing)
    unit = jnp.where(real[:, None], vectors, jnp.asarray([0.0, 0.0, 1.0], vectors.dtype))
    sh = e3nn.spherical_harmonics(e3nn.Irreps.spherical_harmonics(sh_lmax), unit, normalize=True,
                                  normalization="component")
    return sh, radial


class EquivariantNetwork(nn.Module):
    """The learned energy of the NequIP-like (``correlation=1``) or MACE-like model: graph → ``[n_node]``.

    Attributes:
        species: atomic numbers with a one-hot entry each.
        cutoff: r_c of the radial basis and envelope, Å (graphs must be built with it).
        channels: multiplicity of every hidden irrep.
        lmax: highest l of the hidden features (≤ 3 by default in the constructors).
        sh_lmax: highest l of the edge spherical harmonics (default ``lmax``).
        num_interactions: message-passing layers.
        correlation: ν, body order ν + 1 of each update (1: NequIP-like, ≥ 2: MACE-like).
        num_radial: Bessel functions of the radial basis. envelope_p: p of the polynomial envelope.
        radial_hidden: widths of the hidden layers of the radial MLP.
        readout_hidden: width of the last readout's hidden layer (MACE: 16).
        avg_num_neighbors: n̄ of the message normalisation.
        edge_chunk: messages this many edges at a time (see :class:`Interaction`).
        node_chunk: each layer's node update (product basis, linear maps, readout) this many
            nodes at a time (:func:`~hybridpot.models.chunking.map_chunks`); None: all at once; ``"auto"``: chunked only
            when its per-node intermediates would exceed :data:`~hybridpot.models.chunking.MEMORY_BUDGET`. The result does
            not depend on it, nor do the parameters.

    ``__call__(graph)`` → ``[n_node]`` atomic outputs (model units, before the potential's shift
    and scale; padding atoms 0), whose graph sum is the energy; ``return_features=True`` gives
    ``(atomic, [h_1, …, h_T])`` with the node features of every
    layer (``IrrepsArray`` ``[n_node, irreps]``), for equivariance tests.
    """

    species: tuple[int, ...]
    cutoff: float = 5.0
    channels: int = 32
    lmax: int = 2
    sh_lmax: int | None = None
    num_interactions: int = 2
    correlation: int = 3
    num_radial: int = 8
    envelope_p: int = 6
    radial_hidden: tuple[int, ...] = (64, 64, 64)
    readout_hidden: int = 16
    avg_num_neighbors: float = 1.0
    edge_chunk: int | str | None = "auto"
    node_chunk: int | str | None = "auto"

    @nn.compact
    def __call__(self, graph: jraph.GraphsTuple, return_features: bool = False):
        z = graph.nodes["atomic_numbers"]
        n_node = z.shape[0]
        dtype = graph.nodes["positions"].dtype
        index = jnp.maximum(jnp.asarray(species_index_table(self.species))[z], 0)
        one_hot = jax.nn.one_hot(index, len(self.species), dtype=dtype)

        basis = functools.partial(edge_basis, cutoff=self.cutoff, num_radial=self.num_radial,
                                  envelope_p=self.envelope_p,
                                  sh_lmax=self.sh_lmax if self.sh_lmax is not None else self.lmax)
        vectors, real_edge = edge_vectors(graph), edge_mask(graph)

        hidden = polar_irreps(self.channels, self.lmax)
        h = e3nn.flax.Linear(f"{self.channels}x0e", name="embedding")(e3nn.IrrepsArray(f"{len(self.species)}x0e", one_hot))
        features, atomic = [], jnp.zeros((n_node,), dtype)
        for t in range(self.num_interactions):
            last = t == self.num_interactions - 1
            a = Interaction(self.channels, self.lmax, tuple(self.radial_hidden), float(self.avg_num_neighbors),
                            self.edge_chunk, name=f"interaction_{t}")(h, basis, vectors, real_edge, graph.senders,
                                                                    graph.receivers)
            layer = self._update_modules(t, last)
            chunk = None if self.is_initializing() else self._node_chunk(layer, a, h)
            if chunk is None or n_node <= chunk:
                h, out = _update_nodes(layer, self.correlation, hidden, (a, one_hot, h))
            else:
                # the modules' parameters as values: a bound Flax module cannot be called inside lax.scan
                params = {k: m.variables["params"] for k, m in layer.items()}
                free = {k: m.clone(parent=None, name=None) for k, m in layer.items()}
                pure = {k: functools.partial(free[k].apply, {"params": params[k]}) for k in free}
                h, out = map_chunks(functools.partial(_update_nodes, pure, self.correlation, hidden),
                                         (a, one_hot, h), chunk)
            features.append(h)
            atomic = atomic + out
        atomic = jnp.where(node_mask(graph), atomic, 0.0)
        return (atomic, features) if return_features else atomic

    def _update_modules(self, t: int, last: bool) -> dict:
        """Layer t's node-update modules (bound, not yet called), by role."""
        out_irreps = polar_irreps(self.channels, 0 if last else self.lmax)
        if self.correlation == 1:
            n_gated = out_irreps.num_irreps - self.channels
            out_irreps = e3nn.Irreps(f"{self.channels + n_gated}x0e") + out_irreps.filter(drop="0e")
            layer = {"update": e3nn.flax.Linear(out_irreps, force_irreps_out=True, name=f"update_{t}")}
        else:
            layer = {"product": ProductBasis(self.channels, self.lmax, self.correlation, out_irreps, name=f"product_{t}"),
                     "update": e3nn.flax.Linear(out_irreps, force_irreps_out=True, name=f"update_{t}")}
        layer["self"] = e3nn.flax.Linear(out_irreps, force_irreps_out=True, name=f"self_{t}")
        if last:
            layer["readout_hidden"] = e3nn.flax.Linear(f"{self.readout_hidden}x0e", name=f"readout_{t}_hidden")
        if last or self.correlation > 1:
            layer["readout"] = e3nn.flax.Linear("0e", name=f"readout_{t}")
        return layer

    def _node_chunk(self, layer: dict, a, h) -> int | None:
        """Nodes per chunk of a layer's update from ``node_chunk`` (``"auto"``: from the memory budget)."""
        if self.node_chunk != "auto":
            return self.node_chunk
        # the element-dependent linear maps hold their weights per node (one_hot @ W), the
        # product basis its features, both with cotangents
        n_species = len(self.species)
        weights = sum(x.size for k in ("product", "self") if k in layer
                      for x in jax.tree.leaves(layer[k].variables["params"])) // n_species
        basis = 0
        if "product" in layer:
            basis = jax.eval_shape(lambda: product_basis(e3nn.zeros(a.irreps, (1,), a.dtype), self.channels, self.lmax,
                                                         self.correlation, layer["product"].irreps_out)).shape[-1]
        widths = weights + basis + a.irreps.dim + 2 * h.irreps.dim
        return auto_chunk(a.shape[0], 2 * widths * a.dtype.itemsize)


def _update_nodes(layer: dict, correlation: int, hidden, nodes):
    """One layer's update of every node: ``nodes = (a, one_hot, h)`` → ``(h_new, readout [n_node])``
    (readout 0 on layers without one). ``layer``: role → callable (bound modules or their pure
    applications); each node is computed independently of the others."""
    a, one_hot, h = nodes
    if correlation == 1:
        x = layer["update"](a) + layer["self"](one_hot, h)
        h = e3nn.gate(x, even_act=jax.nn.silu, odd_act=jnp.tanh, even_gate_act=jax.nn.sigmoid)
    else:
        h = layer["update"](layer["product"](a, one_hot)) + layer["self"](one_hot, h.filter(keep=hidden))
    scalars = h.filter(keep="0e")
    if "readout_hidden" in layer:
        out = layer["readout"](e3nn.scalar_activation(layer["readout_hidden"](scalars), [jax.nn.silu])).array[:, 0]
    elif "readout" in layer:
        out = layer["readout"](scalars).array[:, 0]
    else:
        out = jnp.zeros(h.shape[:1], h.dtype)
    return h, out


# ----------------------------------------------------------------------------- GraphModel
def equivariant_model(
    species: Sequence[int],
    *,
    correlation: int = 3,
    cutoff: float = 5.0,
    channels: int = 32,
    lmax: int = 2,
    sh_lmax: int | None = None,
    num_interactions: int = 2,
    num_radial: int = 8,
    envelope_p: int = 6,
    radial_hidden: Sequence[int] = (64, 64, 64),
    readout_hidden: int = 16,
    avg_num_neighbors: float = 1.0,
    edge_chunk: int | str | None = "auto",
    node_chunk: int | str | None = "auto",
    param_dtype=jnp.float32,
) -> GraphModel:
    r"""An equivariant message-passing network (NequIP-like or MACE-like) as a :class:`~hybridpot.potential.GraphModel`.

    ``energy(params, graph, triplets=None) -> [n_graph]`` eV, the network's sum of atomic outputs
    (the assembled potential adds the per-element shift and scale). It reads no triplets. Any
    hybrid strategy composes with it, e.g. the ZBL prior ``additive(zbl_term(species=...), model)``.

    Args:
        species: atomic numbers the model knows; others raise ``ValueError`` naming them.
        correlation: ν (body order ν + 1 per layer): 1 is NequIP's gated update, ≥ 2 MACE's
            product basis (MACE: 3).
        cutoff: graph and basis cutoff r_c, Å.
        channels: multiplicity of every hidden irrep (MACE's ``num_channels``).
        lmax: highest l of the hidden features (0e, 1o, 2e, 3o, …); 0–3 keep e3nn-jax's fast
            spherical-harmonics path.
        sh_lmax: highest l of the edge spherical harmonics (default ``lmax``).
        num_interactions: message-passing layers (MACE 2, NequIP 4–5).
        num_radial: Bessel functions of the radial basis; envelope_p: p of the envelope u_p.
        radial_hidden: hidden widths of the radial MLP.
        readout_hidden: hidden width of the last readout.
        avg_num_neighbors: n̄, neighbours per atom in typical structures
            (:func:`average_neighbour_count` of the training graphs); messages are divided by it.
        edge_chunk: compute the messages this many edges at a time (memory of large cells; the
            energy and the parameters are the same); None: all at once; ``"auto"``: chunks only
            when all at once would exceed :data:`~hybridpot.models.chunking.MEMORY_BUDGET` bytes.
        node_chunk: compute each layer's node update (MACE: the product basis with its
            element-dependent weights, which dominate the memory of large cells) this many nodes
            at a time, with the same semantics as ``edge_chunk``.
        param_dtype: dtype of the parameters (float32 or float64).

    Returns:
        ``GraphModel(init, energy, cutoff, needs_triplets=False, species)``.
    """
    species = check_species_list(species)
    check_positive("cutoff", cutoff)
    check_positive("avg_num_neighbors", avg_num_neighbors)
    check_integer("correlation", correlation, minimum=1)
    for name, value in (("channels", channels), ("num_interactions", num_interactions), ("num_radial", num_radial),
                        ("envelope_p", envelope_p), ("readout_hidden", readout_hidden)):
        check_integer(name, value, minimum=1)
    check_integer("lmax", lmax, minimum=0)
    if sh_lmax is not None:
        check_integer("sh_lmax", sh_lmax, minimum=1)
    radial_hidden = tuple(radial_hidden)
    for width in radial_hidden:
        check_integer("radial_hidden width", width, minimum=1)
    if jnp.dtype(param_dtype) not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"param_dtype must be float32 or float64, got {param_dtype}")
    if edge_chunk not in (None, "auto"):
        check_integer("edge_chunk", edge_chunk, minimum=1)
    if node_chunk not in (None, "auto"):
        check_integer("node_chunk", node_chunk, minimum=1)
    network = EquivariantNetwork(
        species=species, cutoff=float(cutoff), channels=channels, lmax=lmax, sh_lmax=sh_lmax,
        num_interactions=num_interactions, correlation=correlation, num_radial=num_radial, envelope_p=envelope_p,
        radial_hidden=radial_hidden, readout_hidden=readout_hidden, avg_num_neighbors=float(avg_num_neighbors),
        edge_chunk=edge_chunk, node_chunk=node_chunk,
    )

    @jax.jit
    def _init(key, graph):
        # jitted: e3nn-jax's many small operations take far longer eagerly than compiled
        return jax.tree.map(lambda x: x.astype(param_dtype), network.init(key, graph)["params"])

    def init(key, graph, triplets=None):
        """The network parameters (in ``param_dtype``) for this graph's shapes."""
        return _init(key, graph)

    def atomic_energy(params, graph, triplets=None):
        """``[n_node]`` eV; ValueError for elements not in species."""
        check_species(graph.nodes["atomic_numbers"], species)
        return network.apply({"params": params}, graph)

    return atomic_model(init, atomic_energy, float(cutoff), species=species)


def _check_keywords(kind: str, kwargs: dict, exclude: tuple[str, ...] = ()) -> None:
    known = set(inspect.signature(equivariant_model).parameters) - {"species", *exclude}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(f"unknown {kind} argument(s) {unknown}; known: {sorted(known)}")


def nequip(species: Sequence[int], **kwargs) -> GraphModel:
    """The NequIP-like model (``correlation=1``, gated updates; defaults: 32 channels, lmax 2, 4
    interactions, r_c 5 Å) as a ``GraphModel``. Keywords as :func:`equivariant_model` (but
    ``correlation``, which is 1)."""
    _check_keywords("nequip", kwargs, exclude=("correlation",))
    return equivariant_model(species, **{"num_interactions": 4, **kwargs, "correlation": 1})


def mace(species: Sequence[int], **kwargs) -> GraphModel:
    """The MACE-like model (``correlation=3``, body order 4; defaults: 32 channels, lmax 2, 2
    interactions, r_c 5 Å) as a ``GraphModel``. Keywords as :func:`equivariant_model`."""
    _check_keywords("mace", kwargs)
    return equivariant_model(species, **{"correlation": 3, **kwargs})


def _equivariant_signature(fn, exclude: tuple[str, ...] = ()):
    """Give ``fn`` the keyword signature of :func:`equivariant_model` (less ``exclude``), so the
    registry and the train file see (and check) every argument."""
    sig = inspect.signature(equivariant_model)
    fn.__signature__ = sig.replace(parameters=[p for name, p in sig.parameters.items() if name not in exclude])
    return fn


_equivariant_signature(nequip, exclude=("correlation",))
_equivariant_signature(mace)

#: Model kinds for model files (:mod:`hybridpot.potentials.registry` finds this dict).
MODEL_KINDS = {"nequip": nequip, "mace": mace}
