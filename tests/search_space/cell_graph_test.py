"""Tests for base_tf.search_space.cell_graph."""

import dataclasses

import tensorflow as tf
from absl.testing import parameterized

from base_tf.search_space import cell_graph
from base_tf.search_space.cell_graph import CellGraph


class CellGraphTest(tf.test.TestCase, parameterized.TestCase):
    def test_stored_as_tuples(self):
        graph = CellGraph(
            nodes=[["a", cell_graph.NODE], ["b", cell_graph.CONCAT]],
            edges=[["a", "b", None]],
        )
        self.assertEqual(
            graph.nodes, (("a", cell_graph.NODE), ("b", cell_graph.CONCAT))
        )
        self.assertEqual(graph.edges, (("a", "b", None),))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            graph.nodes = ()

    @parameterized.named_parameters(
        (
            "unknown_kind",
            [("a", "leaf")],
            [],
            r"unknown node kinds \['leaf'\]; the kinds are previous_cell",
        ),
        (
            "repeated_name",
            [("a", cell_graph.NODE), ("a", cell_graph.NODE)],
            [],
            r"node names repeat: \['a', 'a'\]",
        ),
        (
            "edge_to_nowhere",
            [("a", cell_graph.NODE)],
            [("a", "b", "skip_connect")],
            r"edge 'a' -> 'b' names a node that is not one of \['a'\]",
        ),
    )
    def test_refuses(self, nodes, edges, message):
        with self.assertRaisesRegex(ValueError, message):
            CellGraph(nodes, edges)


if __name__ == "__main__":
    tf.test.main()
