#!/usr/bin/env python3
"""Reads CTest's JUnit report and fails unless every test ran and passed.

Usage: check-ctest-junit.py REPORT.xml [ALLOWED_NOT_RUN_NAME...]

A test counts as not run when CTest gave it status notrun or disabled or a <skipped> element
(GoogleTest's GTEST_SKIP, matched by gtest_discover_tests' SKIP_REGULAR_EXPRESSION). Names in
the allow-list may be disabled; an allow-list name that is not in the report at all is an error
too, so the list cannot go stale after a rename.
"""
import sys
import xml.etree.ElementTree as ET


def main(argv):
    if len(argv) < 2:
        print("usage: check-ctest-junit.py REPORT.xml [ALLOWED_NOT_RUN_NAME...]", file=sys.stderr)
        return 2
    path, allowed = argv[1], set(argv[2:])
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"ci: cannot read the CTest JUnit report {path}: {e}", file=sys.stderr)
        return 1
    cases = root.iter("testcase")
    seen, ran, bad = set(), 0, []
    for c in cases:
        name = c.get("name", "")
        seen.add(name)
        status = c.get("status", "")
        skipped = c.find("skipped") is not None
        failed = c.find("failure") is not None or c.find("error") is not None or status == "fail"
        if failed:
            bad.append(f"failed: {name}")
        elif status in ("notrun", "disabled") or skipped:
            if name in allowed and status == "disabled":
                print(f"ci: allowed benchmark-only entry not run: {name}", file=sys.stderr)
            else:
                bad.append(f"not run ({status or 'skipped'}{', skipped' if skipped else ''}): {name}")
        elif status == "run":
            ran += 1
        else:
            bad.append(f"unknown status {status!r}: {name}")
    for name in sorted(allowed - seen):
        bad.append(f"allow-list entry not in the report (renamed or removed?): {name}")
    if ran == 0:
        bad.append("no test ran")
    for b in bad:
        print(f"ci: {b}", file=sys.stderr)
    print(f"ci: {ran} tests ran and passed, {len(seen) - ran} did not"
          f"{'' if not bad else '; refusing the run'}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
