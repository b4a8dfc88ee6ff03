"""Training protocols of the diatomic study: the paper's, and an improved one of our design.

"paper" follows El Haloui, Thome & Sisourat (2025) as documented in
``shared/papers/elhaloui2025-code-notes.md``: appendix tables where they exist (the code differs
for a few APHYNITY step counts: ground state 10 % and 20 % use 400k there, EF 35 % 600k and
40 % 1.4M), Adam with constant learning rate, float32, ReLU, raw r (Å) into the network, Morse
initialised at (D_e, a, r_e, v) = (4, 3, 0.7, 0). The pure network's code is not published:
it uses appendix table 3 (lr 1e-5 / 9e-6); PhysiNet uses its code's lr 9e-6 for 1.4M steps.
The adaptive APHYNITY variant is not in the paper; it uses the APHYNITY learning rates and steps.

"improved" (ours): float64; network input standardised on the training points and output
scaled by the targets' standard deviation; tanh; losses divided by the target variance;
Morse initialised from the data (minimum, asymptote, curvature); Adam with a warm-up + cosine
schedule, then an L-BFGS polish. Its budget is ~50× smaller than the paper's.

``quick`` divides every Adam step count by ``QUICK_FACTOR`` (at least ``QUICK_MIN_STEPS``) and
drops the L-BFGS polish, so the whole grid runs on a 2-core CPU in about a minute; its numbers
are for smoke-testing, not for results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MODELS = ("morse", "nn", "aphynity", "aphynity_adaptive", "sequential", "physinet")
STATES = ("X", "EF")
FRACTIONS_PERCENT = (5, 10, 15, 20, 25, 30, 35, 40)
PROTOCOLS = ("paper", "improved")
QUICK_FACTOR = 100
QUICK_MIN_STEPS = 2000

_N = len(FRACTIONS_PERCENT)
_k = 1000


@dataclass(frozen=True)
class Stage:
    """One optimisation stage, with per-fraction settings (tuples of length 8).

    Attributes:
        learning_rate: peak Adam learning rate per fraction.
        steps: Adam steps per fraction.
        penalty: APHYNITY λ per fraction (fixed-penalty variant), else None.
        lbfgs_steps: L-BFGS polish iterations after Adam (0: none).
        schedule: "constant" or "cosine" (linear warm-up over 2 % of steps, cosine decay to 1 %).
    """

    learning_rate: tuple[float, ...]
    steps: tuple[int, ...]
    penalty: tuple[float, ...] | None = None
    lbfgs_steps: int = 0
    schedule: str = "constant"


@dataclass(frozen=True)
class Protocol:
    """Everything that defines how one study's models are trained, for one state.

    Attributes:
        name: "paper" or "improved".
        float64: train in float64 (else float32).
        activation: "relu" or "tanh".
        scaled: standardise network input / output and divide losses by the target variance.
        network_input: the network's input feature, "r" (Å) or "log_r" (ln of r in Å), then
            standardised when ``scaled``.
        morse_init: "paper" (4, 3, 0.7, 0) or "data" (from the training points).
        adaptive_multiplier: (λ₀, τ) of adaptive APHYNITY (on variance-scaled losses).
        stages: per model, its stages ("sequential" has two: physics, then network).
    """

    name: str
    float64: bool
    activation: str
    scaled: bool
    network_input: str
    morse_init: str
    adaptive_multiplier: tuple[float, float]
    stages: dict[str, tuple[Stage, ...]]

    def max_steps(self, model: str) -> int:
        """Longest Adam run over fractions, summed over the model's stages."""
        return sum(max(s.steps) for s in self.stages[model])

    def only(self, model: str, fraction: int | None = None) -> "Protocol":
        """This protocol reduced to ``model`` and, if given, to the training fraction with index
        ``fraction`` (the stages' per-fraction tables then have length 1)."""
        stages = self.stages[model]
        if fraction is not None:
            stages = tuple(
                replace(
                    s,
                    learning_rate=(s.learning_rate[fraction],),
                    steps=(s.steps[fraction],),
                    penalty=None if s.penalty is None else (s.penalty[fraction],),
                )
                for s in stages
            )
        return replace(self, stages={model: stages})


