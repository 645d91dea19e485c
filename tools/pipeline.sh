#!/usr/bin/env bash
# The README's whole pipeline with the real binaries, the program behind
# `bazel run //:pipeline` (./run.sh sets the machine up, then runs that):
#
#   1. meta-train a tiny prior on MNIST + Fashion-MNIST (configs/tiny.cfg)
#   2. adapt it to CIFAR-10, unseen, and derive the genotype
#      (configs/adapt_tiny.cfg)
#   3. train the derived network on CIFAR-10 (configs/train_tiny.cfg)
#   4. export it as a TF Serving SavedModel (a new version each run)
#   5. load the SavedModel and classify real CIFAR-10 test images
#   6. adapt the shipped DARTS prior (priors/darts, meta-trained on
#      ImageNet classes) to the same CIFAR-10 classes, as a user without
#      the time to meta-train would
#
# Every step resumes or reuses what an earlier run finished. Arguments go
# to step 1 (e.g. --epochs=8). The binaries and configs come from this
# target's runfiles, so no Bazel runs inside Bazel; relative paths, results
# included, are taken from the directory `bazel run` was called in, as for
# every binary.
set -euo pipefail

# `bazel run` starts us in our runfiles tree; bazel-bin/pipeline run by
# hand finds it beside itself.
runfiles=$(cd "${RUNFILES_DIR:-$0.runfiles}/base_tf" && pwd)
cd "${BUILD_WORKING_DIRECTORY:-.}"

adapted=runs/tiny_cifar10
step() { echo; echo "== $1"; }
bin() { "$runfiles/bin/$1" "${@:2}"; }
config() { echo "--flagfile=$runfiles/configs/$1"; }

start=$SECONDS
step "1/6 meta-train (configs/tiny.cfg)"
bin meta_train "$(config tiny.cfg)" "$@"
step "2/6 adapt to CIFAR-10 and derive the genotype"
bin adapt "$(config adapt_tiny.cfg)"
step "3/6 train the derived network"
bin train "$(config train_tiny.cfg)" \
  --genotype="$adapted/genotype.json" --output_dir="$adapted/train"
step "4/6 export for TF Serving"
bin export --model_dir="$adapted/train" --export_base="$adapted/serving"
step "5/6 classify CIFAR-10 test images with the SavedModel"
bin classify --saved_model="$adapted/serving" --dataset=cifar10 \
  --num_images=8
step "6/6 adapt the shipped prior priors/darts to CIFAR-10"
bin adapt "$(config adapt_tiny.cfg)" --checkpoint="$runfiles/priors/darts" \
  --output_dir=runs/prior_cifar10
echo
echo "pipeline done in $((SECONDS - start)) s; results in runs/tiny," \
  "$adapted and runs/prior_cifar10"
