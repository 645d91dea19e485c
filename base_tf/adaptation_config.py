"""How a meta-trained prior is adapted to a dataset: `AdaptationConfig`.

The settings of an adaptation (T', the step sizes, tau, the task's classes,
examples and image size, the derivation rule, the seed), validated when
the config is made so that a bad one fails before any prior is read, and
`num_classes`, which resolves K' from the config, the prior and the
dataset. The adaptation itself is `adaptation.adapt`; its output folder is
`adaptation_run`'s.
"""

import dataclasses

from base_tf import inference

# tau at adaptation with hard samples (see `AdaptationConfig.temperature`).
HARD_SAMPLE_TEMPERATURE = 1.0


@dataclasses.dataclass(frozen=True)
class AdaptationConfig:
    """How a prior is adapted to a dataset.

    Args:
        steps: T', the inner-loop steps; 0 keeps the prior.
        batch_size: examples per step.
        learning_rate: eta for (mu, rho); None: the meta-training run's.
        arch_learning_rate: eta for phi; None: the meta-training run's.
        temperature: tau of q(z|D); None: 1 for hard samples, meta-training's
            last epoch's for relaxed ones. A hard sample's law does not
            depend on tau (the argmax of logits plus Gumbel noise, scaled
            or not); tau only shapes the straight-through gradient, which
            is least noisy at 1 (`benchmarks/posterior_learning.py --snr`).
            Measured by `benchmarks/search_quality.py` and
            `benchmarks/adaptation_sweep.py` (README, "Search quality").
        classes: the dataset's K classes (names or ids), or None to draw
            them with `seed` (all of them when the dataset has K).
        split: the split training and validation examples come from.
        train_per_class: training examples per class (None: all).
        val_per_class: validation examples per class, held out of training,
            on which accuracy before and after adaptation is reported.
        rule: the derivation rule (`derivation.RULES`); None: the default.
        seed: seeds the classes, the examples, the batches and the noise.
        num_classes: K', the classes of the task; None: `len(classes)`
            when they are given, else the prior's K, or all of the
            dataset's classes when it has fewer. A K' other than the
            prior's K widens or narrows its classifier (see the module
            doc).
        image_size: the task's images are brought to this size; None: the
            meta-training size.
        arch_sample: the z the inner loop trains on, "relaxed" or "hard"
            (see `inference.InnerLoopConfig`); None: the meta-training
            run's.
        arch_warmup: the fraction of the T' steps, from the first, in
            which the architecture logits hold still while the weights
            fit the task (see `inference.InnerLoopConfig`).
    """

    steps: int = 50
    batch_size: int = 32
    learning_rate: float | None = None
    arch_learning_rate: float | None = None
    temperature: float | None = None
    classes: tuple | None = None
    split: str = "train"
    train_per_class: int | None = 500
    val_per_class: int = 100
    rule: str | None = None
    seed: int = 0
    num_classes: int | None = None
    image_size: int | None = None
    arch_sample: str | None = None
    arch_warmup: float = 0.0

    def __post_init__(self):
        for name in ("steps", "batch_size", "val_per_class", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an int, got {value!r}.")
        if self.steps < 0 or self.seed < 0:
            raise ValueError("steps and seed must be >= 0.")
        if self.batch_size < 1 or self.val_per_class < 1:
            raise ValueError("batch_size and val_per_class must be >= 1.")
        for name in ("learning_rate", "arch_learning_rate", "temperature"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, got {value!r}.")
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
        for name, least in (("num_classes", 2), ("image_size", 1)):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < least
            ):
                raise ValueError(
                    f"{name} must be an int >= {least} or None, got {value!r}."
                )
        if (
            self.num_classes is not None
            and self.classes is not None
            and len(self.classes) != self.num_classes
        ):
            raise ValueError(
                f"{len(self.classes)} classes given for num_classes="
                f"{self.num_classes}: give as many classes as num_classes."
            )
        if isinstance(self.arch_warmup, bool) or not (
            isinstance(self.arch_warmup, (int, float))
            and 0 <= self.arch_warmup < 1
        ):
            raise ValueError(
                f"arch_warmup must be a fraction in [0, 1), got "
                f"{self.arch_warmup!r}."
            )
        if self.arch_sample is not None and (
            self.arch_sample not in inference.SAMPLES
        ):
            raise ValueError(
                f"arch_sample must be one of {inference.SAMPLES} or None, got "
                f"{self.arch_sample!r}."
            )


def num_classes(config, meta_num_classes, dataset_num_classes):
    """K', the classes of an adaptation's task.

    Resolved here, once, because the task (`adaptation.make_task`) and the
    settings the output folder records (`adaptation_run.run_settings`) must
    agree on it.

    Args:
        config: the `AdaptationConfig` (see its `num_classes`).
        meta_num_classes: the prior's K.
        dataset_num_classes: the classes the dataset has.

    Returns:
        `config.num_classes`, else `len(config.classes)`, else the smaller
        of the prior's K and the dataset's classes.
    """
    if config.num_classes is not None:
        return config.num_classes
    if config.classes is not None:
        return len(config.classes)
    return min(meta_num_classes, dataset_num_classes)
