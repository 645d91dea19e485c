"""Tests for base_tf.search_space.space and the package's exports."""

import dataclasses

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

import base_tf.search_space as search_space
from base_tf.search_space import darts, nas_bench_201, operations
from base_tf.search_space.space import SearchSpace, get_space


def _space(**changes):
    fields = {
        "name": "tiny",
        "ops": ("none", "skip_connect"),
        "cell_types": ("cell",),
        "edges": ((0, 1), (0, 2), (1, 2)),
        "num_input_nodes": 1,
        "genotype_type": object,
    }
    fields.update(changes)
    return SearchSpace(**fields)


class RegistryTest(tf.test.TestCase, parameterized.TestCase):
    def test_darts(self):
        space = get_space("darts")
        self.assertEqual(space.name, "darts")
        self.assertEqual(space.ops, darts.PRIMITIVES)
        self.assertEqual(space.num_ops, 8)
        self.assertEqual(space.cell_types, ("normal", "reduce"))
        self.assertEqual(space.edges, darts.EDGES)
        self.assertEqual(space.num_edges, 14)
        self.assertEqual(space.num_input_nodes, 2)
        self.assertEqual(space.num_nodes, 6)
        self.assertEqual(space.computed_nodes, (2, 3, 4, 5))
        self.assertEqual(space.edges_into(2), (0, 1))
        self.assertEqual(space.edges_into(5), (9, 10, 11, 12, 13))
        self.assertIs(space.genotype_type, darts.DartsGenotype)

    def test_nas_bench_201(self):
        space = get_space("nas_bench_201")
        self.assertEqual(space.ops, nas_bench_201.PRIMITIVES)
        self.assertEqual(space.cell_types, ("cell",))
        self.assertEqual(space.num_edges, 6)
        self.assertEqual(space.num_nodes, 4)
        self.assertEqual(space.computed_nodes, (1, 2, 3))
        self.assertEqual(space.edges_into(3), (3, 4, 5))
        self.assertIs(space.genotype_type, nas_bench_201.NasBench201Genotype)

    @parameterized.parameters("darts", "nas_bench_201")
    def test_every_op_builds(self, name):
        space = get_space(name)
        x = np.ones((1, 4, 4, 2), np.float32)
        for op in space.ops:
            y = operations.OPS[op](2, 1, False)(x)
            self.assertEqual(tuple(y.shape), x.shape)

    def test_edges_into_every_computed_node(self):
        for space in search_space.SPACES.values():
            counted = sum(
                len(space.edges_into(node)) for node in space.computed_nodes
            )
            self.assertEqual(counted, space.num_edges)

    def test_what_differs_between_spaces(self):
        darts_space = get_space("darts")
        self.assertEqual(darts_space.derivation_rules, ("slots", "darts"))
        self.assertEqual(darts_space.sampling_rules, ("slots",))
        self.assertIsNone(darts_space.notation)
        self.assertEqual(darts_space.network_size, (40, 20))
        self.assertTrue(darts_space.auxiliary_head)
        nb201 = get_space("nas_bench_201")
        self.assertEqual(nb201.derivation_rules, ("argmax",))
        self.assertEqual(nb201.sampling_rules, ("argmax",))
        self.assertEqual(nb201.notation, "NAS-Bench-201 architecture string")
        self.assertEqual(nb201.network_size, (16, 5))
        self.assertFalse(nb201.auxiliary_head)

    def test_unknown_space(self):
        with self.assertRaisesRegex(
            ValueError,
            r"Unknown search space 'nasbench'; known spaces: darts, "
            r"nas_bench_201",
        ):
            get_space("nasbench")

    def test_edges_into_refuses_input_node(self):
        with self.assertRaisesRegex(
            ValueError, r"node 1 is not a computed node; they are \(2, 3"
        ):
            get_space("darts").edges_into(1)

    def test_frozen(self):
        with self.assertRaises(dataclasses.FrozenInstanceError):
            get_space("darts").ops = ()

    def test_package_exports(self):
        for name in search_space.__all__:
            self.assertTrue(hasattr(search_space, name), name)
        self.assertIs(search_space.get_space("darts"), get_space("darts"))


class SearchSpaceValidationTest(tf.test.TestCase, parameterized.TestCase):
    def test_valid(self):
        space = _space(edges=[[0, 1], [0, 2], [1, 2]], ops=["none"])
        self.assertEqual(space.edges, ((0, 1), (0, 2), (1, 2)))
        self.assertEqual(space.ops, ("none",))
        self.assertEqual(space.derivation_rules, ())
        self.assertIsNone(space.network_size)

    def test_rules_and_size_stored_as_tuples(self):
        space = _space(
            derivation_rules=["argmax"],
            sampling_rules=["argmax"],
            network_size=[8, 2],
        )
        self.assertEqual(space.derivation_rules, ("argmax",))
        self.assertEqual(space.sampling_rules, ("argmax",))
        self.assertEqual(space.network_size, (8, 2))

    @parameterized.named_parameters(
        (
            "unknown_op",
            {"ops": ("none", "conv_9x9")},
            r"SearchSpace 'tiny': ops must be names from operations\.OPS; "
            r"unknown: \['conv_9x9'\]",
        ),
        ("no_ops", {"ops": ()}, r"unknown: no ops given"),
        ("duplicate_op", {"ops": ("none", "none")}, r"ops has duplicates"),
        (
            "no_cell_types",
            {"cell_types": ()},
            r"cell_types must be distinct and non-empty",
        ),
        (
            "backward_edge",
            {"edges": ((0, 1), (2, 1))},
            r"edge \(2, 1\) must be \(from, to\) with 0 <= from < to",
        ),
        (
            "into_input",
            {"edges": ((0, 1), (0, 2)), "num_input_nodes": 2},
            r"edge \(0, 1\) goes into input node 1",
        ),
        (
            "unsorted",
            {"edges": ((0, 2), (0, 1), (1, 2))},
            r"edges must be distinct and sorted by target, then source",
        ),
        (
            "duplicate_edge",
            {"edges": ((0, 1), (0, 1), (0, 2))},
            r"edges must be distinct",
        ),
        (
            "node_without_edge",
            {"edges": ((0, 1), (0, 3))},
            r"every node after the 1 input nodes needs an incoming edge",
        ),
        (
            "duplicate_rule",
            {"derivation_rules": ("argmax", "argmax")},
            r"derivation_rules must be distinct rule names",
        ),
        (
            "sampling_rule_not_a_rule",
            {"derivation_rules": ("argmax",), "sampling_rules": ("slots",)},
            r"sampling_rules \('slots',\) must be some of derivation_rules",
        ),
        (
            "network_size",
            {"network_size": (16, 0)},
            r"network_size must be \(channels, num_cells\), two positive",
        ),
    )
    def test_refuses(self, changes, message):
        with self.assertRaisesRegex(ValueError, message):
            _space(**changes)


if __name__ == "__main__":
    tf.test.main()
