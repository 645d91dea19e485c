"""Run folders: each records its run's settings, and one run writes it.

A run folder is where a program writes a run (the `--output_dir` of
bin/meta_train, bin/adapt and bin/train). The program claims it with
`claim` before it reads an image or builds a model (each library module
says what its runs record: the `run_settings` of `meta_training`,
`adaptation` and `training_folder`); `check_directory` also vets other
folders a program writes (bin/export's `--export_base`):

* The path must be a folder the program can write in; a missing one is
  made. A file, or a place it cannot write in, is refused in one line.
* Lock: an exclusive `flock` on the folder itself, held until the run ends
  (`RunFolder.release`, the end of a `with` block, or the end of the
  process, however it ends: the kernel drops a dead process's locks). A
  second program that claims the folder meanwhile fails at once with
  `FolderInUseError`, so two runs never write one folder. The lock adds
  no file to the folder. Claims within one process share the lock.
* Settings: `settings.json` records the kind of run and every setting that
  changes its result, named as the program's flags where they have one.
  Settings that do not change the result (threads, logging, where a
  dataset is stored, how often to checkpoint) are left out, so a rerun may
  change them. The first claim writes the record; a later claim with other
  settings is refused, naming each differing setting with the value
  recorded and the value asked, and changes nothing.
* A folder that is not empty but has no `settings.json` is refused: it is
  another program's folder, or a run made by an older version of base-tf,
  which did not record all of its settings (its `older_files` are there),
  so whether a rerun matches it cannot be known. Move it away or choose
  another folder; it can still be read (adapted from, trained from). An
  older version's run that did record all of them, in a file of its own
  (bin/train's `run.json`), is read by the program's `older_record`: a
  rerun with its settings records them in `settings.json` and resumes it,
  one with other settings is refused as above.
* A run that fails before it wrote anything but `settings.json` takes its
  claim back (a `RunFolder` used as a context manager): the record goes,
  and the folder too if the claim made it, so a corrected rerun is not
  refused for the settings of one that never ran.

Errors are `RunFolderError`, a `ValueError`: bin/cli.py ends a binary with
their one-line message and exit status 1.
"""

import fcntl
import json
import os

from absl import logging

SETTINGS_FILE = "settings.json"
_FORMAT = 1

# Claims held by this process: {real path: [file descriptor, claims]}.
_HELD = {}


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked; the message says why."""


class FolderInUseError(RunFolderError):
    """Another process holds the run folder's lock."""


def _a(kind):
    """`kind` with its article: "a training run", "an adaptation run"."""
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _name(name, flags):
    """`--name` when `name` is one of the caller's `flags`, else `name`."""
    return f"--{name}" if name in flags else name


_GIVE = "a folder (a new one, or one this same run wrote)"


