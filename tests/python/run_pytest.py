"""run_pytest.py - runs one test file with pytest for CTest: exit status 0 when every test
passed, 77 (CTest's skip) when pytest skipped everything (the reasons are printed), pytest's own
status otherwise."""
import sys

import pytest


class Count(object):
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def pytest_runtest_logreport(self, report):
        if report.passed and report.when == "call":
            self.passed += 1
        elif report.failed:
            self.failed += 1
        elif report.skipped:
            self.skipped += 1

    def pytest_collectreport(self, report):
        if report.skipped:
            self.skipped += 1
        elif report.failed:
            self.failed += 1


def main():
    c = Count()
    rc = pytest.main(["-q", "-rs", "-p", "no:cacheprovider", sys.argv[1]] + sys.argv[2:], plugins=[c])
    # 5: nothing collected, which is what a module-level skip looks like
    if rc in (0, 5) and c.passed == 0 and c.skipped > 0 and c.failed == 0:
        print("SKIP: every test of %s was skipped (reasons above)" % sys.argv[1])
        return 77
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
