"""The prior as a `.keras` file: `BayesianSupernet` round trips, the file a
tiny meta-training run writes, adaptation from it, and bad files refused."""

import dataclasses
import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import tensorflow as tf

from base_tf import adaptation, data, meta_training
from base_tf.adaptation_run import run_settings
from base_tf.model import BayesianSupernet
from tests import tfds_testing, tiny


class RoundTripTest(tf.test.TestCase):
    """No data: a small supernet of each space, W moved off its initial
    values so that a rebuilt model's own W_0 could not pass for it."""

    def _round_trip(self, space, num_cells):
        model = BayesianSupernet(
            space,
            channels=4,
            num_cells=num_cells,
            num_classes=3,
            image_channels=1,
            seed=5,
            meta_training={"config": {"seed": 5}, "settings": {"a": [1]}},
        )
        rng = np.random.default_rng(0)
        for v in (model.alpha, model.mu, model.rho):
            v.assign(v + rng.normal(size=v.shape).astype("float32"))
        images = tf.random.stateless_normal((2, 8, 8, 1), (1, 2))
        path = os.path.join(self.get_temp_dir(), f"{space}.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        self.assertIsInstance(loaded, BayesianSupernet)
        self.assertEqual(loaded.get_config(), model.get_config())
        self.assertEqual(loaded.meta_training, model.meta_training)
        for a, b in zip(
            loaded.meta_parameters, model.meta_parameters, strict=True
        ):
            self.assertAllEqual(a, b)
        self.assertAllEqual(loaded(images), model(images))

    def test_darts(self):
        self._round_trip("darts", num_cells=2)

    def test_nas_bench_201(self):
        self._round_trip("nas_bench_201", num_cells=1)

    def test_the_record_must_be_json(self):
        with self.assertRaisesRegex(TypeError, "JSON serializable"):
            BayesianSupernet(
                "nas_bench_201",
                channels=4,
                num_cells=1,
                meta_training={"config": object()},
            )


class PriorFileTest(tf.test.TestCase):
    """The prior.keras of a tiny real meta-training run."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        cls.run_dir = os.path.join(tf.compat.v1.test.get_temp_dir(), "meta")
        config = dataclasses.replace(tiny.CONFIG, epochs=2)
        meta_training.MetaTrainer(config, tiny.tasks(), cls.run_dir).train(
            verbose=0
        )
        cls.file = os.path.join(cls.run_dir, meta_training.PRIOR_FILE)

    def test_the_finished_run_wrote_its_prior_file(self):
        self.assertTrue(os.path.isfile(self.file))
        # Small: W of the tiny supernet, twice (mu, rho), and a config.
        self.assertLess(os.path.getsize(self.file), 2**20)

    def test_the_file_is_the_run_folders_prior(self):
        config, model = meta_training.load_prior(self.run_dir)
        file_config, file_model = meta_training.load_prior(self.file)
        self.assertEqual(file_config, config)
        self.assertEqual(file_model.supernet.image_channels, 3)
        for a, b in zip(
            file_model.meta_parameters, model.meta_parameters, strict=True
        ):
            self.assertAllEqual(a, b)
        images = tf.random.stateless_uniform((2, 8, 8, 3), (3, 4))
        self.assertAllEqual(file_model(images), model(images))
        self.assertEqual(
            meta_training.read_settings(self.file),
            meta_training.read_settings(self.run_dir),
        )
        self.assertEqual(meta_training.read_config(self.file), config)
        self.assertEqual(meta_training.latest(self.file), self.file)

    def test_save_prior_keras_anywhere(self):
        path = os.path.join(self.get_temp_dir(), "mine.keras")
        self.assertEqual(
            meta_training.save_prior_keras(self.run_dir, path), path
        )
        _, model = meta_training.load_prior(self.run_dir)
        _, copy = meta_training.load_prior(path)
        for a, b in zip(
            copy.meta_parameters, model.meta_parameters, strict=True
        ):
            self.assertAllEqual(a, b)
        with self.assertRaisesRegex(ValueError, "must end in .keras"):
            meta_training.save_prior_keras(self.run_dir, path + ".zip")

    def test_adapting_from_the_file_is_adapting_from_the_run(self):
        config = adaptation.AdaptationConfig(
            steps=2,
            batch_size=8,
            classes=[0, 1, 2],
            split="test",
            train_per_class=16,
            val_per_class=8,
            seed=1,
        )
        prior = meta_training.load_prior(self.run_dir)
        source = data.load_source("mnist", data_dir=tfds_testing.data_dir())
        task = adaptation.make_task(source, prior[0], config)
        posterior = adaptation.adapt(prior, task, config)
        from_file = adaptation.adapt(
            meta_training.load_prior(self.file), task, config
        )
        for a, b in zip(from_file.params, posterior.params, strict=True):
            self.assertAllEqual(a, b)
        # bin/adapt records the file as its checkpoint, and the run's
        # settings as its prior's, so its defaults are the run's.
        settings = run_settings(self.file, source, config)
        folder_settings = run_settings(self.run_dir, source, config)
        self.assertEqual(settings.pop("checkpoint"), os.path.abspath(self.file))
        del folder_settings["checkpoint"]
        self.assertEqual(settings, folder_settings)
        # And adapts from the file as the library does from the run.
        out = os.path.join(self.get_temp_dir(), "adapted")
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "bin.adapt",
                f"--checkpoint={self.file}",
                "--dataset=mnist",
                f"--data_dir={tfds_testing.data_dir()}",
                f"--output_dir={out}",
                "--adapt_steps=2",
                "--batch_size=8",
                "--classes=0,1,2",
                "--split=test",
                "--train_per_class=16",
                "--val_per_class=8",
                "--seed=1",
            ],
            cwd=tiny.ROOT,
            env={
                **os.environ,
                "PYTHONPATH": tiny.ROOT
                + os.pathsep
                + os.environ.get("PYTHONPATH", ""),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.assertEqual(process.returncode, 0, process.stderr[-3000:])
        adapted = adaptation.Posterior.load(out)
        for a, b in zip(adapted.params, posterior.params, strict=True):
            self.assertAllClose(a, b, rtol=1e-6, atol=1e-7)

    def test_bad_files_are_refused_saying_what_to_do(self):
        folder = self.get_temp_dir()
        missing = os.path.join(folder, "missing.keras")
        with self.assertRaisesRegex(ValueError, "no such file; pass a meta"):
            meta_training.load_prior(missing)
        text = os.path.join(folder, "text.keras")
        with open(text, "w") as f:
            f.write("not a zip")
        with self.assertRaisesRegex(ValueError, "is not a .keras file"):
            meta_training.load_prior(text)
        other = os.path.join(folder, "dense.keras")
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(other)
        with self.assertRaisesRegex(
            ValueError, "holds a Keras 'Sequential', not a meta-trained prior"
        ):
            meta_training.load_prior(other)
        bare = os.path.join(folder, "bare.keras")
        meta_training.prior_model(tiny.CONFIG).save(bare)
        with self.assertRaisesRegex(
            ValueError, "not the meta-training config and settings"
        ):
            meta_training.read_settings(bare)
        # A record that disagrees with the supernet it came with.
        edited = os.path.join(folder, "edited.keras")
        self._rewrite_record(edited, "config", channels=8)
        with self.assertRaisesRegex(ValueError, "does not fit the config"):
            meta_training.load_prior(edited)
        broken = os.path.join(folder, "broken.keras")
        self._rewrite_record(broken, "config", arch_sample="sometimes")
        with self.assertRaisesRegex(
            ValueError, "is not a meta-training config"
        ):
            meta_training.load_prior(broken)

    def _rewrite_record(self, path, part, **changes):
        """A copy of the run's prior.keras with `changes` in its record."""
        with (
            zipfile.ZipFile(self.file) as src,
            zipfile.ZipFile(path, "w") as dst,
        ):
            for name in src.namelist():
                content = src.read(name)
                if name == "config.json":
                    saved = json.loads(content)
                    saved["config"]["meta_training"][part].update(changes)
                    content = json.dumps(saved)
                dst.writestr(name, content)


if __name__ == "__main__":
    tf.test.main()
