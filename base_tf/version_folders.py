"""TF Serving's version folders, written so that no half of one is served.

`export_saved_model` (`base_tf.export`) writes an export into TF Serving's
model base path:

    <export_base>/<version>/saved_model.pb ...

Versions are positive integers; TF Serving serves the largest. A version is
written into a hidden sibling folder (`.<version>.tmp-<pid>-<random>`, a
name TF Serving ignores) and renamed into place when complete, so a crash
never leaves a half-written version behind that TF Serving would load; an
existing version is never overwritten. The exporting process holds an
exclusive `flock` on its staging folder until the rename; a staging folder
that no live process holds and that has not changed for
`STALE_STAGING_SECONDS` was left by an export that died, and the next
export into the same base removes it (`remove_stale_staging`).

`prepare_export_base` checks a base folder before anything is loaded,
`list_versions` reads its versions, and `staging_folder` and
`move_into_place` are the two halves of writing one.
"""

import contextlib
import errno
import fcntl
import os
import re
import shutil
import time
import uuid

import tensorflow as tf

from base_tf import run_folder

# An unlocked staging folder younger than this may belong to an export
# between creating it and locking it: it is left alone.
STALE_STAGING_SECONDS = 60

_VERSION_NAME = re.compile(r"[0-9]+")
# What `staging_folder` names its staging folders, and nothing else:
# `.<version>.tmp-<pid>-<8 hex digits>`.
_STAGING_NAME = re.compile(r"\.[0-9]+\.tmp-[0-9]+-[0-9a-f]{8}")


class ExportError(OSError, ValueError):
    """The export cannot be written where it was asked to go.

    An `OSError` (the file system refused: a read-only or unwritable
    folder, a file where a folder should be, a full disk) that is also a
    `ValueError`, as the binaries report errors of input: its message is one
    line that names the folder and what to do.
    """


def prepare_export_base(export_base, *, name="export base", flags=()):
    """Checks that a version can be written in `export_base`; cheap, so a
    program can call it before it loads the network.

    Nothing is created: a missing `export_base` must be creatable, in a
    writable folder (`run_folder.check_directory`, the check of every
    folder a base-tf program writes). The staging folders that exports
    which died left in it are removed (`remove_stale_staging`).
    `export_saved_model` calls it.

    Args:
        export_base: TF Serving's base path for the model.
        name: what the caller calls `export_base`, for messages.
        flags: the caller's flag names: `name` among them is called
            `--name` (see `run_folder.check_directory`).

    Returns:
        The names of the stale staging folders removed, sorted.

    Raises:
        ExportError: `export_base` is a file, a file is in its path, or the
            folder it is or would be made in is read-only or not writable.
    """
    export_base = os.fspath(export_base)
    try:
        run_folder.check_directory(
            export_base,
            name=name,
            flags=flags,
            give="a folder (TF Serving's model base path), new or holding "
            "earlier versions",
        )
    except run_folder.RunFolderError as e:
        raise ExportError(str(e)) from None
    return remove_stale_staging(export_base)


def remove_stale_staging(export_base):
    """Removes the staging folders that exports which died left behind.

    A folder is removed only if it is one of `export_saved_model`'s
    (`.<version>.tmp-<pid>-<random>`, hidden, never a version), no process
    holds its lock (a live export holds it until its version is in place;
    the kernel drops the lock of a process that died, however it died) and
    it has not changed for `STALE_STAGING_SECONDS` (an export locks its
    folder just after creating it). A folder whose lock cannot be tried
    (a file system without `flock`) is left alone. Errors while removing
    are ignored: the folder is tried again at the next export.

    Args:
        export_base: A TF Serving model base path (may not exist).

    Returns:
        The names of the folders removed, sorted.
    """
    if not os.path.isdir(export_base):
        return []
    removed = []
    for name in sorted(os.listdir(export_base)):
        if not _STAGING_NAME.fullmatch(name):
            continue
        path = os.path.join(export_base, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue  # Gone meanwhile, or not a folder.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if time.time() - os.fstat(fd).st_mtime < STALE_STAGING_SECONDS:
                continue
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.exists(path):
                removed.append(name)
        except OSError:
            continue  # Held by a live export, or flock is not supported.
        finally:
            os.close(fd)
    return removed


def list_versions(export_base):
    """The versions in `export_base`, ascending (TF Serving's numeric folders).

    Args:
        export_base: A TF Serving model base path (may not exist yet).

    Returns:
        A sorted list of ints.
    """
    if not os.path.isdir(export_base):
        return []
    return sorted(
        int(name)
        for name in os.listdir(export_base)
        if _VERSION_NAME.fullmatch(name)
        and os.path.isdir(os.path.join(export_base, name))
    )


def write_error(export_base, error):
    """The one-line `ExportError` for a file-system error while exporting.

    `error` is an `OSError`, or a `tf.errors.OpError` from TensorFlow's
    file functions, which write the SavedModel.
    """
    if isinstance(error, tf.errors.OpError):
        reason = error.message.strip().splitlines()[0]
        code = None
    else:
        reason = error.strerror or str(error)
        code = error.errno
    if code in (errno.ENOTDIR, errno.EEXIST):
        return ExportError(
            f"Cannot create the export base {export_base!r}: part of its "
            f"path is a file ({reason}). Give a folder path; nothing was "
            "exported."
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "give an export base folder you can write to, or make "
        advice += "this one writable"
    else:
        advice = "fix that, or give another export base folder"
    return ExportError(
        f"Cannot write the export into {export_base!r}: {reason}. Nothing "
        f"was exported; {advice}."
    )


def check_version(version):
    """Checks a requested version: a positive int, or None for the next."""
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(
            f"version must be a positive int (TF Serving's folder name), got "
            f"{version!r}; or None for the next one."
        )


def choose_version(export_base, version):
    """The version to write: `version`, or the next one if it is None.

    Raises:
        FileExistsError: Version `version` already exists.
    """
    if version is None:
        existing = list_versions(export_base)
        return (existing[-1] + 1) if existing else 1
    if os.path.exists(os.path.join(export_base, str(version))):
        existing = list_versions(export_base)
        raise FileExistsError(
            f"Version {version} already exists in {export_base!r}; versions "
            "are never overwritten. Give another version or none for the "
            f"next one ({existing[-1] + 1 if existing else version + 1})."
        )
    return version


@contextlib.contextmanager
def staging_folder(export_base, version):
    """A new hidden folder to write version `version` in, locked meanwhile.

    Hidden and non-numeric, so TF Serving never picks it up; created with
    os.mkdir (not mkdtemp's 0700) so it gets the usual permissions. The
    exclusive `flock` tells `remove_stale_staging` that a live export owns
    it; it lasts until the folder is renamed into place or removed.
    """
    staging = os.path.join(
        export_base, f".{version}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )
    try:
        os.mkdir(staging)
    except OSError as e:
        raise write_error(export_base, e) from e
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # Without flock on this file system, cleaners cannot try it either.
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield staging
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        os.close(fd)


def move_into_place(staging, final):
    """Renames the finished `staging` folder to the version folder `final`."""
    # rename(2) is atomic; it fails on a non-empty target (another export
    # that chose the same version meanwhile) and would replace only an
    # empty folder, so nothing written is ever overwritten.
    if os.path.exists(final) and os.listdir(final):
        raise FileExistsError(
            f"{final!r} appeared while exporting (another export?); it was "
            "left untouched. Export again for the next version."
        )
    try:
        os.rename(staging, final)
    except OSError as e:
        raise FileExistsError(
            f"Could not move the export into {final!r}: {e}. It was left "
            "untouched; export again for the next version."
        ) from e
