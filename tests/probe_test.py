"""Bad inputs to the real binaries (issue 11), each refused in one line.

Every probe runs a binary as a user would, `python -m bin.<name>` from the
checkout, with one bad input, and asserts: exit status 1 (bin/cli.py's
status for an input error), stderr exactly one line, `<name>: error: ...`,
that says what it must (the flag or input, and what to do), and every run
folder unchanged afterwards (the same files with the same sizes, times and
contents; an output folder that did not exist still does not). The run
folders are real runs of the binaries, made first: a meta-training, an
adaptation of it and a training, all tiny.

It prints a table of the messages. Bad inputs of issue 11 that are not
command lines are tested where they live: images of the wrong dtype or an
empty batch sent to the exported signature (tests/export_test.py), two
adaptations into one folder at once (tests/adaptation_test.py), a killed
export (tests/export_test.py) and a killed bin/train
(tests/train_resume_test.py).
"""

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent import futures

from absl.testing import absltest

from tests import tfds_testing, tiny
from tests.export_test import read_only_mount
from tests.training_test import write_mnist_folder

_ROOT = tiny.ROOT


@dataclasses.dataclass
class Probe:
    """One bad command line and what its one line must say.

    Attributes:
        name: what is wrong, for the table.
        binary: the program under bin/.
        flags: its flags; `{name}` is replaced by the fixture's path.
        message: a regular expression the error line must match, after
            `<binary>: error: `.
        new_folders: folders (as in `flags`) that must not exist after.
        pending: why the probe still fails, while work on it is under
            way: the table marks it and the test does not fail for it (it
            fails when the probe passes, to have the mark dropped).
    """

    name: str
    binary: str
    flags: list
    message: str
    new_folders: tuple = ()
    pending: str = ""


