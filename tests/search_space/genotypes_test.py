"""Tests for base_tf.search_space.genotypes."""

import json
import os

import tensorflow as tf
from absl.testing import parameterized

from base_tf.search_space import genotypes
from base_tf.search_space.darts import DartsGenotype
from base_tf.search_space.nas_bench_201 import NasBench201Genotype


class PublishedTest(tf.test.TestCase, parameterized.TestCase):
    def test_cifar_tuned(self):
        genotype = genotypes.CIFAR_TUNED
        normal = genotype.nodes("normal")
        # Node 2 reads both previous cells; node 3 takes both of its inputs
        # from cell c_{k-2} (node 0), which DARTS's top-2 rule cannot give.
        self.assertEqual(normal[0], (("skip_connect", 0), ("dil_conv_3x3", 1)))
        self.assertEqual(normal[1], (("max_pool_3x3", 0), ("dil_conv_5x5", 0)))
        self.assertEqual(normal[2], (("max_pool_3x3", 0), ("sep_conv_5x5", 0)))
        self.assertEqual(normal[3], (("max_pool_3x3", 1), ("dil_conv_5x5", 1)))
        self.assertEqual(
            genotype.reduce,
            (
                ("sep_conv_3x3", 0),
                ("sep_conv_5x5", 0),
                ("max_pool_3x3", 0),
                ("sep_conv_3x3", 0),
                ("skip_connect", 0),
                ("avg_pool_3x3", 3),
                ("max_pool_3x3", 1),
                ("skip_connect", 2),
            ),
        )
        self.assertEqual(genotype.normal_concat, (2, 3, 4, 5))
        self.assertEqual(genotype.reduce_concat, (2, 3, 4, 5))

    def test_imagenet_tuned(self):
        genotype = genotypes.IMAGENET_TUNED
        self.assertEqual(
            genotype.normal,
            (
                ("skip_connect", 0),
                ("max_pool_3x3", 1),
                ("avg_pool_3x3", 0),
                ("sep_conv_5x5", 1),
                ("sep_conv_5x5", 0),
                ("dil_conv_5x5", 3),
                ("sep_conv_5x5", 0),
                ("sep_conv_5x5", 2),
            ),
        )
        reduce = genotype.nodes("reduce")
        self.assertEqual(reduce[1], (("max_pool_3x3", 0), ("avg_pool_3x3", 0)))
        self.assertEqual(reduce[2], (("sep_conv_5x5", 2), ("dil_conv_5x5", 2)))
        self.assertEqual(reduce[3], (("avg_pool_3x3", 0), ("sep_conv_5x5", 3)))
        self.assertEqual(genotype.reduce_concat, (2, 3, 4, 5))

    def test_darts_v2(self):
        genotype = genotypes.DARTS_V2
        self.assertEqual(
            genotype.nodes("normal")[3],
            (("skip_connect", 0), ("dil_conv_3x3", 2)),
        )
        self.assertEqual(
            genotype.nodes("reduce")[0],
            (("max_pool_3x3", 0), ("max_pool_3x3", 1)),
        )

    def test_prints(self):
        lines = str(genotypes.CIFAR_TUNED).splitlines()
        self.assertEqual(
            lines[0],
            "normal: node2: skip_connect<-0, dil_conv_3x3<-1 | "
            "node3: max_pool_3x3<-0, dil_conv_5x5<-0 | "
            "node4: max_pool_3x3<-0, sep_conv_5x5<-0 | "
            "node5: max_pool_3x3<-1, dil_conv_5x5<-1 | concat: 2,3,4,5",
        )
        self.assertEqual(
            lines[1],
            "reduce: node2: sep_conv_3x3<-0, sep_conv_5x5<-0 | "
            "node3: max_pool_3x3<-0, sep_conv_3x3<-0 | "
            "node4: skip_connect<-0, avg_pool_3x3<-3 | "
            "node5: max_pool_3x3<-1, skip_connect<-2 | concat: 2,3,4,5",
        )
        self.assertIn(
            "node4: sep_conv_5x5<-0, dil_conv_5x5<-3",
            str(genotypes.IMAGENET_TUNED),
        )

    @parameterized.parameters(sorted(genotypes.PUBLISHED))
    def test_json_round_trip(self, name):
        genotype = genotypes.get(name)
        text = genotype.to_json()
        self.assertEqual(json.loads(text)["space"], "darts")
        self.assertEqual(DartsGenotype.from_json(text), genotype)
        self.assertEqual(genotypes.genotype_from_json(text), genotype)

    def test_published_names(self):
        self.assertEqual(
            set(genotypes.PUBLISHED),
            {"CIFAR_TUNED", "IMAGENET_TUNED", "DARTS_V2"},
        )
        self.assertIs(genotypes.get("CIFAR_TUNED"), genotypes.CIFAR_TUNED)
        self.assertIs(genotypes.get("imagenet_tuned"), genotypes.IMAGENET_TUNED)

    @parameterized.parameters("CIFAR", "", None)
    def test_get_unknown(self, name):
        with self.assertRaisesRegex(
            ValueError,
            r"Unknown published genotype .*; known: CIFAR_TUNED, "
            r"IMAGENET_TUNED, DARTS_V2",
        ):
            genotypes.get(name)


