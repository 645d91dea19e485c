"""The one exception the data package raises for bad input."""


class DataError(ValueError):
    """A dataset, folder or task request that cannot be served.

    Raised for an unknown TFDS name, a dataset that is not prepared, a folder
    that is missing or not laid out as `root/<split>/<class>/<image>`, more
    classes or examples than a dataset holds, and invalid parameters. The
    message says what is wrong and what to do about it. It subclasses
    `ValueError`, so callers that catch `ValueError` keep working.
    """
