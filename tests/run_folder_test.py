"""Run folders: the settings record, refusals, taking a claim back, and the
lock against a second process."""

import json
import os
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest

from base_tf import run_folder

SETTINGS = {"datasets": ["mnist"], "seed": 0, "prior": {"channels": 3}}

# Claims the folder argv[1] in a process of its own, says so, and holds it
# until its stdin closes.
_HOLDER = """
import sys
from base_tf import run_folder
try:
    run_folder.claim(sys.argv[1], "test", {"seed": 0})
except run_folder.RunFolderError as e:
    print("refused:", e, flush=True)
    sys.exit(3)
print("claimed", flush=True)
sys.stdin.read()
"""


def _start_holder(directory):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(
        [sys.executable, "-c", _HOLDER, directory],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _record(directory):
    with open(os.path.join(directory, run_folder.SETTINGS_FILE)) as f:
        return json.load(f)


class RunFolderTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.root = tempfile.mkdtemp(dir=absltest.get_default_test_tmpdir())
        self.path = os.path.join(self.root, "run")

    def test_first_claim_records_and_a_rerun_resumes(self):
        with run_folder.claim(self.path, "test", SETTINGS) as folder:
            self.assertFalse(folder.resumed)
        self.assertEqual(
            _record(self.path),
            {"format": 1, "kind": "test", "settings": SETTINGS},
        )
        self.assertEqual(
            run_folder.read_settings(self.path), ("test", SETTINGS)
        )
        # Tuples are recorded as the lists JSON reads back: still equal.
        again = dict(SETTINGS, datasets=("mnist",))
        with run_folder.claim(self.path, "test", again) as folder:
            self.assertTrue(folder.resumed)

    def test_other_settings_are_refused_naming_each(self):
        run_folder.claim(self.path, "test", SETTINGS).release()
        before = _record(self.path)
        other = {"datasets": ["cifar10"], "seed": 0, "prior": {"channels": 1}}
        other["train_per_class"] = 5
        with self.assertRaises(run_folder.RunFolderError) as caught:
            run_folder.claim(
                self.path, "test", other, flags=("datasets", "output_dir")
            )
        self.assertEqual(
            str(caught.exception),
            f"{self.path} holds a test run with other settings: --datasets: "
            "['mnist'] there, ['cifar10'] now; prior.channels: 3 there, 1 "
            "now; train_per_class: not recorded there, 5 now. Rerun with "
            "that run's settings to resume or reuse it, or choose another "
            "--output_dir (nothing was changed).",
        )
        self.assertEqual(_record(self.path), before)

    def test_a_setting_added_since_is_taken_at_its_default(self):
        run_folder.claim(self.path, "test", {"seed": 0}).release()
        new = {"seed": 0, "optimizer": "sgd"}
        run_folder.claim(
            self.path, "test", new, defaults={"optimizer": "sgd"}
        ).release()
        with self.assertRaisesRegex(
            run_folder.RunFolderError, "optimizer: 'sgd' there, 'adam' now"
        ):
            run_folder.claim(
                self.path,
                "test",
                {"seed": 0, "optimizer": "adam"},
                defaults={"optimizer": "sgd"},
            )

    def test_another_kind_of_run_is_refused(self):
        run_folder.claim(self.path, "meta-training", SETTINGS).release()
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            "holds a meta-training run, not an? adaptation run",
        ):
            run_folder.claim(self.path, "adaptation", SETTINGS)

    def test_older_runs_and_other_files_are_refused(self):
        os.makedirs(self.path)
        with open(os.path.join(self.path, "config.json"), "w") as f:
            f.write("{}")
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            "holds a test run made by an older version of base-tf "
            r"\(config.json but no settings.json\)",
        ):
            run_folder.claim(
                self.path, "test", SETTINGS, older_files=("config.json",)
            )
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            "is not empty and holds no test run",
        ):
            run_folder.claim(self.path, "test", SETTINGS)
        self.assertEqual(os.listdir(self.path), ["config.json"])

    def test_an_older_record_of_all_settings_is_taken_over(self):
        os.makedirs(self.path)
        with open(os.path.join(self.path, "run.json"), "w") as f:
            json.dump({"seed": 0}, f)

        def older_record(directory):
            path = os.path.join(directory, "run.json")
            if not os.path.isfile(path):
                return None
            with open(path) as f:
                return {"seed": json.load(f)["seed"], "datasets": ["mnist"]}

        # Other settings: refused, naming them; nothing written.
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            r"holds a test run with other settings: --seed: 0 there, 1 now",
        ):
            run_folder.claim(
                self.path,
                "test",
                {"seed": 1, "datasets": ["mnist"]},
                older_record=older_record,
                flags=["seed"],
            )
        self.assertEqual(os.listdir(self.path), ["run.json"])
        # Its settings: resumed, and recorded as this version records them.
        settings = {"seed": 0, "datasets": ["mnist"]}
        with run_folder.claim(
            self.path, "test", settings, older_record=older_record
        ) as folder:
            self.assertTrue(folder.resumed)
        self.assertEqual(_record(self.path)["settings"], settings)
        # A run that fails after taking it over keeps the record.
        os.remove(os.path.join(self.path, run_folder.SETTINGS_FILE))
        with (
            self.assertRaises(KeyError),
            run_folder.claim(
                self.path, "test", settings, older_record=older_record
            ),
        ):
            raise KeyError("failed")
        self.assertEqual(_record(self.path)["settings"], settings)

    def test_a_read_only_file_system_is_named(self):
        os.makedirs(self.path)
        statvfs = mock.Mock(f_flag=os.ST_RDONLY)
        with mock.patch.object(run_folder.os, "statvfs", return_value=statvfs):
            with self.assertRaisesRegex(
                run_folder.RunFolderError,
                f"^output_dir {self.path} is on a read-only file system: "
                "give a folder you can write in.$",
            ):
                run_folder.check_directory(self.path)
            with self.assertRaisesRegex(
                run_folder.RunFolderError,
                f"^--base {self.path}/new cannot be made: {self.path} is on "
                "a read-only file system. Give a folder you can write in.$",
            ):
                run_folder.check_directory(
                    os.path.join(self.path, "new"), name="base", flags=["base"]
                )

    def test_a_file_or_a_path_under_one_is_refused(self):
        path = os.path.join(self.root, "file")
        with open(path, "w") as f:
            f.write("x")
        with self.assertRaises(run_folder.RunFolderError) as caught:
            run_folder.claim(path, "test", SETTINGS, flags=["output_dir"])
        self.assertEqual(
            str(caught.exception),
            f"--output_dir {path} is a file, not a folder: give a folder (a "
            "new one, or one this same run wrote).",
        )
        with self.assertRaisesRegex(
            run_folder.RunFolderError,
            f"output_dir {path}/run cannot be made: {path} is a file",
        ):
            run_folder.check_directory(os.path.join(path, "run"))
        with self.assertRaisesRegex(
            run_folder.RunFolderError, "is a file, not a folder: give another."
        ):
            run_folder.check_directory(path, give="another")

    def test_a_run_that_fails_takes_its_claim_back(self):
        # A new folder: removed with its record.
        with (
            self.assertRaises(KeyError),
            run_folder.claim(self.path, "test", SETTINGS),
        ):
            raise KeyError("failed before writing anything")
        self.assertFalse(os.path.exists(self.path))
        # A folder that was there, empty: kept, empty.
        os.makedirs(self.path)
        with (
            self.assertRaises(KeyError),
            run_folder.claim(self.path, "test", SETTINGS),
        ):
            raise KeyError("failed before writing anything")
        self.assertEqual(os.listdir(self.path), [])
        # A run that wrote something: its record stays, so a rerun with
        # other settings is refused.
        with (
            self.assertRaises(KeyError),
            run_folder.claim(self.path, "test", SETTINGS),
        ):
            open(os.path.join(self.path, "checkpoint"), "w").close()
            raise KeyError("failed after writing")
        self.assertEqual(run_folder.read_settings(self.path)[1], SETTINGS)

    def test_a_second_process_fails_at_once_while_one_holds_the_lock(self):
        holder = _start_holder(self.path)
        try:
            self.assertEqual(holder.stdout.readline().strip(), "claimed")
            with self.assertRaises(run_folder.FolderInUseError) as caught:
                run_folder.claim(self.path, "test", {"seed": 0})
            self.assertEqual(
                str(caught.exception),
                f"output_dir {self.path} is in use: another run is writing "
                "in it now (it holds the folder's lock). Wait for that run "
                "to end, or choose another output_dir.",
            )
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)
        self.assertEqual(holder.returncode, 0)
        # Its process ended: the folder is free.
        run_folder.claim(self.path, "test", {"seed": 0}).release()

    def test_claims_in_one_process_share_the_lock_until_the_last_ends(self):
        first = run_folder.claim(self.path, "test", {"seed": 0})
        second = run_folder.claim(self.path, "test", {"seed": 0})
        first.release()
        holder = _start_holder(self.path)
        out, _ = holder.communicate(timeout=60)
        self.assertEqual(holder.returncode, 3, out)
        self.assertIn("is in use", out)
        second.release()
        holder = _start_holder(self.path)
        out, _ = holder.communicate(timeout=60)
        self.assertEqual(holder.returncode, 0, out)

    def test_lock_only_and_check_only(self):
        # settings=None: the folder is made and locked, nothing recorded.
        with run_folder.claim(self.path, "test", None):
            self.assertEqual(os.listdir(self.path), [])
            holder = _start_holder(self.path)
            out, _ = holder.communicate(timeout=60)
            self.assertEqual(holder.returncode, 3, out)
        # write=False, lock=False: checks a record, writes and locks none.
        run_folder.claim(
            self.path, "test", {"seed": 1}, write=False, lock=False
        ).release()
        self.assertEqual(os.listdir(self.path), [])
        run_folder.claim(self.path, "test", {"seed": 0}).release()
        with self.assertRaisesRegex(run_folder.RunFolderError, "seed: 0"):
            run_folder.claim(
                self.path, "test", {"seed": 1}, write=False, lock=False
            )

    def test_dataset_name(self):
        class Tfds:
            name = "mnist"

        class Folder:
            name = "pets"
            root = "/data/pets"

        self.assertEqual(run_folder.dataset_name(Tfds()), "mnist")
        self.assertEqual(run_folder.dataset_name(Folder()), "/data/pets")


if __name__ == "__main__":
    absltest.main()
