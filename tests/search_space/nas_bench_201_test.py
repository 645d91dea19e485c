"""Tests for base_tf.search_space.nas_bench_201."""

import json

import tensorflow as tf
from absl.testing import parameterized

from base_tf.search_space import cell_graph, nas_bench_201
from base_tf.search_space.nas_bench_201 import NasBench201Genotype

BEST = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
    "|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
EXAMPLE = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
    "|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)
ALL_SKIP = (
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+"
    "|skip_connect~0|skip_connect~1|skip_connect~2|"
)
MIXED = (
    "|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|avg_pool_3x3~2|"
)


class SpaceDataTest(tf.test.TestCase):
    def test_primitives(self):
        self.assertEqual(
            nas_bench_201.PRIMITIVES,
            (
                "none",
                "skip_connect",
                "nor_conv_1x1",
                "nor_conv_3x3",
                "avg_pool_3x3",
            ),
        )

    def test_edges(self):
        self.assertEqual(
            nas_bench_201.EDGES,
            ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)),
        )


class NasBench201GenotypeTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(EXAMPLE, BEST, ALL_SKIP, MIXED)
    def test_canonical_string_round_trip(self, text):
        genotype = NasBench201Genotype.from_string(text)
        self.assertEqual(str(genotype), text)
        self.assertEqual(
            NasBench201Genotype.from_string(str(genotype)), genotype
        )

    def test_parsed_nodes(self):
        genotype = NasBench201Genotype.from_string(EXAMPLE)
        self.assertEqual(
            genotype.nodes,
            (
                (("nor_conv_3x3", 0),),
                (("nor_conv_3x3", 0), ("nor_conv_3x3", 1)),
                (("skip_connect", 0), ("nor_conv_3x3", 1), ("nor_conv_1x1", 2)),
            ),
        )

    def test_from_nodes_sorts_by_input(self):
        genotype = NasBench201Genotype(
            [
                [("nor_conv_3x3", 0)],
                [["nor_conv_3x3", 1], ["nor_conv_3x3", 0]],
                [("nor_conv_1x1", 2), ("skip_connect", 0), ("nor_conv_3x3", 1)],
            ]
        )
        self.assertEqual(str(genotype), EXAMPLE)
        self.assertEqual(genotype, NasBench201Genotype.from_string(EXAMPLE))
        self.assertEqual(
            hash(genotype), hash(NasBench201Genotype.from_string(EXAMPLE))
        )

    def test_surrounding_whitespace_ignored(self):
        genotype = NasBench201Genotype.from_string(f"  {EXAMPLE}\n")
        self.assertEqual(str(genotype), EXAMPLE)

    def test_repr_evaluates_back(self):
        genotype = NasBench201Genotype.from_string(MIXED)
        self.assertEqual(
            eval(repr(genotype), {"NasBench201Genotype": NasBench201Genotype}),
            genotype,
        )

    def test_cell_graph_leaves_out_none_edges(self):
        graph = NasBench201Genotype.from_string(MIXED).cell_graph()
        self.assertEqual(
            graph.nodes, tuple((str(n), cell_graph.NODE) for n in range(4))
        )
        self.assertEqual(
            graph.edges,
            (
                ("0", "1", "avg_pool_3x3"),
                ("1", "2", "nor_conv_1x1"),
                ("2", "3", "avg_pool_3x3"),
            ),
        )
        self.assertEqual(
            NasBench201Genotype.from_string(MIXED).cell_graph("cell"), graph
        )
        with self.assertRaisesRegex(ValueError, r"cell type 'normal'"):
            NasBench201Genotype.from_string(MIXED).cell_graph("normal")

    def test_ops_by_edge_round_trip(self):
        genotype = NasBench201Genotype.from_string(EXAMPLE)
        ops = genotype.ops_by_edge()
        self.assertEqual(
            ops,
            (
                "nor_conv_3x3",
                "nor_conv_3x3",
                "nor_conv_3x3",
                "skip_connect",
                "nor_conv_3x3",
                "nor_conv_1x1",
            ),
        )
        self.assertEqual(NasBench201Genotype.from_edge_ops(ops), genotype)
        with self.assertRaisesRegex(ValueError, r"needs 6 op names"):
            NasBench201Genotype.from_edge_ops(ops[:5])

    @parameterized.parameters(EXAMPLE, MIXED)
    def test_json_round_trip(self, text):
        genotype = NasBench201Genotype.from_string(text)
        encoded = genotype.to_json()
        self.assertEqual(
            json.loads(encoded), {"space": "nas_bench_201", "arch_str": text}
        )
        self.assertEqual(NasBench201Genotype.from_json(encoded), genotype)
        self.assertEqual(
            NasBench201Genotype.from_json(genotype.to_json(indent=2)), genotype
        )

    @parameterized.named_parameters(
        (
            "unknown_op",
            "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            r"NasBench201Genotype node 1: unknown op 'conv_9x9'; allowed "
            r"ops: none, skip_connect, nor_conv_1x1, nor_conv_3x3, "
            r"avg_pool_3x3",
        ),
        (
            "darts_op",
            "|none~0|+|none~0|sep_conv_3x3~1|+|none~0|none~1|none~2|",
            r"node 2: unknown op 'sep_conv_3x3'",
        ),
        (
            "input_out_of_range",
            "|none~0|+|none~0|none~2|+|none~0|none~1|none~2|",
            r"NasBench201Genotype node 2: input 2 is out of range; node 2 "
            r"takes inputs 0\.\.1",
        ),
        (
            "too_few_nodes",
            "|none~0|+|none~0|none~1|",
            r"has 2 nodes; expected 3 separated by '\+'",
        ),
        (
            "too_many_nodes",
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",
            r"has 4 nodes; expected 3",
        ),
        (
            "missing_edge",
            "|none~0|+|none~0|none~1|+|none~0|none~1|",
            r"NasBench201Genotype node 3 has no edge from node\(s\) 2; it "
            r"takes each of inputs 0\.\.2 exactly once",
        ),
        (
            "duplicate_edge",
            "|none~0|+|none~0|none~0|+|none~0|none~1|none~2|",
            r"NasBench201Genotype node 2 takes input 0 twice",
        ),
        (
            "missing_bars",
            "none~0+|none~0|none~1|+|none~0|none~1|none~2|",
            r"NAS-Bench-201 string, node 1: 'none~0' must have the form "
            r"'\|op~input\|\.\.\.\|'",
        ),
        (
            "missing_tilde",
            "|none~0|+|none~0|none1|+|none~0|none~1|none~2|",
            r"NAS-Bench-201 string, node 2: 'none1' must have the form "
            r"'op~input'",
        ),
        (
            "index_not_a_number",
            "|none~0|+|none~0|none~a|+|none~0|none~1|none~2|",
            r"node 2: 'none~a' must have the form 'op~input'",
        ),
        (
            "negative_index",
            "|none~-1|+|none~0|none~1|+|none~0|none~1|none~2|",
            r"node 1: 'none~-1' must have the form 'op~input'",
        ),
        (
            "empty_token",
            "|none~0||+|none~0|none~1|+|none~0|none~1|none~2|",
            r"node 1: '' must have the form 'op~input'",
        ),
        (
            "empty_node",
            "|none~0|++|none~0|none~1|none~2|",
            r"node 2: '' must have the form",
        ),
        (
            "inner_whitespace",
            "|none~0|+|none~0| none~1|+|none~0|none~1|none~2|",
            r"node 2: unknown op ' none'",
        ),
    )
    def test_from_string_refuses(self, text, message):
        with self.assertRaisesRegex(ValueError, message):
            NasBench201Genotype.from_string(text)

    def test_from_string_refuses_non_string(self):
        with self.assertRaisesRegex(ValueError, r"must be a str; got NoneType"):
            NasBench201Genotype.from_string(None)

    @parameterized.named_parameters(
        (
            "two_nodes",
            [[("none", 0)], [("none", 0), ("none", 1)]],
            r"NasBench201Genotype has 2 nodes; expected 3 \(nodes 1\.\.3; "
            r"node 0 is the cell's input\)",
        ),
        ("not_a_list", "|none~0|", r"nodes must be a list of 3 nodes; got str"),
        (
            "not_a_pair",
            [[("none", 0)], [("none",), ("none", 1)], []],
            r"node 2: expected an \(op, input\) pair; got \('none',\)",
        ),
        (
            "input_not_int",
            [[("none", 0.0)], [("none", 0), ("none", 1)], []],
            r"node 1: input must be an integer node index; got 0\.0",
        ),
        (
            "empty_node",
            [[("none", 0)], [("none", 0), ("none", 1)], []],
            r"node 3 has no edge from node\(s\) 0, 1, 2",
        ),
    )
    def test_constructor_refuses(self, nodes, message):
        with self.assertRaisesRegex(ValueError, message):
            NasBench201Genotype(nodes)

    @parameterized.named_parameters(
        ("not_json", "|none~0|", r"NAS-Bench-201 genotype: not valid JSON"),
        (
            "other_space",
            '{"space": "darts", "arch_str": "x"}',
            r"Not a NAS-Bench-201 genotype: its 'space' is 'darts'; "
            r"expected 'nas_bench_201'",
        ),
        (
            "missing_arch",
            '{"space": "nas_bench_201"}',
            r"NAS-Bench-201 genotype lacks arch_str",
        ),
        (
            "unknown_key",
            '{"space": "nas_bench_201", "arch_str": "x", "acc": 94}',
            r"NAS-Bench-201 genotype has unknown keys acc",
        ),
        (
            "bad_arch",
            '{"space": "nas_bench_201", "arch_str": "|none~0|"}',
            r"has 1 nodes; expected 3",
        ),
    )
    def test_from_json_refuses(self, text, message):
        with self.assertRaisesRegex(ValueError, message):
            NasBench201Genotype.from_json(text)


if __name__ == "__main__":
    tf.test.main()
