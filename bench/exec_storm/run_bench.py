#!/usr/bin/env python3
"""Exec-storm system benchmark: bare vs twind vs libbpf-tools execsnoop, alternated in one run.

Usage (root): bench/exec_storm/run_bench.py --build BUILD_DIR [--count 5000] [--rounds 5]
              [--idle-seconds 60] [--modes bare,twind,twind-nohash,execsnoop]
twind-nohash is twind --no-exe-hash: the same run shows what executable hashing adds.
Prints a Markdown section (Live capture) with rates, ratios to bare, completeness and twind idle
CPU/RSS. Rounds alternate the three modes so drift (thermal, other load) hits all of them.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

def storm(build, count, marker):
    out = subprocess.run([os.path.join(build, "bench/exec_storm/exec_storm"), str(count), marker],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)

def wait_ready(sock, proc, timeout=60):
    sock.settimeout(0.2)
    end = time.time() + timeout
    while time.time() < end:
        try:
            if b"READY=1" in sock.recv(4096):
                return
        except socket.timeout:
            pass
        if proc.poll() is not None:
            raise RuntimeError("twind exited during start-up")
    raise RuntimeError("twind not ready")

class Twind:
    def __init__(self, build, data_dir, extra=()):
        self.build, self.data_dir = build, data_dir
        self.notify = data_dir + ".notify"
        if os.path.exists(self.notify):
            os.unlink(self.notify)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.notify)
        env = {"NOTIFY_SOCKET": self.notify, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        self.log = open(data_dir + ".log", "ab")
        self.proc = subprocess.Popen([os.path.join(build, "userspace/twind"), "--foreground",
                                      "--data-dir", data_dir, "--metrics-addr", "off",
                                      "--config", "/dev/null", "--no-twin", *extra],
                                     env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        wait_ready(self.sock, self.proc)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.sock.close()
        os.unlink(self.notify)

def count_events(build, data_dir, marker):
    """Exec events carrying the marker and the exits of those same processes."""
    out = subprocess.run([os.path.join(build, "replay/twin-replay"), "--data-dir", data_dir,
                          "--json", "events", "--kind", "exec,exit,gap"],
                         check=True, capture_output=True, text=True).stdout
    execs, exits, gaps = set(), 0, 0
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    for r in rows:
        argv = r.get("argv", [])
        if r["kind"] == "exec" and len(argv) == 2 and argv[1] == marker:
            execs.add((r["pid"], r["start_ns"]))
        if r["kind"] == "gap":
            gaps += 1
    for r in rows:
        if r["kind"] == "exit" and (r["pid"], r.get("start_ns", 0)) in execs:
            exits += 1
    return len(execs), exits, gaps

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rfind(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime

def settle(pid, timeout=30.0):
    """Waits until twind's start-up work is done (the resync, hashing the executables of the
    processes found running — on a nice 10 thread, slow on a loaded box — and reading dpkg's
    file lists): under 2 ticks of CPU in each of two consecutive seconds."""
    end, quiet = time.time() + timeout, 0
    while time.time() < end and quiet < 2:
        c = cpu_ticks(pid)
        time.sleep(1.0)
        quiet = quiet + 1 if cpu_ticks(pid) - c < 2 else 0

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--waker-ms", type=float, default=1.0,
                    help="period of a background sleeper present in all modes (0 = none)")
    ap.add_argument("--modes", default="bare,twind,execsnoop",
                    help="comma list, alternated in this order every round: bare, twind, "
                         "twind-nohash (twind --no-exe-hash), execsnoop")
    a = ap.parse_args()
    modes = a.modes.split(",")
    if "bare" not in modes or any(m not in ("bare", "twind", "twind-nohash", "execsnoop") for m in modes):
        ap.error("--modes: bare plus any of twind, twind-nohash, execsnoop")
    execsnoop = shutil.which("execsnoop") or "/usr/sbin/execsnoop"
    waker = None
    if a.waker_ms > 0:
        # On this VM an idle vCPU halts and wakes slowly; any tool with a polling thread keeps it
        # awake and makes spawn+wait faster than bare. A 1 ms sleeper in every mode levels that.
        waker = subprocess.Popen([sys.executable, "-c",
                                  f"import time\nwhile True: time.sleep({a.waker_ms / 1000})"])
    tmp = tempfile.mkdtemp(prefix="twin-bench-")
    rates = {m: [] for m in modes}
    cpu_us = {m: [] for m in modes}  # twind's own CPU (user + system) per exec of the storm
    complete = []
    for rnd in range(a.rounds):
        for mode in modes:
            marker = f"bench-{mode}-{rnd}"
            if mode == "bare":
                rates[mode].append(storm(a.build, a.count, marker)["rate"])
            elif mode in ("twind", "twind-nohash"):
                d = os.path.join(tmp, f"data-{mode}-{rnd}")
                t = Twind(a.build, d, ["--no-exe-hash"] if mode == "twind-nohash" else [])
                settle(t.proc.pid)
                c0 = cpu_ticks(t.proc.pid)
                r = storm(a.build, a.count, marker)
                time.sleep(1.0)  # the writer drains what the storm left in the ring and queue
                cpu_us[mode].append((cpu_ticks(t.proc.pid) - c0) / os.sysconf("SC_CLK_TCK") * 1e6 / a.count)
                t.stop()
                rates[mode].append(r["rate"])
                if mode == "twind":
                    complete.append(count_events(a.build, d, marker))
                shutil.rmtree(d, ignore_errors=True)
            else:
                p = subprocess.Popen([execsnoop], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(2.0)  # let it attach
                rates[mode].append(storm(a.build, a.count, marker)["rate"])
                p.send_signal(signal.SIGINT)
                p.wait(timeout=30)
            print(f"round {rnd} {mode}: {rates[mode][-1]:.0f}/s", file=sys.stderr)
    if waker:
        waker.kill()
        waker.wait()
    # Idle: twind attached, nothing deliberately running (no waker either).
    d = os.path.join(tmp, "idle")
    t = Twind(a.build, d)
    time.sleep(2.0)
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu_ticks(t.proc.pid), time.time()
    time.sleep(a.idle_seconds)
    c1, t1 = cpu_ticks(t.proc.pid), time.time()
    rss = rss_kb(t.proc.pid)
    t.stop()
    out = subprocess.run([os.path.join(a.build, "replay/twin-replay"), "--data-dir", d, "--json",
                          "events", "--kind", "exec,exit,fork"], capture_output=True, text=True).stdout
    idle_events = sum(1 for l in out.splitlines() if l.strip())
    idle_cpu = (c1 - c0) / hz / (t1 - t0) * 100
    med = {k: statistics.median(v) for k, v in rates.items()}
    n = a.count
    print("## Live capture\n")
    print(f"Exec storm: `posix_spawn(/bin/true)` × {n}, each waited for; {a.rounds} rounds, modes "
          f"alternated {' → '.join(modes)} in every round; median rate per mode. "
          f"Machine: {os.cpu_count()} cores, kernel {os.uname().release}.\n")
    print(f"Command: `sudo bench/exec_storm/run_bench.py --build build --count {n} --rounds {a.rounds} "
          f"--idle-seconds {a.idle_seconds} --waker-ms {a.waker_ms:g} --modes {a.modes}`\n")
    if a.waker_ms > 0:
        print(f"A {a.waker_ms:g} ms sleeper runs in every mode: without it, bare is *slower* than "
              "with any tracer attached (an idle vCPU halts and wakes slowly; a tracer's poll "
              "thread keeps it awake), which makes ratios meaningless.\n")
    print("| mode | median exec/s | ratio to bare | all rounds (exec/s) | twind CPU per exec, median (µs) |")
    print("|---|---:|---:|---|---:|")
    for k in modes:
        cpu = f"{statistics.median(cpu_us[k]):.0f}" if cpu_us[k] else "–"
        print(f"| {k} | {med[k]:.0f} | {med[k] / med['bare']:.3f} | "
              + ", ".join(f"{x:.0f}" for x in rates[k]) + f" | {cpu} |")
    for k in modes:
        if k != "bare":
            per = sorted(x / b for x, b in zip(rates[k], rates["bare"]))
            print(f"\n{k}: ratio to bare of the same round, median {statistics.median(per):.3f} "
                  f"(rounds: {', '.join(f'{x:.2f}' for x in per)})", end="")
    print("\n")
    print()
    if not complete:
        complete = [(0, 0, 0)]
    ex = [c[0] for c in complete]
    ei = [c[1] for c in complete]
    gp = [c[2] for c in complete]
    print(f"Completeness with twind (default 8 MiB ring buffer): execs recorded "
          f"{min(ex)}–{max(ex)} of {n} per round ({100 * min(ex) / n:.2f}% worst), exits of those "
          f"processes {min(ei)}–{max(ei)} of {n} ({100 * min(ei) / n:.2f}% worst); gap events: "
          f"{sum(gp)}.\n")
    load = open("/proc/loadavg").read().split()[0]
    print(f"twind idle over {a.idle_seconds} s: {idle_cpu:.3f}% of one core, RSS {rss / 1024:.1f} MiB "
          f"(the host was not quiet: {idle_events} exec/exit/fork events were captured in the "
          f"window, load average {load}).\n")
    shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
