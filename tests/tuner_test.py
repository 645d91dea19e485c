"""BASE as a keras-tuner oracle: real searches on MNIST, resume, feedback."""

import dataclasses
import math
import os

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from base_tf import (
    adaptation,
    hyperparameters,
    inference,
    meta_training,
    tuner,
)
from base_tf.hypermodel import DerivedNetwork
from base_tf.search_space import CIFAR_TUNED, NasBench201Genotype, darts
from tests import tfds_testing, tiny

ADAPT = adaptation.AdaptationConfig(
    steps=3,
    batch_size=8,
    split="test",
    train_per_class=64,
    val_per_class=32,
    seed=2,
)
OBJECTIVE = keras_tuner.Objective("val_accuracy", "max")
NB201_CONV = NasBench201Genotype.from_string(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)

# Fits started, across the deep copies keras-tuner makes of callbacks.
_FITS = []


class CountFits(keras.callbacks.Callback):
    """Counts fits; raises keras-tuner's FatalError at fit `crash_at`."""

    def __init__(self, crash_at=None):
        super().__init__()
        self.crash_at = crash_at

    def on_train_begin(self, logs=None):
        _FITS.append(1)
        if len(_FITS) == self.crash_at:
            raise keras_tuner.errors.FatalError("killed mid-trial")


def trial_genotypes(oracle):
    return {
        trial_id: hyperparameters.declare(
            trial.hyperparameters.copy(), oracle.space
        )
        for trial_id, trial in sorted(oracle.trials.items())
    }


class TunerTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        root = tf.compat.v1.test.get_temp_dir()
        cls.run_dir = os.path.join(root, "meta")
        cls.adapted_dir = os.path.join(root, "adapted")
        meta_training.MetaTrainer(tiny.CONFIG, tiny.tasks(), cls.run_dir).train(
            verbose=0
        )
        prior = meta_training.load_prior(cls.run_dir)
        cls.task = adaptation.make_task(
            "mnist", prior[0], ADAPT, tfds_testing.data_dir()
        )
        cls.posterior = adaptation.adapt(prior, cls.task, ADAPT)
        adaptation.write_outputs(cls.posterior, cls.adapted_dir)

    def setUp(self):
        super().setUp()
        _FITS.clear()
        self.hypermodel = DerivedNetwork(
            "nas_bench_201", 3, (8, 8, 3), channels=4, num_cells=1
        )
        # 6 batches an epoch (of 192 images): a dataset of known length.
        self.train = self.task.train_dataset(32, seed=0).take(6)
        self.val = self.task.val_dataset(32)

    def search(self, oracle, directory, overwrite, crash_at=None):
        search = keras_tuner.Tuner(
            oracle=oracle,
            hypermodel=self.hypermodel,
            directory=directory,
            project_name="base",
            overwrite=overwrite,
        )
        search.search(
            self.train,
            validation_data=self.val,
            epochs=1,
            verbose=0,
            callbacks=[CountFits(crash_at)],
        )
        return search

    def test_search_proposes_the_mode_then_distinct_draws(self):
        oracle = tuner.BASEOracle(
            self.adapted_dir, objective=OBJECTIVE, max_trials=3, seed=1
        )
        search = self.search(oracle, self.get_temp_dir(), overwrite=True)
        self.assertLen(_FITS, 3)
        genotypes = trial_genotypes(oracle)
        self.assertLen(genotypes, 3)
        self.assertLen({str(g) for g in genotypes.values()}, 3)
        self.assertEqual(genotypes["0"], self.posterior.genotype())
        trials = oracle.get_best_trials(3)
        self.assertTrue(all(t.status == "COMPLETED" for t in trials))
        best = trials[0]
        self.assertEqual(best.score, max(t.score for t in trials))
        best_hp = search.get_best_hyperparameters(1)[0]
        self.assertEqual(best_hp.values, best.hyperparameters.values)
        self.assertIn("cell/node3/from2", best_hp.values)
        model = search.get_best_models(1)[0]
        _, accuracy = model.evaluate(self.val, verbose=0)
        self.assertAllClose(accuracy, best.score, atol=1e-6)

    def test_an_interrupted_search_resumes_without_repeating(self):
        directory = self.get_temp_dir()
        first = tuner.BASEOracle(
            self.adapted_dir, objective=OBJECTIVE, max_trials=4, seed=5
        )
        with self.assertRaisesRegex(keras_tuner.errors.FatalError, "killed"):
            self.search(first, directory, overwrite=True, crash_at=3)
        interrupted = first.trials["2"].hyperparameters.values
        self.assertEqual(first.trials["2"].status, "RUNNING")

        _FITS.clear()
        second = tuner.BASEOracle(
            self.adapted_dir, objective=OBJECTIVE, max_trials=4, seed=5
        )
        self.search(second, directory, overwrite=False)
        # Trial 2 ran again (it never finished), then trial 3: two fits.
        self.assertLen(_FITS, 2)
        self.assertEqual(sorted(second.trials), ["0", "1", "2", "3"])
        self.assertTrue(
            all(t.status == "COMPLETED" for t in second.trials.values())
        )
        self.assertEqual(second.trials["2"].hyperparameters.values, interrupted)
        genotypes = trial_genotypes(second)
        self.assertLen({str(g) for g in genotypes.values()}, 4)

    def test_adapts_itself_from_a_meta_training_run(self):
        oracle = tuner.BASEOracle.from_prior(
            self.run_dir,
            "mnist",
            adaptation_config=ADAPT,
            data_dir=tfds_testing.data_dir(),
            objective=OBJECTIVE,
        )
        self.assertAllClose(
            oracle.op_probabilities, self.posterior.op_probabilities
        )
        # The posterior travels in the state: restored, it is not adapted
        # again (this oracle's other seed would adapt to another one).
        restored = tuner.BASEOracle.from_prior(
            self.run_dir,
            "mnist",
            adaptation_config=adaptation.AdaptationConfig(seed=9),
            data_dir=tfds_testing.data_dir(),
        )
        restored.set_state(oracle.get_state())
        self.assertAllClose(
            restored.op_probabilities, self.posterior.op_probabilities
        )