def check_directory(directory, *, name="output_dir", flags=(), give=_GIVE):
    """Raises unless `directory` is, or can be made, a folder to write in.

    Args:
        directory: the path.
        name: what the caller calls it, for messages (`--name` if `name`
            is one of `flags`).
        flags: the names of the caller's command-line flags (any container,
            e.g. `absl.flags.FLAGS`), or empty for a library caller.
        give: what to give instead of a file, for its message.

    Raises:
        RunFolderError: a file, a path under a file, or a place this
            process cannot write in (saying so when the file system is
            read-only).
    """
    label = _name(name, flags)
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(
        directory
    ):
        raise RunFolderError(f"{label} must name a folder, got {directory!r}.")
    if os.path.exists(directory):
        if not os.path.isdir(directory):
            raise RunFolderError(
                f"{label} {directory} is a file, not a folder: give {give}."
            )
        if _read_only(directory):
            raise RunFolderError(
                f"{label} {directory} is on a read-only file system: give a "
                "folder you can write in."
            )
        if not os.access(directory, os.W_OK | os.X_OK):
            raise RunFolderError(
                f"{label} {directory} is a folder you cannot write in: give "
                "another."
            )
        return
    parent = os.path.dirname(os.path.abspath(directory))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise RunFolderError(
            f"{label} {directory} cannot be made: {parent} is a file. Give a "
            "folder path."
        )
    if _read_only(parent):
        raise RunFolderError(
            f"{label} {directory} cannot be made: {parent} is on a read-only "
            "file system. Give a folder you can write in."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunFolderError(
            f"{label} {directory} cannot be made: you cannot write in "
            f"{parent}. Give a folder you can write in."
        )


def _read_only(folder):
    """Whether `folder` lies on a file system mounted read-only."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False  # Then `os.access` says whether it can be written.


def dataset_name(source):
    """How a run records a dataset: a folder's absolute path (a
    `data.ImageFolderSource`), else its TFDS name."""
    root = getattr(source, "root", None)
    return source.name if root is None else root


def read_settings(directory):
    """`(kind, settings)` recorded in a run folder, or None without a record.

    Raises:
        RunFolderError: the record cannot be read.
    """
    path = os.path.join(directory, SETTINGS_FILE)
    if not os.path.isfile(path):
        return None
    try:
        record = read_json(path)
        return record["kind"], record["settings"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunFolderError(
            f"{path} is not a run's settings record ({e}): was it edited? "
            "Restore it, or move the folder away."
        ) from None


def differences(found, wanted, defaults=None, flags=(), prefix=""):
    """Each setting that differs, as `"name: old there, new now"`.

    Nested dicts are compared key by key (`prior.datasets`). A setting that
    `found` lacks is taken at its value in `defaults` if it has one (it
    did not exist when `found` was recorded), else shown as not recorded.
    """
    defaults = defaults or {}
    out = []
    for key in sorted(set(found) | set(wanted)):
        name = prefix + _name(key, () if prefix else flags)
        missing = object()
        old = found.get(key, defaults.get(key, missing))
        new = wanted.get(key, missing)
        if isinstance(old, dict) and isinstance(new, dict):
            out += differences(old, new, prefix=f"{name}.")
        elif old != new:
            old = "not recorded" if old is missing else repr(old)
            new = "not given" if new is missing else repr(new)
            out.append(f"{name}: {old} there, {new} now")
    return out


def claim(
    directory,
    kind,
    settings,
    *,
    older_files=(),
    older_record=None,
    defaults=None,
    flags=(),
    name="output_dir",
    write=True,
    lock=True,
):
    """Claims a run folder for a run of `settings` (see the module doc).

    Args:
        directory: the run folder; made if missing.
        kind: what runs the folder holds, in words ("meta-training").
        settings: a JSON-ready dict of every setting that changes the run's
            result, or None to only lock the folder (for a program whose
            library records the run itself).
        older_files: files an older version's run of this kind left
            without a record: a folder holding one is refused as such.
        older_record: for a kind of run whose older versions recorded all
            of their settings in a file of their own: a function of the
            folder that returns those settings, in this version's form,
            or None when the folder holds no such record (it raises
            `RunFolderError` for one it cannot read). A folder without
            `settings.json` but with such a record is that run: a claim
            with its settings writes them to `settings.json` (unless not
            `write`) and resumes, one with other settings is refused.
        defaults: settings' values in runs recorded before they existed.
        flags: the caller's flag names (see `check_directory`): settings
            and `name` among them are called `--name` in messages.
        name: what the caller calls the folder, for messages.
        write: write the record and refuse a folder of other files (False
            for a worker that only checks, e.g. a non-chief one).
        lock: take the folder's lock (False: another process holds it
            for this run, e.g. the chief of a multi-worker run).

    Returns:
        A `RunFolder`; use it as a context manager to release the lock at
        the end of the block and take the claim back if the block fails.

    Raises:
        RunFolderError: the path cannot be a folder; the folder holds
            another kind of run, a run with other settings, a run of an
            older version, or other files. `FolderInUseError`: another
            process holds its lock.
    """
    check_directory(directory, name=name, flags=flags)
    label = f"{_name(name, flags)} {directory}"
    made = not os.path.isdir(directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise RunFolderError(
            f"{label} cannot be made ({e.strerror}): give a folder you can "
            "write in."
        ) from None
    folder = RunFolder(directory, kind, settings, made)
    if lock:
        folder._lock(_name(name, flags))
    try:
        if settings is not None:
            folder._check_or_record(
                older_files, older_record, defaults, flags, name, write
            )
    except BaseException:
        folder.release()
        raise
    return folder


class RunFolder:
    """A claimed run folder (see `claim`).

    Attributes:
        directory: the folder.
        kind: what run it holds.
        settings: the run's settings (None: not recorded here).
        resumed: whether the folder already held a record of this run.
    """

    def __init__(self, directory, kind, settings, made):
        self.directory = directory
        self.kind = kind
        self.settings = settings
        self.resumed = False
        self._made = made
        self._wrote = False
        self._key = None

    def _lock(self, label):
        key = os.path.realpath(self.directory)
        if key in _HELD:
            _HELD[key][1] += 1
            self._key = key
            return
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUseError(
                f"{label} {self.directory} is in use: another run is writing "
                "in it now (it holds the folder's lock). Wait for that run to "
                f"end, or choose another {label}."
            ) from None
        except OSError as e:
            os.close(fd)
            logging.warning(
                "%s cannot be locked on this file system (%s): nothing stops "
                "another run from writing in it at the same time.",
                self.directory,
                e.strerror,
            )
            return
        _HELD[key] = [fd, 1]
        self._key = key

    def _check_or_record(
        self, older_files, older_record, defaults, flags, name, write
    ):
        label = _name(name, flags)
        wanted = json.loads(json.dumps(self.settings))
        record = read_settings(self.directory)
        migrated = None
        if record is None and older_record is not None:
            migrated = older_record(self.directory)
            if migrated is not None:
                record = self.kind, json.loads(json.dumps(migrated))
        if record is not None:
            kind, found = record
            if kind != self.kind:
                raise RunFolderError(
                    f"{self.directory} holds {_a(kind)} run, not "
                    f"{_a(self.kind)} run: choose another {label} (nothing "
                    "was changed)."
                )
            diff = differences(found, wanted, defaults, flags)
            if diff:
                raise RunFolderError(
                    f"{self.directory} holds {_a(self.kind)} run with other "
                    f"settings: {'; '.join(diff)}. Rerun with that run's "
                    f"settings to resume or reuse it, or choose another "
                    f"{label} (nothing was changed)."
                )
            if migrated is not None and write:
                # Kept if the run fails: the older run's files are there.
                self._write_record(wanted)
            self.resumed = True
            return
        older = [
            f
            for f in older_files
            if os.path.exists(os.path.join(self.directory, f))
        ]
        if older:
            raise RunFolderError(
                f"{self.directory} holds {_a(self.kind)} run made by an older "
                f"version of base-tf ({older[0]} but no {SETTINGS_FILE}), "
                "which did not record all of a run's settings, so whether "
                "this run's match cannot be known: choose another "
                f"{label}, or move that folder away (nothing was changed)."
            )
        if not write:
            return
        if os.listdir(self.directory):
            raise RunFolderError(
                f"{self.directory} is not empty and holds no {self.kind} run "
                f"(no {SETTINGS_FILE}): choose a new or empty {label} "
                "(nothing was changed)."
            )
        self._write_record(wanted)
        self._wrote = True

    def _write_record(self, settings):
        write_json(
            os.path.join(self.directory, SETTINGS_FILE),
            {"kind": self.kind, "format": _FORMAT, "settings": settings},
        )

    def release(self):
        """Releases this claim's share of the lock (idempotent)."""
        if self._key is None:
            return
        held = _HELD[self._key]
        held[1] -= 1
        if not held[1]:
            os.close(held[0])
            del _HELD[self._key]
        self._key = None

    def take_back(self):
        """Undoes the claim of a run that wrote nothing else: removes the
        record it wrote, and the folder if it made it and it is empty."""
        try:
            if self._wrote and os.listdir(self.directory) == [SETTINGS_FILE]:
                os.remove(os.path.join(self.directory, SETTINGS_FILE))
                self._wrote = False
            if self._made and not os.listdir(self.directory):
                os.rmdir(self.directory)
        except OSError:
            pass  # Left as it is: a rerun names what is in the way.

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is not None:
            self.take_back()
        self.release()
        return False


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, value):
    """Writes `value` to `path` as JSON through a temporary file, so that
    a run killed mid-write leaves the old file or the new one, whole."""
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)
