"""Tests for base_tf.search_space.darts."""

import dataclasses
import json

import tensorflow as tf
from absl.testing import parameterized

from base_tf.search_space import cell_graph, darts
from base_tf.search_space.darts import DartsGenotype

NORMAL = [
    ("sep_conv_3x3", 0),
    ("skip_connect", 1),
    ("dil_conv_5x5", 2),
    ("dil_conv_5x5", 2),
    ("max_pool_3x3", 3),
    ("none", 0),
    ("sep_conv_7x7", 4),
    ("conv_7x1_1x7", 1),
]
REDUCE = [
    ("max_pool_3x3", 0),
    ("avg_pool_3x3", 1),
    ("skip_connect", 2),
    ("sep_conv_5x5", 0),
    ("dil_conv_3x3", 3),
    ("max_pool_3x3", 1),
    ("skip_connect", 4),
    ("sep_conv_3x3", 2),
]
CONCAT = (2, 3, 4, 5)


def _genotype(**changes):
    fields = {
        "normal": NORMAL,
        "normal_concat": CONCAT,
        "reduce": REDUCE,
        "reduce_concat": CONCAT,
    }
    fields.update(changes)
    return DartsGenotype(**fields)


def _replace(pairs, position, pair):
    pairs = list(pairs)
    pairs[position] = pair
    return pairs


