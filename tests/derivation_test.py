"""Reading genotypes off op probabilities: the rules, sampling, log-probs."""

import collections
import math

import numpy as np
from absl.testing import absltest, parameterized

from base_tf import derivation
from base_tf.search_space import (
    CIFAR_TUNED,
    DARTS_V2,
    IMAGENET_TUNED,
    NasBench201Genotype,
    get_space,
)

DARTS = get_space("darts")
NB201 = get_space("nas_bench_201")
ARCH = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|"
    "+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
)


def favouring(genotype, space=DARTS, rng=None):
    """Op probabilities whose slots-rule genotype should be `genotype`.

    Every edge gets a small random spread; the genotype's (input, op) pairs
    get large weights, the first pair of a node the largest.
    """
    rng = rng or np.random.default_rng(0)
    logits = rng.normal(0.0, 0.1, (2, space.num_edges, space.num_ops))
    for c, cell_type in enumerate(space.cell_types):
        for node, pairs in zip(
            space.computed_nodes, genotype.nodes(cell_type), strict=True
        ):
            for rank, (op, source) in enumerate(pairs):
                e = space.edges.index((source, node))
                logits[c, e, space.ops.index(op)] += 4.0 - rank
    return derivation.op_probabilities(logits)


class DerivationTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("cifar_tuned", CIFAR_TUNED),
        ("imagenet_tuned", IMAGENET_TUNED),
        ("darts_v2", DARTS_V2),
    )
    def test_slots_rule_can_give_the_published_genotypes(self, genotype):
        self.assertEqual(
            derivation.derive(DARTS, favouring(genotype)), genotype
        )

    def test_darts_rule_never_reads_one_input_twice(self):
        probs = favouring(CIFAR_TUNED)
        derived = derivation.derive(DARTS, probs, rule="darts")
        self.assertNotEqual(derived, CIFAR_TUNED)
        for cell_type in DARTS.cell_types:
            for (op_a, a), (op_b, b) in derived.nodes(cell_type):
                self.assertNotEqual(a, b)
                self.assertNotIn("none", (op_a, op_b))
        # CIFAR_TUNED's normal node 3 reads node 0 twice; DARTS keeps its
        # best op on 0->3 and the best edge from another input.
        node3 = derived.nodes("normal")[1]
        self.assertEqual(node3[0], ("max_pool_3x3", 0))
        self.assertNotEqual(node3[1][1], 0)

    def test_darts_rule_by_hand(self):
        probs = np.full((2, DARTS.num_edges, DARTS.num_ops), 1 / 8)
        # Node 2: edge 1->2 has its best op at 0.5, edge 0->2 at 0.3.
        probs[0, 0] = [0.0, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2]
        probs[0, 1] = [0.4, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.1]
        derived = derivation.derive(DARTS, probs, rule="darts")
        self.assertEqual(
            derived.nodes("normal")[0],
            (("sep_conv_3x3", 1), ("max_pool_3x3", 0)),
        )

    def test_none_is_never_derived_for_darts(self):
        probs = np.full((2, DARTS.num_edges, DARTS.num_ops), 0.02)
        probs[..., 0] = 1.0 - 0.02 * 7
        for rule in ("slots", "darts"):
            derived = derivation.derive(DARTS, probs, rule)
            ops = {
                op for c in DARTS.cell_types for op, _ in getattr(derived, c)
            }
            self.assertNotIn("none", ops)

    def test_nas_bench_201_argmax_keeps_none(self):
        genotype = NasBench201Genotype.from_string(ARCH)
        probs = np.full((1, 6, 5), 0.1)
        for e, op in enumerate(genotype.ops_by_edge()):
            probs[0, e, NB201.ops.index(op)] = 0.6
        derived = derivation.derive(NB201, probs)
        self.assertEqual(derived, genotype)
        self.assertEqual(str(derived), ARCH)

    def test_log_probability_by_hand(self):
        # One NB201 edge at 0.6, five at 0.2 for the genotype's ops.
        genotype = NasBench201Genotype.from_string(ARCH)
        probs = np.full((1, 6, 5), 0.2)
        for e, op in enumerate(genotype.ops_by_edge()):
            probs[0, e] = 0.1
            probs[0, e, NB201.ops.index(op)] = 0.6
        self.assertAlmostEqual(
            derivation.log_probability(NB201, probs, genotype),
            6 * math.log(0.6),
        )
        # Slots: a node with weights w over its non-none pairs; take one
        # node's pair and check P({a, b}) = wa wb / Z (1/(Z-wa) + 1/(Z-wb)).
        probs = favouring(CIFAR_TUNED)
        total = derivation.log_probability(DARTS, probs, CIFAR_TUNED)
        expected = 0.0
        for c, cell_type in enumerate(DARTS.cell_types):
            for node, pairs in zip(
                DARTS.computed_nodes, CIFAR_TUNED.nodes(cell_type), strict=True
            ):
                edges = DARTS.edges_into(node)
                z = probs[c, list(edges), 1:].sum()
                wa, wb = (
                    probs[c, DARTS.edges.index((i, node)), DARTS.ops.index(op)]
                    for op, i in pairs
                )
                expected += math.log(
                    wa * wb / z * (1 / (z - wa) + 1 / (z - wb))
                )
        self.assertAlmostEqual(total, expected, places=10)

    def test_repeated_pair_is_impossible(self):
        probs = favouring(CIFAR_TUNED)
        twice = CIFAR_TUNED.to_dict()
        twice["normal"][1] = list(twice["normal"][0])
        genotype = type(CIFAR_TUNED).from_dict(twice)
        self.assertEqual(
            derivation.log_probability(DARTS, probs, genotype), -math.inf
        )

    @parameterized.named_parameters(("nas_bench_201", NB201), ("darts", DARTS))
    def test_sampling_matches_log_probability(self, space):
        rng = np.random.default_rng(1)
        shape = (len(space.cell_types), space.num_edges, space.num_ops)
        # Peaked probabilities, so that a few genotypes carry real mass.
        probs = derivation.op_probabilities(rng.normal(0.0, 3.0, shape))
        n = 4000
        counts = collections.Counter(
            derivation.sample(space, probs, rng).to_json() for _ in range(n)
        )
        for text, count in counts.most_common(3):
            genotype = space.genotype_type.from_json(text)
            p = math.exp(derivation.log_probability(space, probs, genotype))
            # Binomial standard error, 4 sigma.
            self.assertAlmostEqual(
                count / n, p, delta=4 * math.sqrt(p * (1 - p) / n) + 1e-3
            )

    def test_the_derived_genotype_is_the_most_probable_sample(self):
        rng = np.random.default_rng(2)
        probs = derivation.op_probabilities(rng.normal(0.0, 2.0, (2, 14, 8)))
        mode = derivation.derive(DARTS, probs)
        best = derivation.log_probability(DARTS, probs, mode)
        for _ in range(200):
            other = derivation.sample(DARTS, probs, rng)
            self.assertLessEqual(
                derivation.log_probability(DARTS, probs, other), best + 1e-12
            )

    def test_choices_table(self):
        probs = np.full((1, 6, 5), 0.2)
        probs[0, 0] = [1.0, 0.0, 0.0, 0.0, 0.0]
        lines = derivation.choices_table(NB201, probs).splitlines()
        self.assertEqual(len(lines), 1 + 6)
        self.assertIn("nor_conv_3x3", lines[0])
        self.assertTrue(lines[1].endswith("0.000    0.000"), lines[1])
        self.assertTrue(
            lines[2].endswith(f"{math.log(5):.3f}    1.000"), lines[2]
        )

    def test_bad_input(self):
        probs = np.full((2, 14, 8), 1 / 8)
        with self.assertRaisesRegex(ValueError, "Unknown derivation rule"):
            derivation.derive(DARTS, probs, rule="argmax")
        with self.assertRaisesRegex(ValueError, r"shape \(1, 6, 5\)"):
            derivation.derive(NB201, probs)
        with self.assertRaisesRegex(ValueError, "deterministic"):
            derivation.sample(DARTS, probs, np.random.default_rng(), "darts")
        with self.assertRaisesRegex(ValueError, "not a genotype of the darts"):
            derivation.log_probability(
                DARTS, probs, NasBench201Genotype.from_string(ARCH)
            )


if __name__ == "__main__":
    absltest.main()
