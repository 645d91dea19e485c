"""The `serving_default` signature of an export: raw images in, classes out.

The SavedModel is written by Keras's `keras.export.ExportArchive`: it saves
the `tf.Variable`s the serving graph reads, so the export runs wherever a
SavedModel runs: `tf.saved_model.load`, and TF Serving's C++ loader and
`saved_model_cli run`, which restore the variables into a session by name.
(Saving the model's Keras variables instead, which wrap those, serves in
Python but not in a session: "Could not find variable ...".) The archive
tracks the class-name table, not the model: it finds the variables its
endpoint reads by itself, and tracking the model as well would store
every weight twice, once as the Keras variable and once as the
`tf.Variable` inside it (a small network's variables file grew from
5,236 to 10,062 bytes), and a loader would restore both.

The `serving_default` signature (`tensorflow/serving/predict`):

* input `images`: uint8, `[batch, height, width, channels]`, raw pixels in
  0..255, any height and width (at least 1), 1 (grey), 2 (grey+alpha),
  3 (RGB) or 4 (RGBA) channels, any batch size (0 gives empty outputs,
  without running the network, which oneDNN's kernels refuse). The graph
  brings them to the network's `ImageSpec` with
  `base_tf.data.convert_images` and to float32 in [0, 1] with
  `base_tf.data.to_float`: the very functions that prepared the training
  images (bilinear antialiased resize rounded to uint8, ITU-R 601 grey,
  alpha dropped), so a served image meets the network exactly as a
  training image did. The signature declares the input's rank as unknown on
  purpose: a declared rank is not enforced when the signature is run (a
  rank-3 tensor would reach the graph, and TensorFlow would fold an in-graph
  rank check into a constant), so the rank is checked in the graph and a
  wrong one is answered with a message that names the expected layout.
  The dtype is enforced by the runtime: a tensor of another dtype is
  refused before the graph runs (TF Serving's gRPC and REST APIs, a loaded
  signature given a `tf.Tensor`). Clients that convert a NumPy array to
  the declared dtype for the caller, TensorFlow's Python loader and
  `saved_model_cli run`, cast floats to uint8 silently (0.7 becomes 0)
  before any graph op can see them; `base_tf.exported_model.ExportedModel`
  refuses them instead.
* outputs: `probabilities` float32 `[batch, K]` (softmax of the network's
  logits), `classes` int64 `[batch]` (the most probable class) and
  `class_names` string `[batch]` (its name, looked up in the graph in a
  `tf.lookup.StaticHashTable` initialised from the `class_names.txt` asset,
  so the lookup keeps working wherever the folder is moved or copied).
"""

import os

import keras
import tensorflow as tf

from base_tf.data import preprocessing

SIGNATURE_KEY = "serving_default"
INPUT_KEY = "images"
OUTPUT_KEYS = ("probabilities", "classes", "class_names")
CLASS_NAMES_ASSET = "class_names.txt"
# Channel counts `preprocessing.convert_images` accepts (grey, grey+alpha,
# RGB, RGBA).
INPUT_CHANNELS = (1, 2, 3, 4)


def serving_archive(model, image_spec, class_names, scratch):
    """The `ExportArchive` written: the network, the class-name table and
    the `serving_default` endpoint, traced.

    `scratch` holds `class_names.txt` until the archive copies it into the
    export's `assets/`.

    Raises:
        ValueError: The model's output is not one logit per class name.
    """
    names_path = os.path.join(scratch, CLASS_NAMES_ASSET)
    with open(names_path, "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in class_names))
    class_table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            tf.saved_model.Asset(names_path),
            key_dtype=tf.int64,
            key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            value_dtype=tf.string,
            value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        ),
        default_value="",
    )
    num_classes = len(class_names)

    def predict(images):
        logits = model(preprocessing.to_float(images), training=False)
        if logits.shape.rank != 2 or logits.shape[-1] != num_classes:
            raise ValueError(
                f"The model's output has shape {logits.shape}, but there are "
                f"{num_classes} class names: it must give logits [batch, "
                f"{num_classes}], one a class name, in order."
            )
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        classes = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return probabilities, classes

    def serve(images):
        # An empty batch is checked, but never reaches the network: with
        # oneDNN's kernels a network fails on it ("Incompatible shapes:
        # [24] vs. [0,16,16,3]" from a batch norm after a convolution).
        probabilities, classes = tf.cond(
            tf.size(images) > 0,
            lambda: predict(_converted(images, image_spec)),
            lambda: _empty_results(images, num_classes),
        )
        return dict(
            zip(
                OUTPUT_KEYS,
                (probabilities, classes, class_table.lookup(classes)),
                strict=True,
            )
        )

    archive = keras.export.ExportArchive()
    archive.track(class_table)
    endpoint = archive.add_endpoint(
        SIGNATURE_KEY,
        serve,
        input_signature=[tf.TensorSpec(None, tf.uint8, name=INPUT_KEY)],
    )
    endpoint.get_concrete_function()
    return archive


def _empty_results(images, num_classes):
    """The outputs for a batch of no images (once the input is checked)."""
    batch = tf.shape(_checked(images, tf.shape(images)))[0]
    return (
        tf.zeros(tf.stack([batch, num_classes]), tf.float32),
        tf.zeros(tf.stack([batch]), tf.int64),
    )


def _converted(images, image_spec):
    """Checks a raw batch and converts it as `base_tf.data` does.

    `convert_images` needs the channel count statically, which a serving
    input does not have: one branch per supported count, chosen at run time.
    Each branch checks the input before it touches it: checks placed before
    the `tf.switch_case` do not reliably run first once the case is lowered
    and inlined.

    Returns:
        uint8 `[batch, image_spec.height, image_spec.width,
        image_spec.channels]`.
    """
    shape = tf.shape(images)
    # The last dimension, or 0 for a scalar; any value out of range runs
    # the last branch, whose checks fail.
    channels = tf.gather(tf.concat([[0], shape], 0), tf.size(shape))

    def branch(c):
        def convert():
            checked = _checked(images, shape)
            fixed = tf.ensure_shape(checked, [None, None, None, c])
            return preprocessing.convert_images(fixed, image_spec)

        return convert

    return tf.switch_case(channels - 1, [branch(c) for c in INPUT_CHANNELS])


def _checked(images, shape):
    """`images` once it is known to be a batch of valid images."""
    rank_ok = tf.debugging.Assert(
        tf.equal(tf.size(shape), 4),
        [
            "images must be a uint8 batch [batch, height, width, channels] "
            "(rank 4; add a batch dimension for one image); got shape",
            shape,
        ],
        summarize=8,
    )
    with tf.control_dependencies([rank_ok]):
        format_ok = tf.debugging.Assert(
            tf.logical_and(
                tf.reduce_any(tf.equal(shape[-1], INPUT_CHANNELS)),
                tf.reduce_all(shape[1:3] > 0),
            ),
            [
                "images must have height and width >= 1 and 1 (grey), 2 "
                "(grey+alpha), 3 (RGB) or 4 (RGBA) channels; got shape",
                shape,
            ],
            summarize=8,
        )
    with tf.control_dependencies([format_ok]):
        return tf.identity(images)
