#!/usr/bin/env python3
"""Write bot/link/startup-order.txt: the functions `warroom serve` runs from start until it is
ready and idle, then while it answers requests, in the order the release link lays them out.

Why: the kernel maps a binary's code 64 KiB around each page it touches. The 3.4 MB of code a
server runs at start was spread over ~250 such windows of the 35 MB text, so ~15 MB of it stayed
resident while idle. Laid out together, the same code fills ~55 windows.

How: the release binary runs under valgrind's callgrind (every function executed, by its
linker name) until /readyz answers and it has idled; a dump there closes the start set; then a
short workload (commands over the API, Alertmanager, Falco and Events v2 alerts, the console,
/metrics) gives the request set.
Where `perf` can record page faults, a plain run adds the functions that fault code pages in
outside the set (code paths valgrind's CPU does not take, such as SHA and CRC instructions).
Names no longer in the binary are dropped; the previous file's names that still are are kept,
so running it again after a relink only adds.

Needs: valgrind, binutils (nm); perf optional. Run after changing dependencies or startup:

    cargo build --release -p warroom
    python3 scripts/startup-order.py            # --bin PATH --out PATH
    cargo build --release -p warroom            # relinks with the new order
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The built-in plan's intake credentials, so the workload's alerts are taken in.
TOKENS = {
    "WARROOM_ALERTMANAGER_TOKEN": "order-run",
    "WARROOM_FALCO_TOKEN": "order-run",
    "WARROOM_EVENTS_ROUTING_KEY": "order-run",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"warroom exited with {proc.returncode} before it was ready")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"warroom was not ready within {seconds} s")


def workload(port):
    """A few of each request a responder makes, so their code sits together too."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    refused = []

    def call(method, path, body=None, headers=None):
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        answer = r.read()
        if r.status >= 300:
            refused.append(f"{method} {path}: {r.status} {answer[:200]!r}")
        return answer

    def command(text, incident=None):
        body = {"person": "alice", "text": text}
        if incident:
            body["incident"] = incident
        answer = call("POST", "/api/v1/command", json.dumps(body),
                      {"content-type": "application/json"})
        return json.loads(answer or b"{}").get("incident")

    incident = None
    for n in range(3):
        incident = command(f'incident open "order run {n}" --severity sev2')
    for text in ("note the workload notes this", "timeline", "help"):
        command(text, incident)
    alert = {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": "{}:{alertname=\"OrderRun\"}",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "OrderRun", "severity": "critical"},
                "annotations": {"summary": "startup order workload"},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }
    call(
        "POST",
        "/alerts/alertmanager",
        json.dumps(alert),
        {"content-type": "application/json", "authorization": "Bearer order-run"},
    )
    # Falco events one by one, as the single-post benchmark sends them.
    for n in range(20):
        falco = {
            "output": "A shell was spawned in a container",
            "priority": "Warning",
            "rule": "Terminal shell in container",
            "source": "syscall",
            "time": "2026-01-01T00:00:00.000000000Z",
            "output_fields": {
                "container.id": f"c{n}",
                "k8s.ns.name": "payments",
                "k8s.pod.name": f"api-{n % 3}",
                "proc.cmdline": "sh",
                "user.name": "root",
            },
        }
        call(
            "POST",
            "/alerts/falco",
            json.dumps(falco),
            {"content-type": "application/json", "authorization": "Bearer order-run"},
        )
    events = {
        "routing_key": "order-run",
        "event_action": "trigger",
        "dedup_key": "order-run",
        "payload": {"summary": "startup order workload", "source": "order", "severity": "error"},
    }
    call("POST", "/alerts/events/v2", json.dumps(events), {"content-type": "application/json"})
    for path in ("/", "/api/v1/incidents", "/metrics", "/healthz", "/api/v1/ledger/verify"):
        call("GET", path)
    if refused:
        # A refused request ran only its refusal: the profile would miss its path.
        sys.exit("the workload's requests were refused:\n  " + "\n  ".join(refused))


