#!/usr/bin/env bash
# Installs whatever base-tf needs that this machine lacks, then returns.
# Idempotent: a second run only checks. Used by ./run.sh, ./test.sh and CI.
#
#   Bazel 4.2.3      apt-get install bazel-bootstrap bazel-bootstrap-data
#   Graphviz         apt-get install graphviz (cell diagrams)
#   Python packages  .venv/ from requirements-dev.txt, then base_tf itself in
#                    editable mode (`import base_tf` works in any script run
#                    with .venv/bin/python); redone when requirements.txt,
#                    requirements-dev.txt or pyproject.toml change. An old
#                    .venv holding tensorflow-cpu beside tensorflow is
#                    repaired: both are removed, tensorflow is reinstalled
#   real datasets    CIFAR-10, MNIST, Fashion-MNIST prepared for TFDS from
#                    ../shared/data when that folder is beside the checkout
#                    (offline; about 2 minutes the first time); then
#                    Tiny-ImageNet, whose files that script lays out in
#                    TFDS's manual folder, prepared by base_tf's own TFDS
#                    builder, with its ArrayRecord copy for random access
#                    (about 1 minute the first time)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[setup] $*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v bazel >/dev/null 2>&1 || missing+=(bazel-bootstrap bazel-bootstrap-data)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [[ ${#missing[@]} -gt 0 ]]; then
  say "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv"
  python3 -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }
has_package() {
  .venv/bin/python -c 'import importlib.metadata as m, sys; m.version(sys.argv[1])' \
    "$1" 2>/dev/null
}
# Whether `import base_tf`, outside this folder too (-I: no cwd, no
# PYTHONPATH), finds this checkout's package.
base_tf_installed() {
  .venv/bin/python -I -c 'import base_tf, os, sys
sys.exit(os.path.realpath(base_tf.__path__[0]) != os.path.realpath(sys.argv[1]))' \
    "$PWD/base_tf" 2>/dev/null
}
stamp=.venv/.requirements.sha256

# One TensorFlow. A .venv made when requirements.txt named tensorflow-cpu
# also holds tensorflow (tf-keras depends on it): two wheels whose files
# are the same paths in site-packages/tensorflow. Uninstalling
# tensorflow-cpu alone would delete files tensorflow needs, so both go, and
# the install below puts tensorflow back whole.
if has_package tensorflow-cpu; then
  say "removing tensorflow-cpu and tensorflow from .venv (tensorflow is reinstalled alone)"
  pip uninstall -q -y tensorflow-cpu tensorflow
  rm -f "$stamp"
fi

wanted=$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]] || ! base_tf_installed; then
  say "installing Python packages and base_tf (editable) into .venv"
  pip install -q -r requirements-dev.txt
  # The dependencies are requirements.txt's, just installed: --no-deps.
  pip install -q --no-deps -e .
  # A by-product of the editable build; the metadata lives in .venv.
  rm -rf base_tf.egg-info
  echo "$wanted" >"$stamp"
fi

data_dir=${TFDS_DATA_DIR:-$HOME/tensorflow_datasets}
prepare=../shared/data/prepare_tfds.py
if [[ -f $prepare ]]; then
  say "preparing the shared datasets in $data_dir (skipped when done)"
  .venv/bin/python "$prepare" --out "$data_dir" >/dev/null
  # TFDS has no tiny_imagenet builder: base_tf.data registers one, which
  # reads the files the script just laid out in <data_dir>/downloads/manual.
  if [[ -d $data_dir/downloads/manual/tiny-imagenet-200 ]]; then
    .venv/bin/python -m base_tf.data.prepare tiny_imagenet \
      --data_dir "$data_dir" >/dev/null
  fi
else
  say "no ../shared/data: tests that need real datasets will be skipped"
fi
