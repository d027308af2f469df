#!/usr/bin/env python3
"""Exec -> event log latency: how long after a process execs its event can be read back.

Usage (root): bench/exec_storm/exec_latency.py --build BUILD_DIR [--samples 30]

Runs twind, then per sample spawns /bin/true with a unique marker and polls the live log with
`twin-replay --json events --kind exec` until the exec is there. The same query, repeated once
the event is in, is the baseline measured in the same run: what reading the log costs by itself.
Prints medians and their ratio. (Was a timed assertion in the privileged tests; a benchmark now.)
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import Twind  # noqa: E402


def query(build, data_dir, marker):
    out = subprocess.run([os.path.join(build, "replay/twin-replay"), "--data-dir", data_dir,
                          "--json", "events", "--kind", "exec"],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip():
            argv = json.loads(line).get("argv", [])
            if len(argv) == 2 and argv[1] == marker:
                return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--samples", type=int, default=30)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="twin-latency-")
    t = Twind(a.build, os.path.join(tmp, "data"))
    latency, baseline = [], []
    try:
        for i in range(a.samples):
            marker = f"latency-{os.getpid()}-{i}"
            t0 = time.monotonic()
            subprocess.run(["/bin/true", marker], check=True)
            while not query(a.build, t.data_dir, marker):
                if time.monotonic() - t0 > 60:
                    raise RuntimeError(f"exec {marker} not in the log after 60 s")
            latency.append(time.monotonic() - t0)
            q0 = time.monotonic()
            query(a.build, t.data_dir, marker)
            baseline.append(time.monotonic() - q0)
    finally:
        t.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    lat, base = statistics.median(latency), statistics.median(baseline)
    load = open("/proc/loadavg").read().split()[0]
    print(f"exec -> readable in the log: median {lat * 1000:.0f} ms (max {max(latency) * 1000:.0f} ms) "
          f"over {a.samples} samples; one log query alone (baseline): median {base * 1000:.0f} ms; "
          f"ratio {lat / base:.2f}; load average {load}")


if __name__ == "__main__":
    main()
