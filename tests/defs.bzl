"""One py_test per *_test.py file of a package (each also runs under pytest)."""

def py_test_per_file(deps, size = "medium"):
    """A py_test for each *_test.py, and `all_tests`, the package's tests."""
    for src in native.glob(["*_test.py"]):
        native.py_test(
            name = src[:-len(".py")],
            size = size,
            srcs = [src],
            python_version = "PY3",
            deps = deps,
        )

    # No `tests` attribute: every test target of the package, so that the
    # root //:tests suite cannot miss a new file.
    native.test_suite(name = "all_tests", visibility = ["//visibility:public"])
