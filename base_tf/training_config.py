"""How a derived network is trained: `TrainingConfig`, DARTS's recipe.

The settings of `training.train` (epochs, batch, the SGD and its cosine
schedule, weight decay, clipping, the auxiliary head, drop-path,
augmentation, the seed, subsets, XLA), with the CIFAR-10 recipe of DARTS's
evaluation code as defaults (see `training`'s module doc), validated when
the config is made so that a bad one fails before any image is read.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How a derived network is trained; defaults: the CIFAR-10 recipe.

    Args:
        epochs: epochs of training (600 in the recipe).
        batch_size: examples a step.
        learning_rate: the initial learning rate of the cosine decay to 0.
        momentum: SGD's momentum.
        weight_decay: the L2 coefficient, PyTorch-style (see
            `optimizers.DartsSGD`).
        grad_clip: the global norm gradients are clipped to; 0: no clipping.
        auxiliary_weight: the auxiliary head's loss weight; 0: no head.
            Only DARTS networks have one (ignored for NAS-Bench-201).
        drop_path: the final drop-path rate, in [0, 1); 0: none.
        cutout: the cutout square's side at 32x32 (scaled with the image);
            0: no cutout.
        augment: pad-and-crop (4 pixels at 32x32) and horizontal flips.
        seed: seeds the weights, the example order, augmentation,
            drop-path and the subsets below.
        max_train_examples: train on this many examples of the train split
            (a seeded random subset); None: all.
        max_test_examples: test on this many of the test split; None: all.
        jit_compile: compile the steps with XLA. Off by default: on a
            2-core CPU, XLA took 4x longer to compile DARTS's train step
            (28 s against 7 s, 2 cells) and ran it slower.
    """

    epochs: int = 600
    batch_size: int = 96
    learning_rate: float = 0.025
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    auxiliary_weight: float = 0.4
    drop_path: float = 0.2
    cutout: int = 16
    augment: bool = True
    seed: int = 0
    max_train_examples: int | None = None
    max_test_examples: int | None = None
    jit_compile: bool = False

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(
                    f"TrainingConfig.{name} must be a positive int; got "
                    f"{value!r}."
                )
        for name in ("cutout", "seed"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(
                    f"TrainingConfig.{name} must be an int >= 0; got {value!r}."
                )
        for name in ("max_train_examples", "max_test_examples"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(
                    f"TrainingConfig.{name} must be a positive int or None; "
                    f"got {value!r}."
                )
        if not _is_number(self.learning_rate) or not self.learning_rate > 0:
            raise ValueError(
                "TrainingConfig.learning_rate must be > 0; got "
                f"{self.learning_rate!r}."
            )
        for name in ("weight_decay", "grad_clip", "auxiliary_weight"):
            value = getattr(self, name)
            if not _is_number(value) or not value >= 0:
                raise ValueError(
                    f"TrainingConfig.{name} must be a number >= 0; got "
                    f"{value!r}."
                )
        for name in ("momentum", "drop_path"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value < 1:
                raise ValueError(
                    f"TrainingConfig.{name} must be in [0, 1); got {value!r}."
                )
        for name in ("augment", "jit_compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"TrainingConfig.{name} must be a bool; got "
                    f"{getattr(self, name)!r}."
                )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