def serve(prefix, binary, work, data):
    """`warroom serve` on a free loopback port under `prefix` (valgrind or perf), with the
    built-in plan and the workload's intake credentials; returns (process, port)."""
    port = free_port()
    proc = subprocess.Popen(
        prefix + [binary, "serve", "--data", os.path.join(work, data),
                  "--listen", f"127.0.0.1:{port}"],
        cwd=work, env=dict(os.environ, **TOKENS),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return proc, port


def run_callgrind(binary, work):
    out = os.path.join(work, "callgrind.out")
    proc, port = serve(["valgrind", "--tool=callgrind", "--demangle=no",
                        f"--callgrind-out-file={out}"], binary, work, "data")
    try:
        print("callgrind: starting warroom serve (about a minute) ...", flush=True)
        wait_ready(port, proc, 600)
        time.sleep(10)
        subprocess.run(["callgrind_control", "--dump=idle", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        print("callgrind: ready and idle; running requests ...", flush=True)
        workload(port)
        time.sleep(2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    # Each dump is callgrind.out.N, in order; what ran after the last dump is callgrind.out.
    parts = sorted(
        (p for p in os.listdir(work) if p.startswith("callgrind.out")),
        key=lambda p: int(p.rsplit(".", 1)[1]) if p[-1].isdigit() else 1 << 30,
    )
    # The first part ends at the dump (start and idle); the last is what came after.
    start = names(os.path.join(work, parts[0]))
    later = set()
    for p in parts[1:]:
        later |= names(os.path.join(work, p))
    return start, later - start


def names(path):
    found = set()
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^c?fn=\(\d+\) (.*)$", line.rstrip("\n"))
            if m:
                found.add(m.group(1))
    return found


def run_perf_faults(binary, work):
    """Functions whose first instruction fetch faulted a code page in, outside any set."""
    if shutil.which("perf") is None:
        print("perf: not installed; skipped")
        return set()
    data = os.path.join(work, "faults.data")
    proc, port = serve(["perf", "record", "-q", "-c", "1", "-e", "page-faults", "-d", "-o",
                        data], binary, work, "perf-data")
    try:
        wait_ready(port, proc, 120)
        time.sleep(3)
        workload(port)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    script = subprocess.run(
        ["perf", "script", "--no-demangle", "-i", data, "-F", "addr,ip,sym"],
        capture_output=True, text=True,
    )
    if script.returncode != 0:
        print("perf: no page-fault samples (perf_event not permitted?); skipped")
        return set()
    found = set()
    for line in script.stdout.splitlines():
        # "ADDR [ADDR'S SYMBOL] IP SYMBOL": an instruction fetch faults at its own ip.
        f = line.split()
        ips = [i for i in range(1, len(f) - 1) if re.fullmatch(r"[0-9a-f]{9,}", f[i])]
        if ips and f[ips[-1]] == f[0]:
            found.add(f[ips[-1] + 1])
    return found


def text_symbols(binary):
    nm = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True,
                        text=True, check=True)
    syms = {}
    for line in nm.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            syms[f[3]] = int(f[0], 16)
    return syms


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(target, "release", "warroom"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bot", "link", "startup-order.txt"))
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "nm"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install valgrind binutils")
    syms = text_symbols(args.bin)
    previous = set()
    if os.path.exists(args.out):
        with open(args.out) as f:
            previous = {line.strip() for line in f if line.strip()}
    with tempfile.TemporaryDirectory(prefix="warroom-order-") as work:
        start, later = run_callgrind(args.bin, work)
        faulted = run_perf_faults(args.bin, work)
    # What an earlier run found that this one did not (a CPU path, a race) stays at start.
    first = {n for n in start | faulted | (previous - later) if n in syms}
    second = {n for n in later if n in syms} - first
    order = sorted(first, key=syms.get) + sorted(second, key=syms.get)
    with open(args.out, "w") as f:
        f.write("\n".join(order) + "\n")
    print(
        f"{args.out}: {len(order)} functions ({len(first)} at start and idle, "
        f"{len(second)} more for requests; {len(faulted - start - later & syms.keys())} "
        f"found by page faults only, {len(previous & syms.keys())} kept from before)"
    )


if __name__ == "__main__":
    main()
