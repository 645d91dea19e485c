"""The smallest real meta-training setup, shared by the meta-training tests:
a 1-cell NAS-Bench-201 supernet at C=4 on 3-class MNIST tasks at 8x8."""

import dataclasses
import os
import subprocess
import sys

from base_tf import data, meta_training
from tests import tfds_testing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = meta_training.MetaTrainingConfig(
    search_space="nas_bench_201",
    channels=4,
    num_cells=1,
    num_classes=3,
    image_size=8,
    epochs=3,
    tasks_per_epoch=2,
    inner_steps=2,
    batch_size=8,
    checkpoint_every=1,
)


def tasks(seed=0, channels=3):
    """3-class tasks of MNIST's test split (10k images: quick to load), as
    `channels`-channel images (1: the grey prior's)."""
    return data.TaskDistribution(
        ["mnist"],
        num_classes=3,
        config=data.TaskConfig(
            data.ImageSpec(8, 8, channels),
            train_split="test",
            train_per_class=16,
            val_per_class=8,
        ),
        seed=seed,
        data_dir=tfds_testing.data_dir(),
    )


# The same run through //bin:meta_train, whose tasks come from MNIST's
# train split with these counts (see `binary_tasks`).
TRAIN_PER_CLASS, VAL_PER_CLASS = 16, 8


def binary_flags(config, output_dir, strategy="default"):
    """meta_train flags for `config` on `binary_tasks()` (fields at their
    default are left to meta_train's defaults: some have no flag)."""
    fields = dataclasses.asdict(config)
    defaults = dataclasses.asdict(meta_training.MetaTrainingConfig())
    return [f"--{k}={v}" for k, v in fields.items() if v != defaults[k]] + [
        "--datasets=mnist",
        "--held_out_datasets=",
        f"--train_per_class={TRAIN_PER_CLASS}",
        f"--val_per_class={VAL_PER_CLASS}",
        "--eval_tasks=0",
        f"--strategy={strategy}",
        f"--data_dir={tfds_testing.data_dir()}",
        f"--output_dir={output_dir}",
    ]


def binary_tasks(config=CONFIG):
    """The task distribution meta_train builds from `binary_flags`."""
    return data.TaskDistribution(
        ["mnist"],
        num_classes=config.num_classes,
        config=data.TaskConfig(
            data.ImageSpec(config.image_size, config.image_size, 3),
            train_per_class=TRAIN_PER_CLASS,
            val_per_class=VAL_PER_CLASS,
        ),
        data_dir=tfds_testing.data_dir(),
    )


def meta_train_process(flags, env=None):
    """Starts `python -m bin.meta_train flags` from the repository root."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("BUILD_WORKING_DIRECTORY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bin.meta_train", *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
