"""Meta-training on real tasks: one epoch, resume, refusals, the NaN guard."""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from base_tf import meta_training
from tests import tfds_testing, tiny


def weights(trainer):
    return [t.numpy() for t in trainer.model.meta_parameters]


class MetaTrainingTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        tfds_testing.require_datasets("mnist")

    def test_an_epoch_moves_w_and_reports(self):
        trainer = meta_training.MetaTrainer(
            tiny.CONFIG, tiny.tasks(), self.get_temp_dir() + "/a"
        )
        before = weights(trainer)
        results = trainer.train_epoch()
        after = weights(trainer)
        for b, a in zip(before, after, strict=True):
            self.assertTrue(np.all(np.isfinite(a)))
            self.assertGreater(np.abs(a - b).max(), 0.0)
        self.assertEqual(results["finite_tasks"], 2.0)
        for key in ("elbo", "nll", "val_accuracy_before", "val_accuracy_after"):
            self.assertTrue(np.isfinite(results[key]), key)
        # What the prior learned, and the size of the step that moved it.
        for key, b, a in zip(
            ("alpha", "mu", "rho"), before, after, strict=True
        ):
            self.assertAllClose(
                results[f"meta_update_norm/{key}"],
                np.linalg.norm(a - b),
                rtol=1e-4,
            )
        sigma = np.log1p(np.exp(after[2]))
        self.assertAllClose(results["prior/sigma_min"], sigma.min(), rtol=1e-5)
        self.assertAllClose(results["prior/sigma_max"], sigma.max(), rtol=1e-5)
        self.assertBetween(results["prior/relative_entropy"], 0.0, 1.0)
        self.assertTrue(os.listdir(os.path.join(trainer.output_dir, "logs")))

    def test_resumed_run_ends_with_the_same_w(self):
        straight = meta_training.MetaTrainer(
            tiny.CONFIG, tiny.tasks(), self.get_temp_dir() + "/straight"
        )
        straight.train(verbose=0)
        # An interrupted run: one epoch, saved, then a new process-like start.
        path = self.get_temp_dir() + "/resumed"
        first = meta_training.MetaTrainer(tiny.CONFIG, tiny.tasks(), path)
        first.train_epoch()
        first.manager.save(checkpoint_number=1)
        del first
        second = meta_training.MetaTrainer(tiny.CONFIG, tiny.tasks(), path)
        self.assertEqual(int(second.epoch.numpy()), 1)
        history = second.train(verbose=0)
        self.assertLen(history, 2)
        for a, b in zip(weights(straight), weights(second), strict=True):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)

    def test_another_config_is_refused_before_restoring(self):
        path = self.get_temp_dir() + "/refuse"
        meta_training.MetaTrainer(tiny.CONFIG, tiny.tasks(), path).train(
            verbose=0
        )
        other = dataclasses.replace(
            tiny.CONFIG, search_space="darts", channels=8
        )
        with self.assertRaisesRegex(ValueError, "another config.*search_space"):
            meta_training.MetaTrainer(other, tiny.tasks(), path)
        with open(os.path.join(path, meta_training.CONFIG_FILE)) as f:
            self.assertEqual(json.load(f)["search_space"], "nas_bench_201")

    def test_nan_tasks_are_left_out_and_w_stays_finite(self):
        bad = dataclasses.replace(
            tiny.CONFIG, learning_rate=1e30, arch_learning_rate=1e30
        )
        trainer = meta_training.MetaTrainer(
            bad, tiny.tasks(), self.get_temp_dir() + "/nan"
        )
        before = weights(trainer)
        results = trainer.train_epoch()
        self.assertEqual(results["skipped_tasks"], 2.0)
        for b, a in zip(before, weights(trainer), strict=True):
            self.assertAllEqual(a, b)

    def test_bad_config_is_refused(self):
        with self.assertRaisesRegex(
            ValueError, "inner_steps must be a positive int"
        ):
            dataclasses.replace(tiny.CONFIG, inner_steps=0)
        with self.assertRaisesRegex(ValueError, "arch_optimizer must be one"):
            dataclasses.replace(tiny.CONFIG, arch_optimizer="rmsprop")
        with self.assertRaisesRegex(ValueError, "rho_learning_rate must be"):
            dataclasses.replace(tiny.CONFIG, rho_learning_rate=-1.0)
        with self.assertRaisesRegex(ValueError, "image_size=16"):
            meta_training.MetaTrainer(
                dataclasses.replace(tiny.CONFIG, image_size=16),
                tiny.tasks(),
                self.get_temp_dir() + "/size",
            )


if __name__ == "__main__":
    tf.test.main()
