"""`MetaTrainingConfig`: everything that determines a meta-training run
(`meta_training`), validated when made."""

import dataclasses
import math

from base_tf import inference


@dataclasses.dataclass(frozen=True)
class MetaTrainingConfig:
    """Everything that determines a meta-training run.

    Args:
        search_space: "darts" or "nas_bench_201".
        channels: C of the supernet's first cells.
        num_cells: the supernet's cells (per stage for NAS-Bench-201).
        num_classes: K, the classes of a task (the classifier's outputs).
        image_size: tasks' images are image_size x image_size (the size
            held-out tasks are evaluated at, and adaptation's default).
        image_sizes: the sizes meta-training tasks are drawn at, or None
            for `(image_size,)`: task c of every epoch is at
            `image_sizes[c % len(image_sizes)]`, as the paper draws 8 of
            each of 32, 64 and 224 pixels among its 24 tasks, so one W
            serves every size. Must hold `image_size`.
        epochs: E.
        tasks_per_epoch: C.
        inner_steps: T.
        batch_size: examples per inner step.
        meta_learning_rate: lambda.
        learning_rate: the inner loop's eta for the weights (mu, rho).
        arch_learning_rate: the inner loop's eta for the logits phi; 2.0
            by default (see `arch_sample`).
        kl_architecture: beta_z.
        kl_weights: beta_theta.
        arch_optimizer: how the inner loop steps phi, "sgd" or "adam"
            (see `inference.InnerLoopConfig`).
        rho_learning_rate: the inner loop's eta for rho, or None for
            `learning_rate`; 0 keeps sigma at `prior_sigma`.
        arch_sample: the z the inner loop trains on, "relaxed" (a
            Gumbel-softmax sample; the default) or "hard" (one-hot,
            straight-through; see `inference.InnerLoopConfig`). With
            `final_temperature` 1 and `arch_learning_rate` 2.0, relaxed
            samples derived NAS-Bench-201 cells of rank 1, 1, 2, 2, 2
            among 10 random cells on seeds 0-4, none collapsed, where hard
            samples at tau 1 -> 0.2 and eta 0.5 derived 2, 1, 2, 8, 7, one
            an all-skip cell (README, "Search quality"). Configs written
            before this field existed were relaxed (`read_config`).
        arch_warmup_epochs: the first epochs, in which the inner loop's
            logits hold still (its phi steps by 0) and so alpha does not
            move: W's weights first learn to fit tasks on architectures
            drawn from the uniform prior (one path an edge with hard
            samples, as SPOS trains its supernet on uniform paths before
            it searches), then the logits learn. Treats every op alike.
            Measured, it did not change what the prior learns (README,
            "Search quality": the long meta-training's prior moves toward
            pooling with or without 75 warm-up epochs); default 0.
        initial_temperature, final_temperature: the Gumbel-softmax
            temperature falls geometrically from the first to the last
            epoch; both 1 by default: a relaxed sample at tau 1 keeps the
            logits' gradient unscaled (at tau 0.2 it is 5x larger and
            noisier), and with it the setting above never collapsed.
        prior_sigma: the initial sigma of p(theta).
        exchangeable_classes: whether W's classifier keeps every class at
            the classes' mean (`BayesianSupernet.exchangeable`), before the
            first epoch and after every meta-update. Tasks relabel their
            classes at random, so a class of W stands for no class of a
            task; left free, W's columns are the last tasks' adapted heads,
            and the next task starts from confident wrong predictions (its
            NLL above ln K). With them tied, every task starts at ln K and
            its first steps fit its own labels. (UNICORN-MAML, Ye & Chao,
            ICLR 2022, meta-learns one class vector copied to every class
            for the same reason; Kao et al., ICLR 2022, zero the head.)
            Measured by
            `benchmarks/inner_loop_fit.py` and `benchmarks/search_quality.py`
            (README, "Search quality").
        seed: seeds W_0, the tasks and the noise.
        checkpoint_every: save every this many epochs (and at the end).
    """

    search_space: str = "darts"
    channels: int = 8
    num_cells: int = 5
    num_classes: int = 5
    image_size: int = 32
    epochs: int = 10
    tasks_per_epoch: int = 4
    inner_steps: int = 5
    batch_size: int = 32
    meta_learning_rate: float = 1.0
    learning_rate: float = 0.05
    arch_learning_rate: float = 2.0
    kl_architecture: float = 1.0
    kl_weights: float = 1e-3
    arch_optimizer: str = "sgd"
    rho_learning_rate: float | None = None
    arch_sample: str = "relaxed"
    arch_warmup_epochs: int = 0
    initial_temperature: float = 1.0
    final_temperature: float = 1.0
    prior_sigma: float = 0.02
    exchangeable_classes: bool = False
    seed: int = 0
    checkpoint_every: int = 1
    image_sizes: tuple | None = None

    def __post_init__(self):
        positive = (
            "channels", "num_cells", "num_classes", "image_size", "epochs",
            "tasks_per_epoch", "inner_steps", "batch_size", "checkpoint_every",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < 1
            ):
                raise ValueError(
                    f"MetaTrainingConfig.{name} must be a positive int, got "
                    f"{value!r}."
                )
        for name in (
            "meta_learning_rate", "learning_rate", "arch_learning_rate",
            "initial_temperature", "final_temperature", "prior_sigma",
        ):  # fmt: skip
            value = getattr(self, name)
            if not (
                isinstance(value, (int, float))
                and math.isfinite(value)
                and value > 0
            ):
                raise ValueError(
                    f"MetaTrainingConfig.{name} must be a finite number > 0, "
                    f"got {value!r}."
                )
        if (
            isinstance(self.arch_warmup_epochs, bool)
            or not isinstance(self.arch_warmup_epochs, int)
            or not 0 <= self.arch_warmup_epochs < self.epochs
        ):
            raise ValueError(
                "MetaTrainingConfig.arch_warmup_epochs must be an int in "
                f"[0, epochs={self.epochs}), got {self.arch_warmup_epochs!r}."
            )
        for name in ("kl_architecture", "kl_weights"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"MetaTrainingConfig.{name} must be >= 0.")
        if self.arch_optimizer not in inference.OPTIMIZERS:
            raise ValueError(
                "MetaTrainingConfig.arch_optimizer must be one of "
                f"{inference.OPTIMIZERS}, got {self.arch_optimizer!r}."
            )
        if self.arch_sample not in inference.SAMPLES:
            raise ValueError(
                "MetaTrainingConfig.arch_sample must be one of "
                f"{inference.SAMPLES}, got {self.arch_sample!r}."
            )
        if self.image_sizes is not None:
            sizes = tuple(self.image_sizes)
            object.__setattr__(self, "image_sizes", sizes)
            if (
                not sizes
                or len(set(sizes)) != len(sizes)
                or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 1
                    for v in sizes
                )
            ):
                raise ValueError(
                    "MetaTrainingConfig.image_sizes must be distinct positive "
                    f"ints or None, got {self.image_sizes!r}."
                )
            if self.image_size not in sizes:
                raise ValueError(
                    f"MetaTrainingConfig.image_size={self.image_size} must be "
                    f"one of image_sizes {list(sizes)}: the size held-out "
                    "tasks are evaluated at."
                )
        if self.rho_learning_rate is not None and not (
            math.isfinite(self.rho_learning_rate)
            and self.rho_learning_rate >= 0
        ):
            raise ValueError(
                "MetaTrainingConfig.rho_learning_rate must be a finite "
                f"number >= 0 or None, got {self.rho_learning_rate!r}."
            )

    @property
    def inner_loop(self):
        return inference.InnerLoopConfig(
            learning_rate=self.learning_rate,
            arch_learning_rate=self.arch_learning_rate,
            kl_architecture=self.kl_architecture,
            kl_weights=self.kl_weights,
            arch_optimizer=self.arch_optimizer,
            rho_learning_rate=self.rho_learning_rate,
            arch_sample=self.arch_sample,
        )

    @property
    def sizes(self):
        """The image sizes of meta-training tasks, in turn."""
        return self.image_sizes or (self.image_size,)

    def task_size(self, position):
        """The image size of task `position` (0..C-1) of an epoch."""
        return self.sizes[position % len(self.sizes)]

    def arch_learning_rate_at(self, epoch):
        """The logits' inner step in `epoch`: 0 in the warm-up epochs."""
        if epoch < self.arch_warmup_epochs:
            return 0.0
        return float(self.arch_learning_rate)

    def temperature(self, epoch):
        """tau_e = tau_0 * (tau_final / tau_0) ** (e / (E - 1))."""
        if self.epochs == 1:
            return float(self.initial_temperature)
        ratio = self.final_temperature / self.initial_temperature
        return float(
            self.initial_temperature * ratio ** (epoch / (self.epochs - 1))
        )

    def to_dict(self):
        fields = dataclasses.asdict(self)
        if self.image_sizes is not None:
            fields["image_sizes"] = list(self.image_sizes)
        return fields
