"""Meta-training on real tasks: one epoch, resume, refusals, the NaN guard,
1-channel priors, and bin/meta_train refusing another run's folder."""

import dataclasses
import json
import os
import re

import numpy as np
import tensorflow as tf

from base_tf import adaptation, data, inference, meta_training, run_folder
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
        # Where the epoch's time went; the first epoch traced the loop once.
        for phase in meta_training.PHASES:
            self.assertGreater(results[f"time/{phase}"], 0.0, phase)
        self.assertEqual(results["traces"], 1.0)
        again = trainer.train_epoch()
        self.assertEqual(again["traces"], 1.0)
        self.assertLess(again["time/adaptation"], results["time/adaptation"])

    def test_the_meta_update_steps_toward_each_tasks_inner_loop(self):
        # BASE line 10, checked against the inner loop run by hand on the
        # same tasks: W_1 = W_0 + lambda * mean_c(adapted_c - W_0), each
        # task adapted at the epoch's temperature with its own N and seed.
        # (Until this test, the trainer passed N as the temperature and
        # the temperature as N: tau was ~50-250, phi hardly moved, and
        # the KL terms weighed N times too much.)
        config = dataclasses.replace(
            tiny.CONFIG, epochs=1, arch_learning_rate=5.0, inner_steps=3
        )
        trainer = meta_training.MetaTrainer(
            config, tiny.tasks(), self.get_temp_dir() + "/line10"
        )
        w = trainer.model.meta_parameters
        w = type(w)(*(tf.identity(p) for p in w))
        deltas = []
        for c in range(config.tasks_per_epoch):
            inputs = trainer._sampler.inputs(c)
            self.assertEqual(float(inputs.num_examples), 3 * 16)
            adapted, _ = inference.inner_loop(
                trainer.supernet,
                w,
                inputs.images,
                inputs.labels,
                config.inner_loop,
                tf.constant(config.temperature(0)),
                inputs.num_examples,
                inputs.seed,
            )
            deltas.append([a - b for a, b in zip(adapted, w, strict=True)])
        trainer.train_epoch()
        for k, name in enumerate(("logits", "mu", "rho")):
            expected = w[k] + config.meta_learning_rate * np.mean(
                [d[k] for d in deltas], axis=0
            )
            self.assertAllClose(
                trainer.model.meta_parameters[k], expected, atol=1e-5, msg=name
            )
        # The logits moved: the architecture has a gradient.
        moved = np.abs(trainer.model.meta_parameters.logits - w.logits).max()
        self.assertGreater(moved, 1e-3)

    def test_warm_up_epochs_hold_alpha_and_train_the_weights(self):
        config = dataclasses.replace(
            tiny.CONFIG, epochs=2, arch_warmup_epochs=1, arch_learning_rate=5.0
        )
        trainer = meta_training.MetaTrainer(
            config, tiny.tasks(), self.get_temp_dir() + "/warmup"
        )
        w0 = weights(trainer)
        trainer.train_epoch()
        w1 = weights(trainer)
        self.assertAllEqual(w1[0], w0[0])  # alpha held
        self.assertGreater(np.abs(w1[1] - w0[1]).max(), 0.0)  # mu moved
        trainer.train_epoch()
        self.assertGreater(np.abs(weights(trainer)[0] - w1[0]).max(), 1e-3)
        self.assertEqual(trainer.traces, 1)  # the step size is an input
        with self.assertRaisesRegex(ValueError, "arch_warmup_epochs"):
            dataclasses.replace(config, arch_warmup_epochs=2)

    def test_exchangeable_classes_start_every_task_at_ln_k(self):
        config = dataclasses.replace(tiny.CONFIG, exchangeable_classes=True)
        trainer = meta_training.MetaTrainer(
            config, tiny.tasks(), self.get_temp_dir() + "/x"
        )
        before = weights(trainer)
        results = trainer.train_epoch()
        layout = trainer.supernet.layout
        after = trainer.model.meta_parameters
        for name in ("classifier/kernel", "classifier/bias"):
            for values in (after.mu, after.rho):
                columns = layout.unflatten(values)[name].numpy()
                # Every class's column is the classes' mean ...
                self.assertAllClose(
                    columns, np.broadcast_to(columns[..., :1], columns.shape)
                )
        # ... which a free meta-update does not give.
        free = dataclasses.replace(config, exchangeable_classes=False)
        untied = meta_training.MetaTrainer(
            free, tiny.tasks(), self.get_temp_dir() + "/free"
        )
        untied.train_epoch()
        kernel = layout.unflatten(untied.model.meta_parameters.mu)[
            "classifier/kernel"
        ].numpy()
        self.assertGreater(np.ptp(kernel, axis=-1).max(), 1e-3)
        # The rest of W moved, and the prior's mean network gives each of
        # the K classes 1 / K on real images.
        rest = layout.unflatten(after.mu - before[1])
        self.assertGreater(np.abs(rest["stem/conv"].numpy()).max(), 0.0)
        images, _ = next(iter(tiny.tasks().meta_train.sample(0).val_dataset(8)))
        probs = tf.nn.softmax(trainer.model(images)).numpy()
        k = config.num_classes
        self.assertAllClose(probs, np.full_like(probs, 1.0 / k), atol=1e-5)
        self.assertTrue(np.isfinite(results["val_accuracy_after"]))

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
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            "other settings: channels: 4 there, 8 now; search_space: "
            "'nas_bench_201' there, 'darts' now",
        ):
            meta_training.MetaTrainer(other, tiny.tasks(), path)
        with open(os.path.join(path, meta_training.CONFIG_FILE)) as f:
            self.assertEqual(json.load(f)["search_space"], "nas_bench_201")

    def test_other_tasks_are_refused_naming_each_setting(self):
        tfds_testing.require_datasets("fashion_mnist")
        path = self.get_temp_dir() + "/tasks"
        meta_training.MetaTrainer(tiny.CONFIG, tiny.tasks(), path)
        before = run_folder.read_settings(path)

        def tasks(datasets=("mnist",), channels=3, train_per_class=16):
            return data.TaskDistribution(
                list(datasets),
                num_classes=3,
                config=data.TaskConfig(
                    data.ImageSpec(8, 8, channels),
                    train_split="test",
                    train_per_class=train_per_class,
                    val_per_class=8,
                ),
                data_dir=tfds_testing.data_dir(),
            )

        for other, message in (
            (
                tasks(datasets=("mnist", "fashion_mnist")),
                "datasets: ['mnist'] there, ['mnist', 'fashion_mnist'] now",
            ),
            (tasks(channels=1), "image_channels: 3 there, 1 now"),
            (tasks(train_per_class=12), "train_per_class: 16 there, 12 now"),
        ):
            with self.assertRaisesRegex(
                run_folder.RunFolderError, re.escape(message)
            ):
                meta_training.MetaTrainer(tiny.CONFIG, other, path)
        self.assertEqual(run_folder.read_settings(path), before)
        # What does not change W may change: how often to checkpoint.
        every = dataclasses.replace(tiny.CONFIG, checkpoint_every=2)
        meta_training.MetaTrainer(every, tiny.tasks(), path)
        self.assertEqual(meta_training.read_config(path), every)

    def test_a_run_of_an_older_version_is_refused_but_still_read(self):
        path = self.get_temp_dir() + "/older"
        trainer = meta_training.MetaTrainer(tiny.CONFIG, tiny.tasks(), path)
        trainer.train_epoch()
        trainer.manager.save(checkpoint_number=1)
        trainer.run_folder.release()
        # Older versions recorded the config only.
        os.remove(os.path.join(path, run_folder.SETTINGS_FILE))
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            "holds a meta-training run made by an older version of base-tf "
            r"\(meta_training_config.json but no settings.json\)",
        ):
            meta_training.MetaTrainer(tiny.CONFIG, tiny.tasks(), path)
        config, model = meta_training.load_prior(path)
        self.assertEqual(config, tiny.CONFIG)
        self.assertEqual(model.supernet.image_channels, 3)
        for a, b in zip(
            model.meta_parameters, trainer.model.meta_parameters, strict=True
        ):
            self.assertAllEqual(a, b)

    def test_a_one_channel_prior_is_restored_and_adapted(self):
        path = self.get_temp_dir() + "/grey"
        grey = tiny.tasks(channels=1)
        config = dataclasses.replace(tiny.CONFIG, epochs=1)
        trainer = meta_training.MetaTrainer(config, grey, path)
        trainer.train(verbose=0)
        self.assertEqual(run_folder.read_settings(path)[1]["image_channels"], 1)
        prior = meta_training.load_prior(path)
        self.assertEqual(prior[1].supernet.image_channels, 1)
        for a, b in zip(
            prior[1].meta_parameters, trainer.model.meta_parameters, strict=True
        ):
            self.assertAllEqual(a, b)
        adapt_config = adaptation.AdaptationConfig(
            steps=1, batch_size=8, split="test", train_per_class=16,
            val_per_class=8,
        )  # fmt: skip
        task = adaptation.make_task(
            "mnist", prior[0], adapt_config, tfds_testing.data_dir(), 1
        )
        self.assertEqual(task.train_images.shape[1:], (8, 8, 1))
        posterior = adaptation.adapt(prior, task, adapt_config)
        self.assertTrue(np.isfinite(posterior.params.logits).all())

    def test_binary_refuses_other_datasets_before_any_work(self):
        tfds_testing.require_datasets("fashion_mnist")
        config = dataclasses.replace(tiny.CONFIG, epochs=1)
        path = self.get_temp_dir() + "/binary"
        # A finished run, as meta_train makes it from these flags.
        trainer = meta_training.MetaTrainer(config, tiny.binary_tasks(), path)
        trainer.train(verbose=0)
        trainer.run_folder.release()
        files = {
            os.path.join(d, f): os.path.getmtime(os.path.join(d, f))
            for d, _, names in os.walk(path)
            for f in names
        }
        flags = tiny.binary_flags(config, path)
        process = tiny.meta_train_process(
            [*flags, "--datasets=mnist,fashion_mnist", "--train_per_class=12"]
        )
        out, _ = process.communicate(timeout=300)
        self.assertEqual(process.returncode, 1, out)
        self.assertEqual(
            out.strip().splitlines()[-1],
            f"meta_train: error: {path} holds a meta-training run with "
            "other settings: --datasets: ['mnist'] there, ['mnist', "
            "'fashion_mnist'] now; --train_per_class: 16 there, 12 now. "
            "Rerun with that run's settings to resume or reuse it, or "
            "choose another --output_dir (nothing was changed).",
        )
        self.assertNotIn("resumed", out)
        self.assertEqual(
            files,
            {
                os.path.join(d, f): os.path.getmtime(os.path.join(d, f))
                for d, _, names in os.walk(path)
                for f in names
            },
        )

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

    def test_several_image_sizes_one_trace_each_and_resume(self):
        config = dataclasses.replace(tiny.CONFIG, image_sizes=(8, 12), epochs=2)
        straight = meta_training.MetaTrainer(
            config, tiny.tasks(), self.get_temp_dir() + "/sizes"
        )
        straight.train(verbose=0)
        # One traced function per size, traced once for all the epochs.
        self.assertEqual(sorted(straight._adapt_steps), [8, 12])
        for function in straight._adapt_steps.values():
            self.assertEqual(function.experimental_get_tracing_count(), 1)
        # The sizes are recorded, read back, and resumed with.
        path = self.get_temp_dir() + "/sizes_resumed"
        first = meta_training.MetaTrainer(config, tiny.tasks(), path)
        first.train_epoch()
        first.manager.save(checkpoint_number=1)
        first.run_folder.release()
        del first
        self.assertEqual(meta_training.read_config(path), config)
        self.assertEqual(
            run_folder.read_settings(path)[1]["image_sizes"], [8, 12]
        )
        second = meta_training.MetaTrainer(config, tiny.tasks(), path)
        second.train(verbose=0)
        for a, b in zip(weights(straight), weights(second), strict=True):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)
        # Other sizes into the same folder are refused, naming them.
        with self.assertRaisesRegex(
            run_folder.RunFolderError, r"image_sizes: \[8, 12\] there"
        ):
            meta_training.MetaTrainer(
                dataclasses.replace(config, image_sizes=(8, 16)),
                tiny.tasks(),
                path,
            )

    def test_a_folder_recorded_before_image_sizes_resumes(self):
        path = self.get_temp_dir() + "/before_sizes"
        config = dataclasses.replace(tiny.CONFIG, epochs=1)
        trainer = meta_training.MetaTrainer(config, tiny.tasks(), path)
        trainer.train(verbose=0)
        trainer.run_folder.release()
        del trainer
        settings_path = os.path.join(path, "settings.json")
        with open(settings_path) as f:
            record = json.load(f)
        self.assertIn("image_sizes", json.dumps(record))
        # As an older version wrote them: no image_sizes anywhere.
        for part in (record, record.get("settings", {})):
            part.pop("image_sizes", None)
        with open(settings_path, "w") as f:
            json.dump(record, f)
        config_path = os.path.join(path, meta_training.CONFIG_FILE)
        with open(config_path) as f:
            fields = json.load(f)
        fields.pop("image_sizes")
        with open(config_path, "w") as f:
            json.dump(fields, f)
        self.assertEqual(meta_training.read_config(path), config)
        again = meta_training.MetaTrainer(config, tiny.tasks(), path)
        self.assertEqual(int(again.epoch.numpy()), 1)

    def test_binary_with_sizes_held_out_classes_and_hard_samples(self):
        config = dataclasses.replace(tiny.CONFIG, epochs=1)
        path = self.get_temp_dir() + "/binary_sizes"
        flags = [
            f
            for f in tiny.binary_flags(config, path)
            if not f.startswith("--eval_tasks")
        ]
        process = tiny.meta_train_process(
            [
                *flags,
                "--image_sizes=8,12",
                "--held_out_classes=mnist:7,8,9",
                "--arch_sample=hard",
                "--rho_learning_rate=0",
                "--eval_tasks=1",
            ]
        )
        out, _ = process.communicate(timeout=600)
        self.assertEqual(process.returncode, 0, out[-3000:])
        self.assertRegex(
            out,
            r"held-out tasks of mnist's held-out classes at 8x8, 1 of them: "
            r"validation accuracy [0-9.]+ before and [0-9.]+ after",
        )
        settings = run_folder.read_settings(path)[1]
        self.assertEqual(settings["image_sizes"], [8, 12])
        self.assertEqual(settings["held_out_classes"], {"mnist": [7, 8, 9]})
        self.assertEqual(settings["arch_sample"], "hard")
        self.assertEqual(settings["rho_learning_rate"], 0.0)
        # rho_learning_rate=0 holds sigma at prior_sigma.
        _, model = meta_training.load_prior(path)
        self.assertAllClose(
            tf.nn.softplus(model.rho), tf.fill(model.rho.shape, 0.02)
        )

    def test_bad_config_is_refused(self):
        with self.assertRaisesRegex(ValueError, "must be one of image_sizes"):
            dataclasses.replace(tiny.CONFIG, image_sizes=(12, 16))
        with self.assertRaisesRegex(ValueError, "image_sizes must be"):
            dataclasses.replace(tiny.CONFIG, image_sizes=(8, 8))
        with self.assertRaisesRegex(ValueError, "2 image sizes"):
            meta_training.MetaTrainer(
                dataclasses.replace(
                    tiny.CONFIG, image_sizes=(8, 12), tasks_per_epoch=3
                ),
                tiny.tasks(),
                self.get_temp_dir() + "/three",
            )
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