class AdaptingOracleTest(tf.test.TestCase):
    """`from_prior` on a real prior of grey images: adapted when first
    needed, on images brought to the prior's one channel."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        cls.run_dir = os.path.join(tf.compat.v1.test.get_temp_dir(), "grey")
        grey = tiny.tasks(channels=1)
        config = dataclasses.replace(tiny.CONFIG, epochs=1)
        meta_training.MetaTrainer(config, grey, cls.run_dir).train(verbose=0)

    def test_adapts_on_first_use_to_the_priors_image_channels(self):
        oracle = tuner.BASEOracle.from_prior(
            self.run_dir,
            "mnist",
            adaptation_config=ADAPT,
            data_dir=tfds_testing.data_dir(),
        )
        # The grey prior's stem takes one channel: adapting it to images of
        # three would fail. The oracle's q(z|D) is adapted_posterior's.
        expected = tuner.adapted_posterior(
            self.run_dir, "mnist", ADAPT, tfds_testing.data_dir()
        )
        self.assertAllClose(oracle.op_probabilities, expected.op_probabilities)

    def test_nothing_is_read_or_adapted_before_first_use(self):
        # The dataset is read only when q(z|D) is first needed.
        oracle = tuner.BASEOracle.from_prior(
            self.run_dir, "no_such_dataset", data_dir=tfds_testing.data_dir()
        )
        self.assertEqual(oracle.space.name, "nas_bench_201")
        with self.assertRaisesRegex(ValueError, "no_such_dataset"):
            oracle.op_probabilities  # noqa: B018


class DartsOracleTest(tf.test.TestCase):
    """The oracle over the DARTS space, without training networks."""

    def setUp(self):
        super().setUp()
        probs = np.full((2, 14, 8), 0.05)
        for c, cell_type in enumerate(("normal", "reduce")):
            for k, pairs in zip(
                (2, 3, 4, 5), CIFAR_TUNED.nodes(cell_type), strict=True
            ):
                for op, source in pairs:
                    e = darts.EDGES.index((source, k))
                    probs[c, e, darts.PRIMITIVES.index(op)] = 1.0
        posterior = adaptation.Posterior(
            inference.VariationalParameters(np.log(probs), np.zeros(1), None),
            meta_training.MetaTrainingConfig(search_space="darts"),
            {},
        )
        self.oracle = tuner.BASEOracle(
            posterior, objective=OBJECTIVE, max_trials=6, seed=0, feedback=1.0
        )
        self.oracle._set_project_dir(self.get_temp_dir(), "darts")

    def run_trial(self, score):
        trial = self.oracle.create_trial("tuner0")
        self.oracle.update_trial(trial.trial_id, {"val_accuracy": score})
        trial.status = "COMPLETED"
        self.oracle.end_trial(trial)
        return hyperparameters.declare(trial.hyperparameters.copy(), "darts")

    def test_names_mode_and_feedback(self):
        names = self.oracle.get_space().values
        self.assertIn("normal/node2/input0", names)
        self.assertIn("reduce/node5/op1", names)
        first = self.run_trial(0.9)
        # Trial 1 is CIFAR_TUNED, both of node 3's inputs from node 0.
        self.assertEqual(
            hyperparameters.values(first), hyperparameters.values(CIFAR_TUNED)
        )
        self.assertEqual(first.nodes("normal")[1][0][1], 0)
        self.assertEqual(first.nodes("normal")[1][1][1], 0)
        second = self.run_trial(0.1)
        self.assertNotEqual(
            hyperparameters.values(second), hyperparameters.values(first)
        )
        # Advantages +1 and -1: a choice of the first trial only is
        # weighted e times its probability, of the second only 1/e.
        ratio = self.oracle.proposal_weights() / self.oracle.op_probabilities
        only_first = set(self.indices(first)) - set(self.indices(second))
        only_second = set(self.indices(second)) - set(self.indices(first))
        self.assertNotEmpty(only_first)
        for index in only_first:
            self.assertAllClose(ratio[index], math.e)
        for index in only_second:
            self.assertAllClose(ratio[index], 1 / math.e)
        seen = {str(first), str(second)}
        for score in (0.5, 0.6, 0.7, 0.8):
            seen.add(str(self.run_trial(score)))
        self.assertLen(seen, 6)
        self.assertEqual(self.oracle.create_trial("tuner0").status, "STOPPED")

    def indices(self, genotype):
        hp = keras_tuner.HyperParameters()
        hyperparameters.declare(hp, "darts")
        hp.values.update(hyperparameters.values(genotype))
        return self.oracle._choice_indices(hp)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "feedback must be >= 0"):
            tuner.BASEOracle(self.oracle_posterior(), feedback=-1.0)
        with self.assertRaisesRegex(ValueError, "deterministic"):
            tuner.BASEOracle(self.oracle_posterior(), rule="darts")
        state = self.oracle.get_state()
        state["base"]["space"] = "nas_bench_201"
        with self.assertRaisesRegex(ValueError, "nas_bench_201 space"):
            self.oracle.set_state(state)

    def oracle_posterior(self):
        return adaptation.Posterior(
            inference.VariationalParameters(
                np.zeros((2, 14, 8)), np.zeros(1), None
            ),
            meta_training.MetaTrainingConfig(search_space="darts"),
            {},
        )


def a_posterior(space):
    """An adapted posterior over `space`, every op equally likely."""
    shape = {"darts": (2, 14, 8), "nas_bench_201": (1, 6, 5)}[space]
    return adaptation.Posterior(
        inference.VariationalParameters(np.zeros(shape), np.zeros(1), None),
        meta_training.MetaTrainingConfig(search_space=space),
        {},
    )


class TunerInputTest(tf.test.TestCase):
    """What the hypermodel refuses, before any trial trains; no data set."""

    def test_a_hypermodel_of_the_other_space_is_refused(self):
        for oracle_space, model_space in (
            ("nas_bench_201", "darts"),
            ("darts", "nas_bench_201"),
        ):
            with self.subTest(oracle=oracle_space, hypermodel=model_space):
                oracle = tuner.BASEOracle(
                    a_posterior(oracle_space), objective=OBJECTIVE
                )
                hypermodel = DerivedNetwork(
                    model_space, 3, (8, 8, 3), channels=4, num_cells=1
                )
                with self.assertRaisesRegex(
                    keras_tuner.errors.FatalValueError,
                    f"DerivedNetwork\\('{model_space}'\\) was given the "
                    f"hyperparameters of the {oracle_space} space.* Use "
                    f"DerivedNetwork\\('{oracle_space}'\\)",
                ):
                    keras_tuner.Tuner(
                        oracle=oracle,
                        hypermodel=hypermodel,
                        directory=self.get_temp_dir(),
                        project_name=f"{oracle_space}_{model_space}",
                    )
        # The matching space builds.
        hp = keras_tuner.HyperParameters()
        hyperparameters.declare(hp, "nas_bench_201")
        DerivedNetwork(
            "nas_bench_201", 3, (8, 8, 3), channels=4, num_cells=1
        ).build(hp)

    def test_images_that_are_not_floats_in_0_1_are_refused(self):
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
        labels = rng.integers(0, 3, 8)
        floats = pixels.astype(np.float32) / 255

        def batches(images):
            ds = tf.data.Dataset.from_tensor_slices((images, labels))
            return ds.batch(4)

        cases = [
            ("uint8", batches(pixels), "are uint8.*convert_image_dtype"),
            (
                "0..255 floats",
                batches(pixels.astype(np.float32)),
                r"values in \[\d+, 2\d\d\].*divide 0..255 pixels by 255",
            ),
            ("a uint8 array", pixels, "training images are uint8"),
        ]
        for case, images, message in cases:
            with self.subTest(case):
                _FITS.clear()
                oracle = tuner.BASEOracle(
                    a_posterior("nas_bench_201"),
                    objective=OBJECTIVE,
                    max_trials=2,
                )
                search = keras_tuner.Tuner(
                    oracle=oracle,
                    hypermodel=DerivedNetwork(
                        "nas_bench_201", 3, (8, 8, 3), channels=4, num_cells=1
                    ),
                    directory=self.get_temp_dir(),
                    project_name=case.replace(" ", "_"),
                )
                fit_args = (
                    (images,)
                    if case != "a uint8 array"
                    else (
                        images,
                        labels,
                    )
                )
                # A fatal error: the first trial stops the search at once,
                # nothing trained (no retries of a trial that must fail).
                with self.assertRaisesRegex(
                    keras_tuner.errors.FatalValueError, message
                ):
                    search.search(
                        *fit_args,
                        validation_data=batches(floats),
                        epochs=1,
                        verbose=0,
                        callbacks=[CountFits()],
                    )
                self.assertEmpty(_FITS)
        # Validation images are checked too.
        hypermodel = DerivedNetwork(
            "nas_bench_201", 3, (8, 8, 3), channels=4, num_cells=1
        )
        hp = keras_tuner.HyperParameters()
        hyperparameters.declare(hp, "nas_bench_201")
        hp.values.update(hyperparameters.values(NB201_CONV))
        model = hypermodel.build(hp)
        with self.assertRaisesRegex(ValueError, "validation images are uint8"):
            hypermodel.fit(
                hp, model, batches(floats), validation_data=(pixels, labels)
            )
        # Floats in [0, 1] train.
        history = hypermodel.fit(
            hp, model, batches(floats), validation_data=batches(floats),
            epochs=1, verbose=0,
        )  # fmt: skip
        self.assertIn("val_accuracy", history.history)


if __name__ == "__main__":
    tf.test.main()
