"""One py_test per *_test.py file of a package (each also runs under pytest)."""

def py_test_per_file(deps, size = "medium"):
    for src in native.glob(["*_test.py"]):
        native.py_test(
            name = src[:-len(".py")],
            size = size,
            srcs = [src],
            python_version = "PY3",
            deps = deps,
        )
