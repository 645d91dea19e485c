"""Deriving a discrete architecture (a genotype) from q(z|D).

q(z|D) puts a RelaxedOneHotCategorical with logits phi_e on every edge e
of every cell type; its underlying categorical, p_e(o) = softmax(phi_e)_o,
is the probability that edge e carries op o. Everything here reads a
genotype off those op probabilities, `probs[cell_type, edge, op]`.

Rules (the paper does not say how BASE read its genotypes; NOTES.md):

* NAS-Bench-201, "argmax": every edge keeps its most probable op, `none`
  included, since the space allows it; this is the mode of q(z|D).
* DARTS, "slots" (the default): node k of a cell has two input slots. Its
  candidates are every (input i < k, op o != none) pair, with weight
  p_{i->k}(o); the two slots hold the two most probable pairs. Unlike
  DARTS's rule, both slots may read the same predecessor with different
  ops, which the published BASE genotypes do (CIFAR_TUNED's normal node 3
  is (max_pool_3x3, 0) and (dil_conv_5x5, 0)), so this rule can produce
  them. It is the mode of the sampling model below.
* DARTS, "darts" (Liu et al., 2019): each incoming edge is scored by its
  best non-`none` op; node k keeps its two best edges (distinct inputs),
  each with that op.

Sampling (for the keras-tuner oracle and for looking at the posterior's
spread): under "slots" a node draws its first (input, op) pair with
probability w / Z, w the pair's weight and Z the node's total non-`none`
weight, then its second among the remaining pairs, w' / (Z - w); under
"argmax" every edge draws its op from p_e. `log_probability` is the
matching log-likelihood of a genotype (a node's two pairs are unordered).
"""

import math

import numpy as np

from base_tf.search_space import SPACES, darts, get_space

# The rules of each registered space, the default first; each space names
# its own (`SearchSpace.derivation_rules`).
RULES = {name: space.derivation_rules for name, space in SPACES.items()}
# The rules with a sampling model (see `sample`).
SAMPLING_RULES = {name: space.sampling_rules for name, space in SPACES.items()}


def default_rule(space):
    """The default rule of `space` (a `SearchSpace` or its name)."""
    return _space(space).derivation_rules[0]


def op_probabilities(logits):
    """p_e(o) = softmax(phi_e)_o, the categorical under q(z|D), as numpy.

    Args:
        logits: phi, `[num_cell_types, num_edges, num_ops]`.

    Returns:
        float64 array of the same shape; each edge's row sums to 1.
    """
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def entropy(probs):
    """The entropy (nats) of each edge's categorical, `probs.shape[:-1]`."""
    probs = np.asarray(probs, np.float64)
    # 0 - x, not -x: a certain choice has entropy 0.0, not -0.0.
    return 0.0 - (probs * np.log(np.where(probs > 0, probs, 1.0))).sum(-1)


def derive(space, probs, rule=None):
    """The genotype that `rule` reads off the op probabilities.

    Args:
        space: a `SearchSpace` or its name.
        probs: `[num_cell_types, num_edges, num_ops]` op probabilities
            (see `op_probabilities`).
        rule: one of `space.derivation_rules`; default
            `default_rule(space)`.

    Returns:
        The space's genotype (`DartsGenotype` or `NasBench201Genotype`).

    Raises:
        ValueError: an unknown rule, or `probs` of the wrong shape.
    """
    space, probs, rule = _check(space, probs, rule)
    if rule == "argmax":
        ops = [space.ops[o] for o in probs[0].argmax(-1)]
        return space.genotype_type.from_edge_ops(ops)
    cells = {}
    for c, cell_type in enumerate(space.cell_types):
        pairs = []
        for node in space.computed_nodes:
            if rule == "slots":
                ranked = _ranked_pairs(space, probs[c], node)
                pairs += [(op, i) for _, i, op in ranked[:2]]
            else:
                pairs += _darts_node(space, probs[c], node)
        cells[cell_type] = pairs
    return _darts_genotype(cells)


def sample(space, probs, rng, rule=None):
    """Draws a genotype from the sampling model of `rule` (module docstring).

    Args:
        space: a `SearchSpace` or its name.
        probs: op probabilities, as for `derive`, or any non-negative op
            weights of that shape (each edge's weights are normalised
            under "argmax", each node's pairs' under "slots").
        rng: a `np.random.Generator`.
        rule: "slots" or "argmax" (the rules with a sampling model);
            default `default_rule(space)`.

    Returns:
        A genotype of the space.
    """
    space, probs, rule = _check(space, probs, rule)
    if rule == "darts":
        raise ValueError(
            'The "darts" rule is deterministic and has no sampling model; '
            'sample with rule="slots".'
        )
    if rule == "argmax":
        ops = [
            space.ops[rng.choice(space.num_ops, p=p / p.sum())]
            for p in probs[0]
        ]
        return space.genotype_type.from_edge_ops(ops)
    cells = {}
    for c, cell_type in enumerate(space.cell_types):
        pairs = []
        for node in space.computed_nodes:
            ranked = _ranked_pairs(space, probs[c], node)
            weights = np.array([w for w, _, _ in ranked])
            first = rng.choice(len(ranked), p=weights / weights.sum())
            weights[first] = 0.0
            second = rng.choice(len(ranked), p=weights / weights.sum())
            for k in (first, second):
                _, i, op = ranked[k]
                pairs.append((op, i))
        cells[cell_type] = pairs
    return _darts_genotype(cells)


