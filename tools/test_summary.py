"""Totals the test cases of a `bazel test` run from its JUnit XML files.

Bazel reports targets; this prints the cases inside them, as one line:
`tests: N passed, N failed, N skipped` (after the wall time, if given).

    python tools/test_summary.py "$(bazel info bazel-testlogs)" --seconds=42
"""

import argparse
import pathlib
import xml.etree.ElementTree as ET


def count(testlogs):
    """Returns (passed, failed, skipped) over every test.xml in `testlogs`."""
    passed = failed = skipped = 0
    for xml in pathlib.Path(testlogs).rglob("test.xml"):
        for case in ET.parse(xml).getroot().iter("testcase"):
            if case.get("name") == "test_session":
                continue  # tf.test.TestCase's deprecated helper, never a test
            if (
                case.find("failure") is not None
                or case.find("error") is not None
            ):
                failed += 1
            elif case.find("skipped") is not None or case.get("result") in (
                "suppressed",
                "skipped",
            ):
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("testlogs", help="bazel's testlogs folder")
    parser.add_argument("--seconds", type=int, default=None)
    args = parser.parse_args()
    passed, failed, skipped = count(args.testlogs)
    if args.seconds is not None:
        print(f"wall time of the test run: {args.seconds} s")
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")


if __name__ == "__main__":
    main()
