"""An adaptation's output folder: its settings, claim, files and reuse.

The folder is claimed before any work (`claim_output_dir`, see
`run_folder`): it records every setting that changes the posterior
(`run_settings`: the prior's run, the dataset, the `AdaptationConfig`), a
rerun with other settings is refused naming each, and one process at a
time writes it. `write_outputs` fills it with the posterior and what it
says (the genotype, the op probabilities, pictures), `posterior.json`
last; since adaptation is deterministic for its settings, `find_previous`
gives a complete folder's posterior back to a rerun instead of adapting
again.
"""

import dataclasses
import os

from base_tf import derivation, meta_training_run, plots, run_folder
from base_tf.adaptation_config import num_classes
from base_tf.adapted_posterior import POSTERIOR_FILE, Posterior

RUN_KIND = "adaptation"


def write_outputs(posterior, output_dir, rule=None):
    """Writes an adapted posterior and what it says, into `output_dir`.

    Files: the posterior (`posterior.*` checkpoint and `posterior.json`),
    `genotype.json` and `genotype.txt` (readable; for NAS-Bench-201 also
    the canonical architecture string), `choices.txt` (every choice's op
    probabilities and entropy), a diagram of each cell
    (`cell_<type>.png`) and `posterior.png` (the op probabilities).

    Args:
        posterior: the `Posterior`.
        output_dir: a new or empty folder.
        rule: the derivation rule (default: the space's).

    Returns:
        `(genotype, paths)`: the derived genotype, and `{name: path}` of
        the files written.

    Raises:
        FileExistsError: `output_dir` already holds an adapted posterior.
    """
    if os.path.exists(os.path.join(output_dir, POSTERIOR_FILE)):
        raise FileExistsError(
            f"{output_dir!r} already holds an adapted posterior; choose "
            "another --output_dir (nothing was overwritten)."
        )
    space = posterior.space
    probs = posterior.op_probabilities
    rule = rule or derivation.default_rule(space)
    genotype = derivation.derive(space, probs, rule)
    posterior.info["rule"] = rule
    os.makedirs(output_dir, exist_ok=True)
    paths = {}

    def write(name, text):
        paths[name] = os.path.join(output_dir, name)
        with open(paths[name], "w") as f:
            f.write(text + "\n")

    write("genotype.json", genotype.to_json(indent=2))
    write("genotype.txt", str(genotype))
    write("choices.txt", derivation.choices_table(space, probs))
    for cell_type in space.cell_types:
        name = f"cell_{cell_type}.png"
        paths[name] = plots.cell_diagram(
            genotype, cell_type, os.path.join(output_dir, name)
        )
    paths["posterior.png"] = plots.posterior_heatmap(
        space,
        probs,
        os.path.join(output_dir, "posterior.png"),
        title=f"q(z|D) after {posterior.info['config']['steps']} steps on "
        f"{posterior.info['dataset']}",
    )
    # Last: posterior.json marks a complete folder (see `find_previous`).
    posterior.save(output_dir)
    paths["posterior"] = os.path.join(output_dir, POSTERIOR_FILE)
    return genotype, paths


def run_settings(checkpoint, dataset, config):
    """Every setting that changes an adaptation's result.

    Named as bin/adapt's flags: the prior (`checkpoint`, the path of the
    meta-training run's last checkpoint or of the prior's `.keras` file,
    and `prior`, that run's settings), the `dataset` (a TFDS name or a
    folder's path; not where it is stored) and the `AdaptationConfig`
    (`steps` as `adapt_steps`), with `num_classes`, `image_size` and
    `arch_sample` resolved to the values used (older records, without
    them, used the prior's).

    Args:
        checkpoint: the meta-training run folder, or its prior's `.keras`
            file (`meta_training_run.save_prior_keras`).
        dataset: the `data.Source` adapted to.
        config: the `AdaptationConfig`.

    Returns:
        A JSON-ready dict.

    Raises:
        ValueError: `checkpoint` is not a meta-training run with a
            checkpoint.
    """
    fields = dataclasses.asdict(config)
    prior = meta_training_run.read_settings(checkpoint)
    fields.update(_prior_defaults(prior))
    fields["num_classes"] = num_classes(
        config, prior["num_classes"], dataset.num_classes
    )
    for name in ("image_size", "arch_sample"):
        if getattr(config, name) is not None:
            fields[name] = getattr(config, name)
    return {
        "checkpoint": os.path.abspath(meta_training_run.latest(checkpoint)),
        "prior": prior,
        "dataset": run_folder.dataset_name(dataset),
        "adapt_steps": fields.pop("steps"),
        **fields,
    }


def _prior_defaults(prior):
    """The settings an adaptation of before `num_classes`, `image_size`
    and `arch_sample` existed took from its prior (`prior`: its settings)."""
    return {
        "num_classes": prior["num_classes"],
        "image_size": prior["image_size"],
        "arch_sample": prior.get("arch_sample", "relaxed"),
    }


def claim_output_dir(output_dir, checkpoint, dataset, config, flags=()):
    """Claims an adaptation's output folder (see `run_folder.claim`).

    The folder records `run_settings(checkpoint, dataset, config)`; one of
    another adaptation, of an older version (a posterior but no settings
    record) or of other files is refused, and so is one another process
    is writing. Then `find_previous` says whether it is complete.

    Args:
        output_dir: the output folder.
        checkpoint, dataset, config: see `run_settings`.
        flags: the caller's flag names, to name settings `--name`.

    Returns:
        The `run_folder.RunFolder`, locked until released.

    Raises:
        ValueError: a bad `checkpoint`; `run_folder.RunFolderError`: the
            folder cannot hold this adaptation.
    """
    settings = run_settings(checkpoint, dataset, config)
    return run_folder.claim(
        output_dir,
        RUN_KIND,
        settings,
        older_files=(POSTERIOR_FILE,),
        defaults=_prior_defaults(settings["prior"]),
        flags=flags,
    )


def find_previous(output_dir):
    """The posterior an earlier run of this adaptation left, if complete.

    Adaptation is deterministic for its settings, so a rerun with the same
    ones reuses a complete output folder. Claim the folder first
    (`claim_output_dir`): the claim checks the settings.

    Args:
        output_dir: the output folder.

    Returns:
        The `Posterior` in `output_dir`, or None when it holds none (a new
        folder, or a run that ended before writing it).
    """
    if not os.path.exists(os.path.join(output_dir, POSTERIOR_FILE)):
        return None
    return Posterior.load(output_dir)