def _per(values) -> tuple:
    values = tuple(values)
    assert len(values) == _N
    return values


def _same(value) -> tuple:
    return (value,) * _N


def _paper(state: str) -> Protocol:
    morse = Stage(_same(0.01), _same(100 * _k))
    if state == "X":
        aphynity = Stage(
            _per([0.0015, 0.00098, 0.001, 0.00098, 0.0007, 0.0007, 0.0007, 0.0007]),
            _per([500 * _k] * 4 + [1200 * _k] * 3 + [1400 * _k]),
            penalty=_per([2, 6, 6, 6, 3, 3, 3, 4]),
        )
    else:
        aphynity = Stage(
            _per([0.001, 0.00098, 0.00098, 0.0009, 0.0006, 0.0006, 0.00062, 0.0007]),
            _per([200 * _k, 200 * _k, 400 * _k, 400 * _k, 700 * _k, 700 * _k, 700 * _k, 900 * _k]),
            penalty=_per([1, 6, 6, 6, 6, 6, 6, 4]),
        )
    sequential_net = Stage(_per([0.001] * 4 + [0.00092] * 4), _per([100 * _k] * 4 + [400 * _k] * 4))
    nn = Stage(_per([1e-5] * 4 + [9e-6] * 4), _per([200 * _k, 200 * _k, 400 * _k, 400 * _k] + [900 * _k] * 4))
    physinet = Stage(_same(9e-6), _same(1400 * _k))
    return Protocol(
        name="paper",
        float64=False,
        activation="relu",
        scaled=False,
        network_input="r",
        morse_init="paper",
        adaptive_multiplier=(1.0, 1e4),
        stages={
            "morse": (morse,),
            "nn": (nn,),
            "aphynity": (aphynity,),
            "aphynity_adaptive": (replace(aphynity, penalty=None),),
            "sequential": (morse, sequential_net),
            "physinet": (physinet,),
        },
    )


def _improved(state: str) -> Protocol:
    penalty = _paper(state).stages["aphynity"][0].penalty
    physics = Stage(_same(0.01), _same(2 * _k), lbfgs_steps=300, schedule="cosine")
    network = Stage(_same(0.003), _same(20 * _k), lbfgs_steps=1000, schedule="cosine")
    return Protocol(
        name="improved",
        float64=True,
        activation="tanh",
        scaled=True,
        network_input="log_r",
        morse_init="data",
        adaptive_multiplier=(1.0, 1e4),
        stages={
            "morse": (physics,),
            "nn": (network,),
            "aphynity": (replace(network, penalty=penalty),),
            "aphynity_adaptive": (network,),
            "sequential": (physics, network),
            "physinet": (network,),
        },
    )


def get_protocol(name: str, state: str, quick: bool = False) -> Protocol:
    """The protocol ``name`` ("paper" | "improved") for ``state`` ("X" | "EF").

    With ``quick``, every Adam step count is divided by ``QUICK_FACTOR`` (at least
    ``QUICK_MIN_STEPS``) and there is no L-BFGS polish: compiling the polish (a zoom line search
    in a while loop, vmapped over every run) costs more than the whole quick training.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {PROTOCOLS}")
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; choose one of {STATES}")
    protocol = _paper(state) if name == "paper" else _improved(state)
    if not quick:
        return protocol

    def shrink(stage: Stage) -> Stage:
        steps = tuple(max(QUICK_MIN_STEPS, s // QUICK_FACTOR) for s in stage.steps)
        return replace(stage, steps=steps, lbfgs_steps=0)

    stages = {m: tuple(shrink(s) for s in ss) for m, ss in protocol.stages.items()}
    return replace(protocol, stages=stages)