class GenotypeFromJsonTest(tf.test.TestCase, parameterized.TestCase):
    def test_dispatches_on_space(self):
        cell = NasBench201Genotype.from_string(
            "|nor_conv_3x3~0|+|none~0|skip_connect~1|+"
            "|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"
        )
        self.assertEqual(genotypes.genotype_from_json(cell.to_json()), cell)
        restored = genotypes.genotype_from_json(genotypes.DARTS_V2.to_json())
        self.assertIsInstance(restored, DartsGenotype)
        self.assertEqual(restored, genotypes.DARTS_V2)

    @parameterized.named_parameters(
        ("not_json", "darts", r"Genotype: not valid JSON"),
        (
            "no_space",
            '{"arch_str": "|none~0|"}',
            r"Genotype JSON must be an object with a 'space' field naming "
            r"its search space \(darts, nas_bench_201\)",
        ),
        ("not_object", '["darts"]', r"must be an object with a 'space'"),
        (
            "unknown_space",
            '{"space": "nasbench101"}',
            r"Genotype JSON names an unknown space 'nasbench101'; known "
            r"spaces: darts, nas_bench_201",
        ),
        (
            "bad_contents",
            '{"space": "nas_bench_201", "arch_str": "|none~1|"}',
            r"has 1 nodes; expected 3",
        ),
    )
    def test_refuses(self, text, message):
        with self.assertRaisesRegex(ValueError, message):
            genotypes.genotype_from_json(text)


class ResolveTest(tf.test.TestCase):
    """`resolve`: a name, a genotype JSON file or a NAS-Bench-201 string."""

    def test_resolves(self):
        self.assertEqual(
            genotypes.resolve("cifar_tuned"), genotypes.CIFAR_TUNED
        )
        self.assertIs(genotypes.resolve(genotypes.DARTS_V2), genotypes.DARTS_V2)
        path = os.path.join(self.get_temp_dir(), "genotype.json")
        with open(path, "w") as f:
            f.write(genotypes.IMAGENET_TUNED.to_json())
        self.assertEqual(genotypes.resolve(path), genotypes.IMAGENET_TUNED)
        arch = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
        self.assertEqual(
            genotypes.resolve(arch), NasBench201Genotype.from_string(arch)
        )

    def test_refuses(self):
        with self.assertRaisesRegex(ValueError, "Unknown genotype 'NOPE'"):
            genotypes.resolve("NOPE")
        path = os.path.join(self.get_temp_dir(), "bad.json")
        bad = genotypes.CIFAR_TUNED.to_dict()
        bad["normal"][0] = ["conv_9x9", 0]
        with open(path, "w") as f:
            json.dump(bad, f)
        with self.assertRaisesRegex(ValueError, "bad.json.*conv_9x9"):
            genotypes.resolve(path)
        with open(path, "w") as f:
            f.write("{not json")
        with self.assertRaisesRegex(ValueError, "not valid JSON"):
            genotypes.resolve(path)
        with self.assertRaisesRegex(ValueError, "No file"):
            genotypes.resolve("missing/genotype.json")


if __name__ == "__main__":
    tf.test.main()
