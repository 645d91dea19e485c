"""Exporting a trained network for TF Serving, checked on real MNIST digits."""

import errno
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from unittest import mock

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from base_tf import (
    data,
    export,
    exported_model,
    serving_signature,
    training,
    version_folders,
)
from base_tf.search_space import CIFAR_TUNED, OPS, genotype_from_json
from tests import tfds_testing

# The size the network is trained at: MNIST's grey 28x28 digits become
# 12x12 RGB, so a raw digit must be resized and its channel repeated.
SPEC = data.ImageSpec(12, 12, 3)
NUM_TRAIN = 512
NUM_EVAL = 32


def small_network(mean, variance, num_classes):
    """A real network of base_tf ops: normalise, stem, SepConv, pool, dense."""
    inputs = keras.Input(SPEC.shape)
    x = keras.layers.Normalization(mean=mean, variance=variance)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = OPS["sep_conv_3x3"](8, 1, True)(x)
    x = OPS["max_pool_3x3"](8, 2, True)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def file_snapshot(root):
    """Every file under `root`: relative path -> (mtime_ns, bytes)."""
    snapshot = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                snapshot[os.path.relpath(path, root)] = (
                    os.stat(path).st_mtime_ns,
                    f.read(),
                )
    return snapshot


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(args, prefix=(), **env):
    """Runs this Python with the checkout importable and TF's C++ logs off;
    `prefix` is a command that runs it (see `read_only_mount`), `env` more
    environment variables."""
    env = dict(os.environ, PYTHONPATH=_ROOT, TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.run(
        [*prefix, sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=_ROOT,
        timeout=300,
    )


def read_only_mount(folder):
    """A command prefix that runs a program with `folder` on a read-only
    file system: bound read-only onto itself in a user and mount namespace
    of the program's own (util-linux `unshare`). None where the machine
    does not allow such namespaces."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"'
    prefix = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c"]
    prefix += [script + ' && exec "$@"', folder]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def saved_model_cli_run(path, images, outdir, **env):
    """`saved_model_cli run` (the installed program's module) on `images`
    in a subprocess; its outputs, as it wrote them to `outdir`."""
    inputs = os.path.join(outdir, "inputs.npy")
    np.save(inputs, images)
    result = run_python(
        [
            "-m",
            "tensorflow.python.tools.saved_model_cli",
            "run",
            "--dir",
            path,
            "--tag_set",
            "serve",
            "--signature_def",
            serving_signature.SIGNATURE_KEY,
            "--inputs",
            f"{serving_signature.INPUT_KEY}={inputs}",
            "--outdir",
            outdir,
        ],
        **env,
    )
    if result.returncode:
        raise AssertionError(f"saved_model_cli failed:\n{result.stderr}")
    return {
        key: np.load(os.path.join(outdir, f"{key}.npy"), allow_pickle=True)
        for key in serving_signature.OUTPUT_KEYS
    }


def unwritable_folder(parent):
    """A folder this process cannot write in: made read-only, or, for root
    (whom permissions do not stop), sysfs, where no one makes folders.
    None if there is none."""
    if os.geteuid() != 0:
        folder = os.path.join(parent, "read_only")
        os.mkdir(folder, 0o555)
        return folder
    return "/sys" if os.path.isdir("/sys/kernel") else None


# Exports a small network into argv[1] and stops for good once its version
# is written in the staging folder, before the rename: a process to kill
# in the middle of an export.
_EXPORT_THEN_HANG = """
import sys, time
import keras
from base_tf import data, export, version_folders

model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(2)])

def hang(staging, final):
    print(staging, flush=True)
    time.sleep(600)

version_folders.move_into_place = hang
export.export_saved_model(model, sys.argv[1], image_spec=data.ImageSpec(
    4, 4, 1), class_names=["a", "b"])
"""


class ExportTest(tf.test.TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        keras.utils.set_random_seed(0)
        source = data.load_source("mnist", data_dir=tfds_testing.data_dir())
        cls.class_names = list(source.class_names)
        split = source.materialize("test", SPEC)
        cls.raw = source.materialize("test", data.ImageSpec(28, 28, 1))
        train = data.to_float(split.images[:NUM_TRAIN]).numpy()
        cls.model = small_network(
            train.mean(axis=(0, 1, 2)),
            train.var(axis=(0, 1, 2)),
            len(cls.class_names),
        )
        initial = [w.copy() for w in cls.model.get_weights()]
        cls.model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        history = cls.model.fit(
            train, split.labels[:NUM_TRAIN], batch_size=32, epochs=2, verbose=0
        )
        cls.losses = history.history["loss"]
        cls.changed = any(
            not np.array_equal(a, b)
            for a, b in zip(initial, cls.model.get_weights(), strict=True)
        )
        # What training saw: images converted by base_tf.data to SPEC.
        cls.images = split.images[NUM_TRAIN : NUM_TRAIN + NUM_EVAL]
        cls.base = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        cls.path = export.export_saved_model(
            cls.model,
            cls.base,
            image_spec=SPEC,
            class_names=cls.class_names,
            genotype=CIFAR_TUNED,
        )
        cls.exported = exported_model.load_exported(cls.path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.base, ignore_errors=True)
        super().tearDownClass()

    def new_folder(self):
        """A new empty folder (absltest's create_tempdir needs its flags)."""
        return tempfile.mkdtemp(dir=self.get_temp_dir())

    def keras_probabilities(self, images):
        logits = self.model(data.to_float(images), training=False)
        return tf.nn.softmax(logits).numpy()

    def test_outputs_equal_the_keras_model(self):
        self.assertTrue(self.changed, "training did not move the weights")
        self.assertLess(self.losses[-1], self.losses[0])
        self.assertEqual(self.path, os.path.join(self.base, "1"))
        out = self.exported(images=self.images)
        expected = self.keras_probabilities(self.images)
        self.assertEqual(out["probabilities"].dtype, tf.float32)
        self.assertAllClose(out["probabilities"], expected, atol=1e-5, rtol=0)
        classes = np.argmax(expected, axis=-1)
        self.assertEqual(out["classes"].dtype, tf.int64)
        self.assertAllEqual(out["classes"], classes)
        self.assertAllEqual(
            out["class_names"].numpy().astype(str),
            [self.class_names[c] for c in classes],
        )
        # Several classes, so the name lookup is checked on several lines.
        self.assertGreaterEqual(len(set(classes)), 3)

    @parameterized.named_parameters(
        ("raw_grey_28x28", None),
        ("rgb_20x20", data.ImageSpec(20, 17, 3)),
        ("grey_9x9", data.ImageSpec(9, 9, 1)),
    )
    def test_raw_images_are_converted_as_for_training(self, other):
        rows = slice(NUM_TRAIN, NUM_TRAIN + NUM_EVAL)
        if other is None:  # MNIST as stored: 28x28 grey.
            raw = self.raw.images[rows]
            expected = self.keras_probabilities(self.images)
        else:  # Another size and channel count, then brought to SPEC.
            source = data.load_source("mnist", data_dir=tfds_testing.data_dir())
            raw = source.materialize("test", other).images[rows]
            converted = data.convert_images(raw, SPEC)
            expected = self.keras_probabilities(converted)
        out = self.exported(images=raw)
        self.assertAllClose(out["probabilities"], expected, atol=1e-5, rtol=0)
        self.assertAllEqual(out["classes"], np.argmax(expected, axis=-1))

    def test_rgba_alpha_is_dropped(self):
        rgb = self.images[:4]
        rgba = np.concatenate([rgb, np.full_like(rgb[..., :1], 7)], axis=-1)
        out = self.exported(images=rgba)
        self.assertAllClose(
            out["probabilities"], self.keras_probabilities(rgb), atol=1e-5
        )

    def test_saved_model_cli_shows_the_signature(self):
        cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
        if not os.path.exists(cli):
            cli = shutil.which("saved_model_cli")
        self.assertIsNotNone(cli, "saved_model_cli is not installed")
        shown = subprocess.run(
            [cli, "show", "--dir", self.path, "--all"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        self.assertIn("signature_def['serving_default']", shown)
        self.assertIn("Method name is: tensorflow/serving/predict", shown)
        for line in (
            "inputs['images'] tensor_info:",
            "dtype: DT_UINT8",
            "outputs['probabilities'] tensor_info:",
            "shape: (-1, 10)",
            "outputs['classes'] tensor_info:",
            "dtype: DT_INT64",
            "outputs['class_names'] tensor_info:",
            "dtype: DT_STRING",
        ):
            self.assertIn(line, shown)
        # The library's description is the CLI's text for serving_default.
        described = exported_model.describe(self.path)
        signature = described[described.index("signature_def[") :]
        self.assertIn(signature, shown)

    def test_saved_model_cli_run_equals_the_keras_model(self):
        # What TF Serving's C++ loader does: a session restores the
        # variables by name and runs the signature. Raw 28x28 grey digits,
        # so the session converts them to SPEC too.
        served = saved_model_cli_run(
            self.path,
            self.raw.images[NUM_TRAIN : NUM_TRAIN + NUM_EVAL],
            self.new_folder(),
        )
        expected = self.keras_probabilities(self.images)
        self.assertEqual(served["probabilities"].shape, (NUM_EVAL, 10))
        self.assertLessEqual(
            np.abs(served["probabilities"] - expected).max(), 1e-5
        )
        classes = np.argmax(expected, axis=-1)
        self.assertAllEqual(served["classes"], classes)
        self.assertEqual(
            [name.decode() for name in served["class_names"]],
            [self.class_names[c] for c in classes],
        )
        self.assertGreaterEqual(len(set(classes)), 3)

    def test_empty_batch_gives_empty_results(self):
        for shape in ((0, 12, 12, 3), (0, 28, 28, 1)):
            out = self.exported(images=np.zeros(shape, np.uint8))
            self.assertEqual(out["probabilities"].shape, (0, 10))
            self.assertEqual(out["probabilities"].dtype, tf.float32)
            self.assertEqual(out["classes"].shape, (0,))
            self.assertEqual(out["class_names"].shape, (0,))
        # With oneDNN's kernels the network itself fails on an empty batch
        # ("Incompatible shapes: [8] vs. [0,12,12,3]"); on any CPU, oneDNN
        # is on when TF_ENABLE_ONEDNN_OPTS=1.
        served = saved_model_cli_run(
            self.path,
            np.zeros((0, 12, 12, 3), np.uint8),
            self.new_folder(),
            TF_ENABLE_ONEDNN_OPTS="1",
        )
        self.assertEqual(served["probabilities"].shape, (0, 10))
        self.assertEqual(served["classes"].shape, (0,))
        # An empty batch is checked all the same.
        with self.assertRaisesRegex(
            tf.errors.InvalidArgumentError, "1 \\(grey\\), 2"
        ):
            self.exported(images=np.zeros((0, 12, 12, 5), np.uint8))
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "rank 4"):
            self.exported(images=np.zeros((0,), np.uint8))

    def test_wrong_dtype_is_refused(self):
        floats = data.to_float(self.images[:2])
        with self.assertRaisesRegex(ValueError, "must be uint8 pixels"):
            self.exported(images=floats.numpy())
        # The bare signature, as TF Serving runs it, refuses it too.
        with self.assertRaisesRegex(
            tf.errors.InvalidArgumentError, "expected to be a uint8 tensor"
        ):
            self.exported.signature(images=floats)

    @parameterized.named_parameters(
        ("one_image_no_batch", (12, 12, 3), "rank 4; add a batch dimension"),
        ("rank_5", (1, 1, 12, 12, 3), "rank 4"),
        ("five_channels", (1, 12, 12, 5), "1 \\(grey\\), 2"),
        ("empty_image", (1, 0, 12, 3), "height and width >= 1"),
    )
    def test_wrong_shape_is_refused(self, shape, message):
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, message):
            self.exported(images=np.zeros(shape, np.uint8))

    def test_versions_count_up_and_are_never_overwritten(self):
        base = os.path.join(self.get_temp_dir(), "versions")
        kwargs = {"image_spec": SPEC, "class_names": self.class_names}
        first = export.export_saved_model(self.model, base, **kwargs)
        second = export.export_saved_model(self.model, base, **kwargs)
        self.assertEqual(
            [first, second], [os.path.join(base, "1"), os.path.join(base, "2")]
        )
        before = file_snapshot(second)
        self.assertIn("saved_model.pb", before)
        with self.assertRaisesRegex(FileExistsError, "Version 2 already"):
            export.export_saved_model(self.model, base, version=2, **kwargs)
        self.assertEqual(file_snapshot(second), before)
        self.assertEqual(
            export.export_saved_model(self.model, base, version=7, **kwargs),
            os.path.join(base, "7"),
        )
        self.assertEqual(version_folders.list_versions(base), [1, 2, 7])
        # No staging folder is left behind; the base loads its latest.
        self.assertCountEqual(os.listdir(base), ["1", "2", "7"])
        self.assertEqual(
            exported_model.load_exported(base).path, os.path.join(base, "7")
        )
        for bad in (0, -1, True, "3"):
            with self.assertRaisesRegex(ValueError, "positive int"):
                export.export_saved_model(
                    self.model, base, version=bad, **kwargs
                )

    def test_assets_travel_with_the_export(self):
        assets = os.path.join(self.path, "assets")
        with open(
            os.path.join(assets, serving_signature.CLASS_NAMES_ASSET)
        ) as f:
            self.assertEqual(f.read().splitlines(), self.class_names)
        extra = os.path.join(self.path, export.EXTRA_ASSETS_DIR)
        with open(os.path.join(extra, export.GENOTYPE_ASSET)) as f:
            text = f.read()
        self.assertEqual(genotype_from_json(text), CIFAR_TUNED)
        self.assertEqual(json.loads(text)["space"], "darts")
        # Copy the version elsewhere, delete the original: the lookup of
        # the moved copy reads its own assets.
        moved_base = os.path.join(self.get_temp_dir(), "moved")
        original = os.path.join(self.get_temp_dir(), "original")
        export.export_saved_model(
            self.model,
            original,
            image_spec=SPEC,
            class_names=[f"digit {name}" for name in self.class_names],
        )
        shutil.move(original, moved_base)
        self.assertFalse(os.path.exists(original))
        moved = exported_model.load_exported(moved_base)
        out = moved(images=self.images[:8])
        self.assertAllEqual(
            out["class_names"].numpy().astype(str),
            [f"digit {c}" for c in out["classes"].numpy()],
        )

    def test_stale_staging_folders_go_live_and_foreign_ones_stay(self):
        base = self.new_folder()
        old = time.time() - version_folders.STALE_STAGING_SECONDS - 1

        def folder(name, mtime):
            path = os.path.join(base, name)
            os.mkdir(path)
            with open(os.path.join(path, "saved_model.pb"), "w") as f:
                f.write("half")
            os.utime(path, (mtime, mtime))
            return name

        dead = folder(".3.tmp-12345-0123abcd", old)
        live = folder(".4.tmp-12346-89abcdef", old)
        # Maybe an export between creating its folder and locking it.
        fresh = folder(".5.tmp-12347-00000000", time.time())
        foreign = [folder(n, old) for n in (".6.tmp-mine", ".cache", "notes")]
        # A live export holds its folder's lock.
        held = os.open(os.path.join(base, live), os.O_RDONLY)
        try:
            fcntl.flock(held, fcntl.LOCK_EX)
            self.assertEqual(version_folders.prepare_export_base(base), [dead])
        finally:
            os.close(held)
        self.assertCountEqual(os.listdir(base), [live, fresh, *foreign])
        # Its process gone, the next export removes it too.
        export.export_saved_model(
            self.model, base, image_spec=SPEC, class_names=self.class_names
        )
        self.assertCountEqual(os.listdir(base), ["1", fresh, *foreign])

    def test_killed_export_leaves_nothing_after_the_next(self):
        base = self.new_folder()
        with tempfile.TemporaryFile("w+") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-c", _EXPORT_THEN_HANG, base],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=dict(
                    os.environ, PYTHONPATH=_ROOT, TF_CPP_MIN_LOG_LEVEL="3"
                ),
                cwd=_ROOT,
            )
            try:
                ready, _, _ = select.select([child.stdout], [], [], 240)
                staging = child.stdout.readline().strip() if ready else ""
                stderr.seek(0)
                self.assertTrue(staging, f"no export to kill:\n{stderr.read()}")
                self.assertTrue(
                    os.path.isfile(os.path.join(staging, "saved_model.pb"))
                )
                # However old its folder, an export alive keeps it.
                os.utime(staging, (time.time() - 3600,) * 2)
                self.assertEqual(version_folders.prepare_export_base(base), [])
            finally:
                child.kill()
                child.communicate()
        self.assertEqual(os.listdir(base), [os.path.basename(staging)])
        path = export.export_saved_model(
            self.model, base, image_spec=SPEC, class_names=self.class_names
        )
        self.assertEqual(os.listdir(base), ["1"])
        self.assertEqual(path, os.path.join(base, "1"))

    def assert_export_error(self, base, reason):
        """Exporting to `base` fails with one line naming it and `reason`."""
        with self.assertRaises(version_folders.ExportError) as caught:
            export.export_saved_model(
                self.model, base, image_spec=SPEC, class_names=self.class_names
            )
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        self.assertIn(base, message)
        self.assertRegex(message, reason)
        # What the binaries report in one line, as errors of input.
        self.assertIsInstance(caught.exception, ValueError)

    def test_read_only_export_base_is_one_line_error(self):
        parent = self.new_folder()
        existing = os.path.join(parent, "existing")
        os.mkdir(existing)
        read_only = "Read-only file system. Nothing was exported; give an "
        read_only += "export base folder you can write to"
        # On a read-only file system: refused before anything is done.
        statvfs = mock.Mock(f_flag=os.ST_RDONLY)
        with mock.patch.object(export.os, "statvfs", return_value=statvfs):
            self.assert_export_error(
                existing,
                "^export base .* is on a read-only file system: give a "
                "folder you can write in.$",
            )
            self.assert_export_error(
                os.path.join(existing, "new"),
                "^export base .*/new cannot be made: .* is on a read-only "
                "file system. Give a folder you can write in.$",
            )
        # The file system refusing while the version is written: nothing
        # half-written stays.
        real_mkdir = os.mkdir

        def mkdir(path, *args, **kwargs):
            if os.fspath(path).startswith(existing):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
            return real_mkdir(path, *args, **kwargs)

        with mock.patch.object(export.os, "mkdir", side_effect=mkdir):
            self.assert_export_error(existing, read_only)

        def full_disk(archive, path, **kwargs):
            with open(os.path.join(path, "saved_model.pb"), "w") as f:
                f.write("half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        archive_type = type(keras.export.ExportArchive())
        with mock.patch.object(archive_type, "write_out", full_disk):
            self.assert_export_error(
                existing, "No space left on device. Nothing was exported; fix"
            )
        self.assertEqual(os.listdir(existing), [])
        # A folder this process truly cannot write in.
        unwritable = unwritable_folder(parent)
        if unwritable is not None:
            self.assert_export_error(
                os.path.join(unwritable, "base_tf_export"),
                "(Permission denied|Operation not permitted|Read-only"
                "|read-only file system)",
            )

    def test_export_base_that_is_a_file_is_one_line_error(self):
        a_file = os.path.join(self.new_folder(), "file")
        with open(a_file, "w") as f:
            f.write("not a folder")
        self.assert_export_error(
            a_file,
            r"is a file, not a folder: give a folder \(TF Serving's model "
            r"base path\), new or holding earlier versions\.$",
        )
        self.assert_export_error(
            os.path.join(a_file, "base"),
            f"cannot be made: {re.escape(a_file)} is a file. Give a folder "
            "path.$",
        )
        with open(a_file) as f:
            self.assertEqual(f.read(), "not a folder")

    def test_binary_reports_a_bad_export_base_in_one_line(self):
        run = self.new_folder()
        model_dir = os.path.join(run, "train")
        os.mkdir(model_dir)
        self.model.save(os.path.join(model_dir, training.MODEL_FILE))
        metadata = {
            "genotype": CIFAR_TUNED.to_dict(),
            "class_names": self.class_names,
            "image_spec": {"height": 12, "width": 12, "channels": 3},
        }
        with open(os.path.join(model_dir, training.METADATA_FILE), "w") as f:
            json.dump(metadata, f)
        a_file = os.path.join(run, "file")
        with open(a_file, "w") as f:
            f.write("not a folder")
        read_only = os.path.join(run, "read_only_fs")
        os.mkdir(read_only)
        unwritable = unwritable_folder(run)
        cases = [("file", a_file, "is a file, not a folder: give a folder", ())]
        if unwritable is not None:
            cases.append(
                (
                    "unwritable",
                    os.path.join(unwritable, "base_tf_export"),
                    "Permission denied|Operation not permitted|Read-only"
                    "|read-only file system|cannot write in",
                    (),
                )
            )
        mount = read_only_mount(read_only)
        if mount is not None:
            cases.append(
                (
                    "read-only file system",
                    os.path.join(read_only, "serving"),
                    "on a read-only file system. Give a folder you can "
                    "write in",
                    mount,
                )
            )
        for case, base, reason, prefix in cases:
            with self.subTest(case):
                result = run_python(
                    [
                        "-m",
                        "bin.export",
                        f"--model_dir={model_dir}",
                        f"--export_base={base}",
                    ],
                    prefix,
                )
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertRegex(
                    result.stderr,
                    f"^export: error: --export_base[: ][^\n]*"
                    f"{re.escape(base)}[^\n]*({reason})[^\n]*\n$",
                )
        with open(a_file) as f:
            self.assertEqual(f.read(), "not a folder")
        self.assertEqual(os.listdir(read_only), [])

    def test_bad_arguments_write_nothing(self):
        base = os.path.join(self.get_temp_dir(), "bad")
        with self.assertRaisesRegex(
            ValueError, "^The model's output .* 11 class"
        ):
            export.export_saved_model(
                self.model, base, image_spec=SPEC, class_names=["a"] * 11
            )
        with self.assertRaisesRegex(ValueError, "trained at"):
            export.export_saved_model(
                self.model,
                base,
                image_spec=data.ImageSpec(16, 16, 3),
                class_names=self.class_names,
            )
        with self.assertRaisesRegex(ValueError, "without line breaks"):
            export.export_saved_model(
                self.model,
                base,
                image_spec=SPEC,
                class_names=["a\nb"] + self.class_names[1:],
            )
        self.assertEqual(os.listdir(base), [])
        with self.assertRaisesRegex(FileNotFoundError, "numeric versions"):
            exported_model.load_exported(base)


if __name__ == "__main__":
    tf.test.main()