def log_probability(space, probs, genotype, rule=None):
    """log P(genotype) under the sampling model of `rule`.

    Returns -inf for a genotype the model cannot produce (e.g. a DARTS node
    with the same (input, op) pair twice, or concat other than all nodes).
    """
    space, probs, rule = _check(space, probs, rule)
    if not isinstance(genotype, space.genotype_type):
        raise ValueError(
            f"A {type(genotype).__name__} is not a genotype of the "
            f"{space.name} space."
        )
    if rule == "argmax":
        chosen = [
            probs[0, e, space.ops.index(op)]
            for e, op in enumerate(genotype.ops_by_edge())
        ]
        return float(np.sum(np.log(chosen))) if min(chosen) > 0 else -math.inf
    if rule == "darts":
        raise ValueError('The "darts" rule has no sampling model.')
    total = 0.0
    for c, cell_type in enumerate(space.cell_types):
        if tuple(genotype.concat(cell_type)) != tuple(space.computed_nodes):
            return -math.inf
        for node, chosen in zip(
            space.computed_nodes, genotype.nodes(cell_type), strict=True
        ):
            ranked = _ranked_pairs(space, probs[c], node)
            weight = {(i, op): w for w, i, op in ranked}
            (op_a, a), (op_b, b) = chosen
            if (a, op_a) == (b, op_b) or not {(a, op_a), (b, op_b)} <= set(
                weight
            ):
                return -math.inf
            w_a, w_b = weight[(a, op_a)], weight[(b, op_b)]
            z = sum(weight.values())
            both_orders = w_a * w_b / z * (1 / (z - w_a) + 1 / (z - w_b))
            total += math.log(both_orders) if both_orders > 0 else -math.inf
    return total


def choices_table(space, probs):
    """A text table of every choice's op probabilities and entropy.

    One row per (cell type, edge): the probability of each op (in the
    space's op order), the entropy in nats, and the entropy relative to
    the uniform categorical's log(num_ops) (0: certain, 1: no preference).
    """
    space, probs, _ = _check(space, probs, None)
    ent = entropy(probs)
    width = max(len(op) for op in space.ops) + 1
    header = f"{'cell':<8}{'edge':<7}" + "".join(
        f"{op:>{width}}" for op in space.ops
    )
    header += f"{'entropy':>9}{'relative':>9}"
    lines = [header]
    for c, cell_type in enumerate(space.cell_types):
        for e, (i, k) in enumerate(space.edges):
            row = f"{cell_type:<8}{f'{i}->{k}':<7}" + "".join(
                f"{p:>{width}.3f}" for p in probs[c, e]
            )
            row += (
                f"{ent[c, e]:>9.3f}{ent[c, e] / math.log(space.num_ops):>9.3f}"
            )
            lines.append(row)
    return "\n".join(lines)


def _space(space):
    return get_space(space) if isinstance(space, str) else space


def _check(space, probs, rule):
    space = _space(space)
    rules = space.derivation_rules
    rule = rules[0] if rule is None else rule
    if rule not in rules:
        raise ValueError(
            f"Unknown derivation rule {rule!r} for the {space.name} space; "
            f"choose one of {', '.join(rules)}."
        )
    probs = np.asarray(probs, np.float64)
    wanted = (len(space.cell_types), space.num_edges, space.num_ops)
    if probs.shape != wanted:
        raise ValueError(
            f"Op probabilities of the {space.name} space have shape {wanted} "
            f"(cell types, edges, ops); got {probs.shape}."
        )
    return space, probs, rule


def _ranked_pairs(space, cell_probs, node):
    """(weight, input, op) of node's non-`none` pairs, most probable first.

    Ties keep the space's edge and op order, so derivation is deterministic.
    """
    pairs = [
        (cell_probs[e, o], space.edges[e][0], op)
        for e in space.edges_into(node)
        for o, op in enumerate(space.ops)
        if op != "none"
    ]
    order = sorted(range(len(pairs)), key=lambda k: -pairs[k][0])
    return [pairs[k] for k in order]


def _darts_node(space, cell_probs, node):
    best = []
    for e in space.edges_into(node):
        scores = [
            (cell_probs[e, o], op)
            for o, op in enumerate(space.ops)
            if op != "none"
        ]
        weight, op = max(scores, key=lambda s: s[0])
        best.append((weight, space.edges[e][0], op))
    best.sort(key=lambda b: -b[0])
    return [(op, i) for _, i, op in best[:2]]


def _darts_genotype(cells):
    return darts.DartsGenotype(
        normal=cells["normal"],
        normal_concat=darts.DEFAULT_CONCAT,
        reduce=cells["reduce"],
        reduce_concat=darts.DEFAULT_CONCAT,
    )
