"""Adaptation from a real (tiny) meta-training run, and //bin:adapt."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import tensorflow as tf

from base_tf import (
    adaptation,
    data,
    derivation,
    inference,
    meta_training,
    run_folder,
)
from base_tf.inference import statistics
from base_tf.search_space import NasBench201Genotype
from tests import tfds_testing, tiny

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class AdaptationTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        cls.run_dir = os.path.join(tf.compat.v1.test.get_temp_dir(), "meta")
        trainer = meta_training.MetaTrainer(
            tiny.CONFIG, tiny.tasks(), cls.run_dir
        )
        trainer.train(verbose=0)
        cls.w = trainer.model.meta_parameters

    def setUp(self):
        super().setUp()
        self.config = adaptation.AdaptationConfig(
            steps=3,
            batch_size=8,
            split="test",
            train_per_class=16,
            val_per_class=8,
            seed=4,
        )
        self.prior = meta_training.load_prior(self.run_dir)
        self.task = adaptation.make_task(
            "mnist", self.prior[0], self.config, tfds_testing.data_dir()
        )

    def test_load_prior_restores_the_last_w(self):
        config, model = self.prior
        self.assertEqual(config, tiny.CONFIG)
        for a, b in zip(model.meta_parameters, self.w, strict=True):
            self.assertAllEqual(a, b)

    def test_task_is_k_classes_at_the_meta_training_size(self):
        self.assertEqual(self.task.num_classes, tiny.CONFIG.num_classes)
        self.assertEqual(self.task.train_images.shape[1:], (8, 8, 3))
        self.assertEqual(self.task.num_val, 3 * 8)

    def test_adapt_is_the_inner_loop_from_w(self):
        posterior = adaptation.adapt(self.prior, self.task, self.config)
        # The same T' steps, run by hand on the same batches and seed.
        batches = self.task.train_dataset(8, seed=self.config.seed)
        images, labels = next(iter(batches.batch(3)))
        expected, _ = inference.inner_loop(
            self.prior[1].supernet,
            self.w,
            images,
            labels,
            tiny.CONFIG.inner_loop,
            # The prior's samples are hard: adaptation runs at tau 1.
            tf.constant(1.0),
            tf.constant(float(self.task.num_train)),
            tf.constant([self.config.seed, 0], tf.int64),
        )
        for a, b in zip(posterior.params, expected, strict=True):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)
        self.assertNotAllClose(posterior.params.logits, self.w.logits)
        info = posterior.info
        self.assertBetween(info["val_accuracy_prior"], 0.0, 1.0)
        self.assertBetween(info["val_accuracy_posterior"], 0.0, 1.0)
        self.assertGreater(info["wall_seconds"], 0.0)
        self.assertGreater(info["cpu_seconds"], 0.0)
        self.assertLen(info["last_step"], 5)
        # How far the posterior moved from the prior, part by part.
        for name, a, b in zip(
            ("logits", "mu", "rho"), posterior.params, self.w, strict=True
        ):
            self.assertAllClose(
                info["update_norms"][name], np.linalg.norm(a - b), rtol=1e-4
            )
        self.assertAllClose(
            info["posterior_statistics"]["kl_architecture"],
            inference.kl_architecture(posterior.params, self.w),
        )
        # What it reports of the prior and the posterior is theirs. (The
        # posterior need not be sharper than a meta-trained prior after
        # 3 steps: a prior that has learned is no longer uniform.)
        for key, params in (
            ("prior_statistics", self.w),
            ("posterior_statistics", posterior.params),
        ):
            self.assertAllClose(
                info[key]["relative_entropy"],
                statistics.summary(params)["relative_entropy"],
                rtol=1e-5,
            )

    def test_zero_steps_is_the_prior(self):
        config = adaptation.AdaptationConfig(
            steps=0, split="test", train_per_class=16, val_per_class=8
        )
        posterior = adaptation.adapt(self.prior, self.task, config)
        for a, b in zip(posterior.params, self.w, strict=True):
            self.assertAllEqual(a, b)
        prior_genotype = derivation.derive(
            "nas_bench_201", derivation.op_probabilities(self.w.logits)
        )
        self.assertEqual(posterior.genotype(), prior_genotype)
        self.assertEqual(
            posterior.info["val_accuracy_prior"],
            posterior.info["val_accuracy_posterior"],
        )

    def test_write_outputs_and_load(self):
        posterior = adaptation.adapt(self.prior, self.task, self.config)
        out = os.path.join(self.get_temp_dir(), "adapted")
        genotype, paths = adaptation.write_outputs(posterior, out)
        self.assertIsInstance(genotype, NasBench201Genotype)
        with open(os.path.join(out, "genotype.json")) as f:
            self.assertEqual(
                NasBench201Genotype.from_dict(json.load(f)), genotype
            )
        with open(os.path.join(out, "genotype.txt")) as f:
            self.assertEqual(f.read().strip(), str(genotype))
        with open(os.path.join(out, "choices.txt")) as f:
            self.assertLen(f.read().strip().splitlines(), 1 + 6)
        for name in ("cell_cell.png", "posterior.png"):
            with open(paths[name], "rb") as f:
                self.assertEqual(f.read(8), PNG_MAGIC)
        loaded = adaptation.Posterior.load(out)
        for a, b in zip(loaded.params, posterior.params, strict=True):
            self.assertAllEqual(a, b)
        self.assertEqual(loaded.meta_config, tiny.CONFIG)
        self.assertEqual(loaded.genotype(), genotype)
        # A second write is refused and changes nothing.
        before = {p: os.path.getmtime(p) for p in paths.values()}
        with self.assertRaisesRegex(FileExistsError, "already holds"):
            adaptation.write_outputs(posterior, out)
        self.assertEqual(
            before, {p: os.path.getmtime(p) for p in paths.values()}
        )

    def test_bad_input(self):
        empty = self.get_temp_dir()
        with self.assertRaisesRegex(ValueError, "not a meta-training run"):
            meta_training.load_prior(empty)
        no_checkpoint = os.path.join(empty, "fresh")
        os.makedirs(no_checkpoint)
        with (
            open(os.path.join(self.run_dir, meta_training.CONFIG_FILE)) as src,
            open(
                os.path.join(no_checkpoint, meta_training.CONFIG_FILE), "w"
            ) as dst,
        ):
            dst.write(src.read())
        with self.assertRaisesRegex(ValueError, "no checkpoint yet"):
            meta_training.load_prior(no_checkpoint)
        with self.assertRaisesRegex(ValueError, "holds no adapted posterior"):
            adaptation.Posterior.load(empty)
        eleven = adaptation.AdaptationConfig(num_classes=11, split="test")
        with self.assertRaisesRegex(data.DataError, "num_classes<=10"):
            adaptation.make_task(
                "mnist", self.prior[0], eleven, tfds_testing.data_dir()
            )
        with self.assertRaisesRegex(ValueError, "as many classes as"):
            adaptation.AdaptationConfig(classes=(0, 1), num_classes=3)
        with self.assertRaisesRegex(ValueError, "arch_sample must be one"):
            adaptation.AdaptationConfig(arch_sample="soft")
        too_fast = adaptation.AdaptationConfig(
            steps=3,
            batch_size=8,
            split="test",
            train_per_class=16,
            learning_rate=1e12,
        )
        with self.assertRaisesRegex(FloatingPointError, "lower --learning"):
            adaptation.adapt(self.prior, self.task, too_fast)

    def test_classifier_prior_of_another_k_is_the_mean_output(self):
        model = self.prior[1]
        layout = model.supernet.layout
        mu = layout.unflatten(model.mu)
        sigma = layout.unflatten(tf.nn.softplus(model.rho))
        for k in (2, 10):
            other = model.with_num_classes(k)
            other_layout = other.supernet.layout
            other_mu = other_layout.unflatten(other.mu)
            other_sigma = other_layout.unflatten(tf.nn.softplus(other.rho))
            for name in ("classifier/kernel", "classifier/bias"):
                self.assertEqual(other_mu[name].shape[-1], k)
                for column in range(k):
                    self.assertAllClose(
                        other_mu[name][..., column],
                        tf.reduce_mean(mu[name], -1),
                    )
                    self.assertAllClose(
                        other_sigma[name][..., column],
                        tf.reduce_mean(sigma[name], -1),
                    )
            # The rest of W is the prior's.
            self.assertAllEqual(other.alpha, model.alpha)
            for name, value in mu.items():
                if not name.startswith("classifier/"):
                    self.assertAllEqual(other_mu[name], value)
        self.assertIs(model.with_num_classes(3), model)

    def test_ten_cifar10_classes_at_another_size(self):
        # The prior is of 3-class MNIST tasks at 8x8.
        tfds_testing.require_datasets("cifar10")
        config = adaptation.AdaptationConfig(
            steps=2,
            batch_size=8,
            split="test",
            train_per_class=4,
            val_per_class=2,
            image_size=12,
            num_classes=10,
            arch_sample="hard",
            seed=1,
        )
        task = adaptation.make_task(
            "cifar10", self.prior[0], config, tfds_testing.data_dir()
        )
        self.assertEqual(task.num_classes, 10)
        self.assertEqual(task.train_images.shape[1:], (12, 12, 3))
        posterior = adaptation.adapt(self.prior, task, config)
        widened = self.prior[1].with_num_classes(10)
        self.assertEqual(posterior.params.mu.shape, widened.mu.shape)
        self.assertTrue(np.isfinite(posterior.params.mu).all())
        # The same T' steps by hand, from the widened prior, with hard z.
        images, labels = next(
            iter(task.train_dataset(8, seed=config.seed).batch(2))
        )
        expected, _ = inference.inner_loop(
            widened.supernet,
            widened.meta_parameters,
            images,
            labels,
            tiny.CONFIG.inner_loop._replace(arch_sample="hard"),
            tf.constant(1.0),
            tf.constant(float(task.num_train)),
            tf.constant([config.seed, 0], tf.int64),
        )
        for a, b in zip(posterior.params, expected, strict=True):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)
        info = posterior.info
        self.assertEqual(info["num_classes"], 10)
        self.assertEqual(info["image_size"], 12)
        self.assertEqual(info["arch_sample"], "hard")
        self.assertIn("mean of the 3", info["classifier_prior"])
        out = os.path.join(self.get_temp_dir(), "cifar10")
        genotype, _ = adaptation.write_outputs(posterior, out)
        loaded = adaptation.Posterior.load(out)
        for a, b in zip(loaded.params, posterior.params, strict=True):
            self.assertAllEqual(a, b)
        self.assertEqual(loaded.genotype(), genotype)
        self.assertEqual(loaded.info["num_classes"], 10)

    def test_binary_on_a_folder_of_three_classes(self):
        root = os.path.join(self.get_temp_dir(), "three")
        source = data.load_source("mnist", data_dir=tfds_testing.data_dir())
        split = source.materialize("test", data.ImageSpec(20, 20, 1))
        for c, name in enumerate(("zero", "one", "two")):
            folder = os.path.join(root, "train", name)
            os.makedirs(folder)
            for index in split.class_indices[c][:10]:
                tf.io.write_file(
                    os.path.join(folder, f"{index}.png"),
                    tf.io.encode_png(split.images[index]),
                )
        out = os.path.join(self.get_temp_dir(), "folder_adapted")
        command = [
            arg
            for arg in self._adapt_command(out)
            if not arg.startswith(("--dataset", "--data_dir", "--classes"))
        ]
        process = self._run(
            [
                *command,
                f"--dataset={root}",
                "--split=train",
                "--train_per_class=6",
                "--val_per_class=2",
                "--image_size=10",
                "--arch_sample=hard",
            ]
        )
        stdout, stderr = process.communicate(timeout=600)
        self.assertEqual(process.returncode, 0, stderr[-3000:])
        self.assertIn("(one, two, zero)", stdout.replace("'", ""))
        self.assertIn("at 10x10", stdout)
        posterior = adaptation.Posterior.load(out)
        self.assertEqual(posterior.info["num_classes"], 3)
        self.assertEqual(posterior.info["image_size"], 10)
        self.assertEqual(posterior.info["arch_sample"], "hard")
        settings = run_folder.read_settings(out)[1]
        self.assertEqual(settings["num_classes"], 3)
        self.assertEqual(settings["image_size"], 10)

    def _adapt_command(self, out, *extra):
        """bin/adapt on the tiny prior, 2 steps on 3 MNIST classes."""
        return [
            sys.executable,
            "-m",
            "bin.adapt",
            f"--checkpoint={self.run_dir}",
            "--dataset=mnist",
            f"--data_dir={tfds_testing.data_dir()}",
            f"--output_dir={out}",
            "--adapt_steps=2",
            "--batch_size=8",
            "--split=test",
            "--train_per_class=16",
            "--val_per_class=8",
            "--classes=1,7,9",
            *extra,
        ]

    def _run(self, command, **kwargs):
        env = dict(os.environ)
        env["PYTHONPATH"] = tiny.ROOT + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("BUILD_WORKING_DIRECTORY", None)
        return subprocess.Popen(
            command,
            cwd=tiny.ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def _adapt(self, out, *extra):
        process = self._run(self._adapt_command(out, *extra))
        stdout, stderr = process.communicate(timeout=600)
        return process.returncode, stdout, stderr

    def test_binary(self):
        out = os.path.join(self.get_temp_dir(), "binary")
        code, stdout, stderr = self._adapt(out)
        self.assertEqual(code, 0, stderr[-3000:])
        arch = re.search(r"^(\|[a-z0-9_~|+]+\|)$", stdout, re.M)
        self.assertIsNotNone(arch, stdout)
        with open(os.path.join(out, "genotype.txt")) as f:
            self.assertEqual(f.read().strip(), arch.group(1))
        self.assertIn("(1, 7, 9)", stdout.replace("'", ""))
        self.assertRegex(stdout, r"took [0-9.]+ s wall, [0-9.]+ s CPU")
        # The same command again reuses the folder and prints the same.
        before = os.path.getmtime(os.path.join(out, "posterior.json"))
        code, again, stderr = self._adapt(out)
        self.assertEqual(code, 0, stderr[-3000:])
        self.assertIn("reusing it", again)
        self.assertIn(arch.group(1), again)
        # Other flags into the same folder: refused in one line, naming
        # each flag that differs, untouched.
        code, _, stderr = self._adapt(out, "--adapt_steps=1", "--seed=3")
        self.assertEqual(code, 1)
        self.assertEqual(
            stderr.strip().splitlines()[-1],
            f"adapt: error: {out} holds an adaptation run with other "
            "settings: --adapt_steps: 2 there, 1 now; --seed: 0 there, 3 "
            "now. Rerun with that run's settings to resume or reuse it, or "
            "choose another --output_dir (nothing was changed).",
        )
        self.assertEqual(
            before, os.path.getmtime(os.path.join(out, "posterior.json"))
        )

    def test_binary_refuses_bad_folders_before_any_work(self):
        folder = self.get_temp_dir()
        a_file = os.path.join(folder, "a_file")
        with open(a_file, "w") as f:
            f.write("not a folder")
        # An adaptation of an older version: a posterior, no settings.
        older = os.path.join(folder, "older")
        adaptation.write_outputs(
            adaptation.adapt(self.prior, self.task, self.config), older
        )
        older_files = sorted(os.listdir(older))
        for out, message in (
            (
                a_file,
                f"--output_dir {a_file} is a file, not a folder: give a "
                "folder (a new one, or one this same run wrote).",
            ),
            (
                older,
                f"{older} holds an adaptation run made by an older version "
                "of base-tf (posterior.json but no settings.json), which did "
                "not record all of a run's settings, so whether this run's "
                "match cannot be known: choose another --output_dir, or "
                "move that folder away (nothing was changed).",
            ),
        ):
            code, stdout, stderr = self._adapt(out)
            self.assertEqual(code, 1, stderr)
            self.assertEqual(
                stderr.strip().splitlines()[-1], f"adapt: error: {message}"
            )
            self.assertNotIn("loading", stdout)
        self.assertEqual(sorted(os.listdir(older)), older_files)

    def test_binary_fails_at_once_on_a_folder_another_run_holds(self):
        out = os.path.join(self.get_temp_dir(), "held")
        with adaptation.claim_output_dir(
            out, self.run_dir, data.load_source("mnist"), self.config
        ):
            code, stdout, stderr = self._adapt(out)
        self.assertEqual(code, 1, stderr)
        self.assertEqual(
            stderr.strip().splitlines()[-1],
            f"adapt: error: --output_dir {out} is in use: another run is "
            "writing in it now (it holds the folder's lock). Wait for that "
            "run to end, or choose another --output_dir.",
        )
        self.assertNotIn("loading", stdout)

    def test_two_binaries_at_once_never_both_write_the_folder(self):
        out = os.path.join(self.get_temp_dir(), "race")
        seeds = (1, 2)
        processes = [
            self._run(self._adapt_command(out, f"--seed={seed}"))
            for seed in seeds
        ]
        results = [p.communicate(timeout=600) for p in processes]
        codes = [p.returncode for p in processes]
        self.assertCountEqual(codes, [0, 1], results)
        winner = codes.index(0)
        stdout = results[winner][0]
        stderr = results[1 - winner][1]
        # The other: one line, the folder in use, or (if it came after the
        # winner had ended) holding an adaptation with another --seed.
        self.assertRegex(
            stderr.strip().splitlines()[-1],
            r"^adapt: error: (--output_dir .* is in use: another run is "
            r"writing in it now|.* holds an adaptation run with other "
            r"settings: --seed: )",
        )
        # The folder holds the winner's adaptation, whole.
        self.assertEqual(
            run_folder.read_settings(out)[1]["seed"], seeds[winner]
        )
        arch = re.search(r"^(\|[a-z0-9_~|+]+\|)$", stdout, re.M).group(1)
        with open(os.path.join(out, "genotype.txt")) as f:
            self.assertEqual(f.read().strip(), arch)
        self.assertEqual(
            adaptation.Posterior.load(out).info["config"]["seed"],
            seeds[winner],
        )


if __name__ == "__main__":
    tf.test.main()