class SpaceDataTest(tf.test.TestCase, parameterized.TestCase):
    def test_primitives_in_darts_order(self):
        self.assertEqual(
            darts.PRIMITIVES,
            (
                "none",
                "max_pool_3x3",
                "avg_pool_3x3",
                "skip_connect",
                "sep_conv_3x3",
                "sep_conv_5x5",
                "dil_conv_3x3",
                "dil_conv_5x5",
            ),
        )

    def test_edges(self):
        self.assertLen(darts.EDGES, 14)
        self.assertEqual(
            darts.EDGES[:6], ((0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (0, 4))
        )
        self.assertEqual(darts.EDGES[-1], (4, 5))
        for node in darts.INTERMEDIATE_NODES:
            sources = [i for i, k in darts.EDGES if k == node]
            self.assertEqual(sources, list(range(node)))

    @parameterized.parameters(
        (1, (0,)),
        (2, (0, 1)),
        (3, (1, 2)),
        (8, (2, 5)),
        (14, (4, 9)),
        (20, (6, 13)),
    )
    def test_reduction_cells(self, num_cells, expected):
        self.assertEqual(darts.reduction_cells(num_cells), expected)

    @parameterized.parameters(0, -3, 2.0, True, "8")
    def test_reduction_cells_refuses(self, num_cells):
        with self.assertRaisesRegex(
            ValueError, r"num_cells must be a positive integer; got"
        ):
            darts.reduction_cells(num_cells)


class DartsGenotypeTest(tf.test.TestCase, parameterized.TestCase):
    def test_fields_are_tuples_and_value_semantics(self):
        genotype = _genotype(normal_concat=range(2, 6))
        self.assertEqual(genotype.normal, tuple(NORMAL))
        self.assertIsInstance(genotype.normal[0], tuple)
        self.assertEqual(genotype.normal_concat, CONCAT)
        self.assertEqual(genotype, _genotype())
        self.assertEqual(hash(genotype), hash(_genotype()))
        self.assertNotEqual(genotype, _genotype(reduce=NORMAL))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            genotype.normal = ()

    def test_positional_like_darts_namedtuple(self):
        genotype = DartsGenotype(NORMAL, CONCAT, REDUCE, CONCAT)
        self.assertEqual(genotype, _genotype())

    def test_nodes_and_concat(self):
        genotype = _genotype(reduce_concat=(3, 5))
        nodes = genotype.nodes("normal")
        self.assertLen(nodes, 4)
        self.assertEqual(nodes[1], (("dil_conv_5x5", 2), ("dil_conv_5x5", 2)))
        self.assertEqual(genotype.concat("reduce"), (3, 5))
        with self.assertRaisesRegex(
            ValueError, r"Unknown DARTS cell type 'cell'.*normal, reduce"
        ):
            genotype.nodes("cell")

    def test_cell_graph(self):
        graph = _genotype(reduce_concat=(3, 5)).cell_graph("reduce")
        self.assertEqual(
            graph.nodes,
            (
                ("c_{k-2}", cell_graph.PREVIOUS_CELL),
                ("c_{k-1}", cell_graph.PREVIOUS_CELL),
                ("0", cell_graph.NODE),
                ("1", cell_graph.NODE),
                ("2", cell_graph.NODE),
                ("3", cell_graph.NODE),
                ("c_{k}", cell_graph.CONCAT),
            ),
        )
        self.assertEqual(
            graph.edges,
            (
                ("c_{k-2}", "0", "max_pool_3x3"),
                ("c_{k-1}", "0", "avg_pool_3x3"),
                ("0", "1", "skip_connect"),
                ("c_{k-2}", "1", "sep_conv_5x5"),
                ("1", "2", "dil_conv_3x3"),
                ("c_{k-1}", "2", "max_pool_3x3"),
                ("2", "3", "skip_connect"),
                ("0", "3", "sep_conv_3x3"),
                ("1", "c_{k}", None),
                ("3", "c_{k}", None),
            ),
        )

    def test_cell_graph_keeps_none_and_repeated_pairs(self):
        edges = _genotype().cell_graph("normal").edges
        self.assertEqual(edges[2:4], (("0", "1", "dil_conv_5x5"),) * 2)
        self.assertIn(("c_{k-2}", "2", "none"), edges)
        with self.assertRaisesRegex(ValueError, r"Unknown DARTS cell type"):
            _genotype().cell_graph("cell")

    def test_str_one_line_per_cell_type(self):
        lines = str(_genotype()).splitlines()
        self.assertLen(lines, 2)
        self.assertEqual(
            lines[0],
            "normal: node2: sep_conv_3x3<-0, skip_connect<-1 | "
            "node3: dil_conv_5x5<-2, dil_conv_5x5<-2 | "
            "node4: max_pool_3x3<-3, none<-0 | "
            "node5: sep_conv_7x7<-4, conv_7x1_1x7<-1 | concat: 2,3,4,5",
        )
        self.assertStartsWith(
            lines[1], "reduce: node2: max_pool_3x3<-0, avg_pool_3x3<-1 | "
        )

    def test_json_round_trip(self):
        genotype = _genotype(reduce_concat=(2, 4, 5))
        for indent in (None, 2):
            text = genotype.to_json(indent=indent)
            self.assertEqual(DartsGenotype.from_json(text), genotype)
        data = json.loads(genotype.to_json())
        self.assertEqual(data["space"], "darts")
        self.assertEqual(data["normal"][0], ["sep_conv_3x3", 0])
        self.assertEqual(data["reduce_concat"], [2, 4, 5])
        self.assertEqual(DartsGenotype.from_dict(genotype.to_dict()), genotype)

    @parameterized.named_parameters(
        (
            "unknown_op",
            {"normal": _replace(NORMAL, 3, ("sep_conv_9x9", 0))},
            r"DartsGenotype\.normal, node 3 \(pair 3\): unknown op "
            r"'sep_conv_9x9'; allowed ops: none, max_pool_3x3, ",
        ),
        (
            "input_out_of_range",
            {"reduce": _replace(REDUCE, 0, ("skip_connect", 2))},
            r"DartsGenotype\.reduce, node 2 \(pair 0\): input 2 is out of "
            r"range; node 2 may take inputs 0\.\.1",
        ),
        (
            "input_out_of_range_last_node",
            {"normal": _replace(NORMAL, 7, ("skip_connect", 5))},
            r"normal, node 5 \(pair 7\): input 5 is out of range; node 5 "
            r"may take inputs 0\.\.4",
        ),
        (
            "negative_input",
            {"normal": _replace(NORMAL, 2, ("skip_connect", -1))},
            r"node 3 \(pair 2\): input -1 is out of range",
        ),
        (
            "input_not_int",
            {"normal": _replace(NORMAL, 0, ("skip_connect", "1"))},
            r"node 2 \(pair 0\): input must be an integer node index; "
            r"got '1'",
        ),
        (
            "input_bool",
            {"normal": _replace(NORMAL, 0, ("skip_connect", True))},
            r"input must be an integer node index; got True",
        ),
        (
            "too_few_pairs",
            {"normal": NORMAL[:7]},
            r"DartsGenotype\.normal has 7 \(op, input\) pairs; expected 8: "
            r"2 for each of the 4 intermediate nodes 2\.\.5",
        ),
        (
            "too_many_pairs",
            {"reduce": REDUCE + [("none", 0)]},
            r"DartsGenotype\.reduce has 9 \(op, input\) pairs; expected 8",
        ),
        (
            "not_a_pair",
            {"normal": _replace(NORMAL, 5, ("none", 0, 1))},
            r"normal, node 4 \(pair 5\): expected an \(op, input\) pair; "
            r"got \('none', 0, 1\)",
        ),
        (
            "cell_not_a_list",
            {"normal": "sep_conv_3x3"},
            r"DartsGenotype\.normal must be a list of 8 \(op, input\) pairs; "
            r"got str",
        ),
        (
            "concat_outside",
            {"normal_concat": (2, 3, 4, 6)},
            r"DartsGenotype\.normal_concat: 6 is not an intermediate node; "
            r"allowed: 2\.\.5",
        ),
        (
            "concat_input_node",
            {"reduce_concat": (1, 2)},
            r"DartsGenotype\.reduce_concat: 1 is not an intermediate node",
        ),
        (
            "concat_empty",
            {"normal_concat": ()},
            r"DartsGenotype\.normal_concat is empty",
        ),
        (
            "concat_unordered",
            {"normal_concat": (3, 2)},
            r"normal_concat must list distinct nodes in increasing order; "
            r"got \(3, 2\)",
        ),
        (
            "concat_duplicate",
            {"reduce_concat": (2, 2, 3)},
            r"reduce_concat must list distinct nodes in increasing order",
        ),
        (
            "concat_not_a_list",
            {"normal_concat": 5},
            r"DartsGenotype\.normal_concat must be a list of intermediate "
            r"nodes \(2\.\.5\); got int 5",
        ),
    )
    def test_refuses(self, changes, message):
        with self.assertRaisesRegex(ValueError, message):
            _genotype(**changes)

    @parameterized.named_parameters(
        ("not_json", "{normal: }", r"DARTS genotype: not valid JSON"),
        ("not_an_object", "[1, 2]", r"must be a JSON object; got list"),
        (
            "other_space",
            '{"space": "nas_bench_201", "arch_str": "|none~0|"}',
            r"Not a DARTS genotype: its 'space' is 'nas_bench_201'; "
            r"expected 'darts'",
        ),
        (
            "no_space",
            '{"normal": []}',
            r"Not a DARTS genotype: its 'space' is None",
        ),
    )
    def test_from_json_refuses(self, text, message):
        with self.assertRaisesRegex(ValueError, message):
            DartsGenotype.from_json(text)

    def test_from_json_refuses_missing_and_unknown_keys(self):
        data = _genotype().to_dict()
        del data["reduce_concat"]
        with self.assertRaisesRegex(
            ValueError, r"DARTS genotype lacks reduce_concat"
        ):
            DartsGenotype.from_json(json.dumps(data))
        data = _genotype().to_dict()
        data["extra"] = 1
        with self.assertRaisesRegex(
            ValueError, r"DARTS genotype has unknown keys extra"
        ):
            DartsGenotype.from_json(json.dumps(data))

    def test_from_json_validates_contents(self):
        data = _genotype().to_dict()
        data["reduce"][4] = ["dil_conv_3x3", 9]
        with self.assertRaisesRegex(
            ValueError, r"reduce, node 4 \(pair 4\): input 9 is out of range"
        ):
            DartsGenotype.from_json(json.dumps(data))


if __name__ == "__main__":
    tf.test.main()