def run_binary(binary, flags, prefix=()):
    """Runs `python -m bin.<binary> flags`; (exit status, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=_ROOT)
    env.pop("BUILD_WORKING_DIRECTORY", None)
    result = subprocess.run(
        [*prefix, sys.executable, "-m", f"bin.{binary}", *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=_ROOT,
        timeout=600,
    )
    return result.returncode, result.stdout, result.stderr


def snapshot(folder):
    """Every file under `folder`: {path: (size, mtime, SHA-1)}; None if
    `folder` does not exist."""
    if not os.path.exists(folder):
        return None
    if os.path.isfile(folder):
        return {"": _file_state(folder)}
    state = {}
    for parent, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            state[os.path.relpath(path, folder)] = _file_state(path)
    return state


def _file_state(path):
    with open(path, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns, digest


# A tiny network on the MNIST folder, as train_resume_test trains it.
TRAIN_FLAGS = [
    "--genotype=CIFAR_TUNED",
    "--image_size=16",
    "--channels=4",
    "--num_cells=1",
    "--epochs=1",
    "--batch_size=32",
    "--verbose=0",
]


def adapt_flags(checkpoint, output_dir):
    """bin/adapt on the tiny prior: 2 steps on 3 MNIST classes."""
    return [
        f"--checkpoint={checkpoint}",
        "--dataset=mnist",
        f"--data_dir={tfds_testing.data_dir()}",
        f"--output_dir={output_dir}",
        "--adapt_steps=2",
        "--batch_size=8",
        "--split=test",
        "--train_per_class=16",
        "--val_per_class=8",
        "--classes=1,7,9",
    ]


def probes(read_only):
    """The bad inputs of issue 11; `read_only`: whether a read-only file
    system can be had here (see `read_only_mount`)."""
    meta_flags = tiny.binary_flags(
        dataclasses.replace(tiny.CONFIG, epochs=1), "{meta}"
    )

    def meta(**changes):
        flags = [f for f in meta_flags if f.split("=")[0][2:] not in changes]
        return flags + [f"--{k}={v}" for k, v in changes.items()]

    adapt = adapt_flags("{meta}", "{adapt}")
    train = TRAIN_FLAGS + ["--dataset={mnist}", "--output_dir={train}"]
    found = [
        Probe(
            "--eval_tasks below 0",
            "meta_train",
            meta(eval_tasks=-1, output_dir="{new}"),
            r"--eval_tasks=-1: .*0 \(none\) or more\.",
            ("{new}",),
        ),
        Probe(
            "--epochs 0",
            "meta_train",
            meta(epochs=0, output_dir="{new}"),
            r"--epochs must be a positive int, got 0\.",
            ("{new}",),
        ),
        Probe(
            "--output_dir a file",
            "meta_train",
            meta(output_dir="{a_file}"),
            r".*{a_file}.* (is )?a file",
        ),
        Probe(
            "rerun with other --datasets",
            "meta_train",
            meta(datasets="fashion_mnist"),
            r".*--datasets: \['mnist'\] there, \['fashion_mnist'\] now",
        ),
        Probe(
            "--num_classes above a dataset's classes",
            "meta_train",
            meta(num_classes=11, output_dir="{new}"),
            r"num_classes=11 needs 11 .*: lower num_classes \(--num_classes\)"
            r" to 10 or less",
            ("{new}",),
        ),
        Probe(
            "--output_dir a file",
            "adapt",
            [f for f in adapt if not f.startswith("--output_dir")]
            + ["--output_dir={a_file}"],
            r".*{a_file}.* (is )?a file",
        ),
        Probe(
            "--adapt_steps below 0",
            "adapt",
            [
                f
                for f in adapt
                if not f.startswith(("--adapt_steps", "--output_dir"))
            ]
            + ["--adapt_steps=-1", "--output_dir={new}"],
            r"--adapt_steps=-1: give the inner-loop steps T' from the prior "
            r"W, 0 \(the prior's own architecture\) or more\.",
            ("{new}",),
        ),
        Probe(
            "rerun with another --seed",
            "adapt",
            adapt + ["--seed=3"],
            r".*--seed: 0 there, 3 now",
        ),
        Probe(
            "a class with no training images",
            "train",
            TRAIN_FLAGS + ["--dataset={empty_class}", "--output_dir={new}"],
            r".*1 of its 10 classes have no 'train' images \('7'\).*add "
            r"images to {empty_class}/train/7",
            ("{new}",),
        ),
        Probe(
            "--drop_path out of [0, 1)",
            "train",
            TRAIN_FLAGS
            + ["--dataset={mnist}", "--output_dir={new}", "--drop_path=1"],
            r"--drop_path must be in \[0, 1\); got 1\.0\.",
            ("{new}",),
        ),
        Probe(
            "--epochs not a number (absl's flag parsing)",
            "train",
            train + ["--epochs=abc"],
            r"flag --epochs=abc: invalid literal for int\(\) with base 10: "
            r"'abc' \(--helpshort lists the flags\)\.",
        ),
        Probe(
            "--output_dir a file",
            "train",
            [f for f in train if not f.startswith("--output_dir")]
            + ["--output_dir={a_file}"],
            r".*{a_file}.* (is )?a file",
        ),
        Probe(
            "rerun with another --seed",
            "train",
            train + ["--seed=1"],
            r".*--seed: 0 there, 1 now",
        ),
        Probe(
            "--export_base a file",
            "export",
            ["--model_dir={train}", "--export_base={a_file}"],
            r"--export_base {a_file} is a file, not a folder: give a folder "
            r"\(TF Serving's model base path\), new or holding earlier "
            r"versions\.",
        ),
        Probe(
            "--num_images below 1",
            "classify",
            ["--saved_model={new}", "--dataset=mnist", "--num_images=-3"],
            r"--num_images=-3: give how many images to classify, 1 or more\.",
        ),
        Probe(
            "--dataset not prepared",
            "classify",
            [
                "--saved_model={new}",
                "--dataset=mnist",
                "--data_dir={empty_dir}",
            ],
            r"--dataset=mnist: TFDS dataset 'mnist' is not prepared in "
            r"{empty_dir}.*--data_dir",
        ),
        Probe(
            "--dataset misspelt",
            "classify",
            ["--saved_model={new}", "--dataset=mnistt"],
            r"--dataset=mnistt: Unknown TFDS dataset 'mnistt'\. Did you "
            r"mean 'mnist'",
        ),
        Probe(
            "--dataset a folder not laid out as <split>/<class>/<image>",
            "classify",
            ["--saved_model={new}", "--dataset={flat}"],
            r"--dataset={flat}: Folder {flat} holds images directly; move "
            r"them into split and class sub-folders",
        ),
        Probe(
            "--saved_model not an export",
            "classify",
            ["--saved_model={new}", "--dataset=mnist"],
            r"--saved_model={new}: no export there .*give bin/export's "
            r"--export_base",
            ("{new}",),
        ),
    ]
    if read_only:
        found.append(
            Probe(
                "--export_base on a read-only file system",
                "export",
                ["--model_dir={train}", "--export_base={read_only}/serving"],
                r"--export_base {read_only}/serving cannot be made: "
                r"{read_only} is on a read-only file system\. Give a folder "
                r"you can write in\.",
            )
        )
    return found


class ProbeTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tfds_testing.require_datasets("mnist")
        top = os.path.join(
            os.environ.get("TEST_TMPDIR", "/tmp"), "probe_test_folders"
        )
        shutil.rmtree(top, ignore_errors=True)
        paths = {
            name: os.path.join(top, name)
            for name in (
                "meta",
                "adapt",
                "train",
                "mnist",
                "empty_class",
                "flat",
                "empty_dir",
                "read_only",
                "a_file",
                "new",
            )
        }
        write_mnist_folder(paths["mnist"], per_class_train=10, per_class_test=4)
        shutil.copytree(paths["mnist"], paths["empty_class"])
        shutil.rmtree(os.path.join(paths["empty_class"], "train", "7"))
        os.makedirs(os.path.join(paths["empty_class"], "train", "7"))
        os.makedirs(paths["flat"])
        for name in sorted(os.listdir(os.path.join(paths["mnist"], "test/3"))):
            shutil.copy(
                os.path.join(paths["mnist"], "test/3", name), paths["flat"]
            )
        os.makedirs(paths["empty_dir"])
        os.makedirs(paths["read_only"])
        with open(paths["a_file"], "w") as f:
            f.write("not a folder")
        cls.paths = paths
        cls.read_only = read_only_mount(paths["read_only"])
        # The run folders, made by the binaries: the training beside the
        # meta-training and its adaptation (one core each).
        meta_flags = tiny.binary_flags(
            dataclasses.replace(tiny.CONFIG, epochs=1), paths["meta"]
        )
        runs = (
            (
                ("meta_train", meta_flags),
                ("adapt", adapt_flags(paths["meta"], paths["adapt"])),
            ),
            (
                (
                    "train",
                    TRAIN_FLAGS
                    + [
                        f"--dataset={paths['mnist']}",
                        f"--output_dir={paths['train']}",
                    ],
                ),
            ),
        )

        def run_in_turn(commands):
            for binary, flags in commands:
                code, stdout, stderr = run_binary(binary, flags)
                if code:
                    return f"{binary} failed:\n{stdout}\n{stderr}"
            return None

        start = time.perf_counter()
        with futures.ThreadPoolExecutor(len(runs)) as pool:
            for failure in pool.map(run_in_turn, runs):
                assert failure is None, failure
        cls.fixture_seconds = time.perf_counter() - start

    def test_bad_inputs_end_in_one_line_and_change_no_run_folder(self):
        paths = self.paths
        watched = ("meta", "adapt", "train", "mnist", "a_file", "read_only")
        rows = []
        start = time.perf_counter()
        for probe in probes(self.read_only is not None):
            flags = [flag.format(**paths) for flag in probe.flags]
            message = probe.message.format(
                **{k: re.escape(v) for k, v in paths.items()}
            )
            with self.subTest(f"{probe.binary}: {probe.name}"):
                before = {name: snapshot(paths[name]) for name in watched}
                prefix = self.read_only if "read-only" in probe.name else ()
                began = time.perf_counter()
                code, _, stderr = run_binary(probe.binary, flags, prefix)
                seconds = time.perf_counter() - began
                lines = stderr.strip().splitlines()
                problems = []
                if code != 1:
                    problems.append(f"exit status {code}")
                if len(lines) != 1:
                    problems.append(f"{len(lines)} lines")
                if not re.match(f"{probe.binary}: error: {message}", stderr):
                    problems.append(f"not /{probe.message}/")
                after = {name: snapshot(paths[name]) for name in watched}
                changed = [k for k in watched if after[k] != before[k]]
                changed += [
                    folder
                    for folder in probe.new_folders
                    if os.path.exists(folder.format(**paths))
                ]
                if changed:
                    problems.append(f"changed {', '.join(changed)}")
                rows.append((probe, code, seconds, lines, problems))
                if probe.pending:
                    self.assertNotEmpty(
                        problems, f"passes now: drop `pending` ({stderr})"
                    )
                else:
                    self.assertEmpty(problems, stderr)
        print_table(rows, paths)
        print(
            f"{len(rows)} probes in {time.perf_counter() - start:.0f} s; run "
            f"folders made in {self.fixture_seconds:.0f} s"
        )


def print_table(rows, paths):
    """The probes' exit status, seconds, stderr lines and message, with
    the fixtures' paths shortened (every probe includes TensorFlow's
    start, about 4 s here)."""
    print("\n| binary | bad input | exit | s | lines | message | status |")
    print("|---|---|---|---|---|---|---|")
    for probe, code, seconds, lines, problems in rows:
        text = " / ".join(lines)
        for name, path in paths.items():
            text = text.replace(path, f"<{name}>")
        cells = (
            probe.binary,
            probe.name,
            code,
            f"{seconds:.1f}",
            len(lines),
            text,
            "ok" if not problems else "FAILS: " + "; ".join(problems),
        )
        if probe.pending:
            cells = (*cells[:-1], f"{cells[-1]} (pending: {probe.pending})")
        print("| " + " | ".join(map(str, cells)) + " |")


if __name__ == "__main__":
    absltest.main()
