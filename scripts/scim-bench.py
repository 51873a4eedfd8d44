#!/usr/bin/env python3
"""Creates USERS SCIM users one request at a time (as an identity provider
does), from CLIENTS concurrent clients, each user with its own password (so
every create hashes once), and prints users per second against the hash floor
(docs/performance.md, "SCIM: creating users one request at a time").

Usage:
  scim-bench.py serve [USERS] [CLIENTS]
      Starts its own embedded `roster-api serve` (from $CARGO_TARGET_DIR/$BIN,
      BIN=debug by default; ROSTER_PASSWORD_HASH, by default OWASP's
      argon2id:m=19456,t=2,p=1) on a free loopback port with a throwaway data
      folder, makes a master, a group and a SCIM service token, measures, then
      measures the hash floor of the same build at the same cost on 1 and on 2
      threads (`roster-bench`'s first phase, FLOOR_ROWS passwords, default 400).
  scim-bench.py URL TOKEN [USERS] [CLIENTS]
      Against a running server: URL is its /scim/v2 URL, TOKEN a service token
      that names a group. No floor.
USERS defaults to 10,000 and CLIENTS to 4. Each client keeps one connection
open, as an identity provider does. Standard library only; sends traffic only
to loopback or to URL. Exits 1 unless every user was created.
"""

import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter

OWASP = "argon2id:m=19456,t=2,p=1"


class Client:
    """One identity provider connection: requests in turn on one keep-alive socket."""

    def __init__(self, url: str, token: str):
        self.url = urllib.parse.urlsplit(url)
        self.token = token
        self.conn = None

    def send(self, method: str, path: str, body=None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port or 80, timeout=120)
            try:
                self.conn.request(method, self.url.path + path, body=data, headers=headers)
                answer = self.conn.getresponse()
                return answer.status, answer.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: open another once.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise


def user(i: int, run: str) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"u{i}-{run}@bench.test",
        "externalId": f"00u{i}{run}",
        "name": {"givenName": f"User{i}", "familyName": "Bench"},
        "displayName": f"User {i} Bench",
        "emails": [{"value": f"u{i}-{run}@bench.test", "type": "work", "primary": True}],
        "active": True,
        "password": f"Plum-Orbit-{i}-{run}-Cactus!",
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU seconds every process of the machine used (busy jiffies of /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measure(url: str, token: str, users: int, clients: int, api_pid=None):
    """Creates the users; returns (every one created, users per second)."""
    run = uuid.uuid4().hex[:8]
    lock = threading.Lock()
    taken = iter(range(users))
    latencies, failures = [], Counter()
    samples = {}

    def client():
        c = Client(url, token)
        while True:
            with lock:
                i = next(taken, None)
            if i is None:
                return
            started = time.monotonic()
            status, body = c.send("POST", "/Users", user(i, run))
            took = time.monotonic() - started
            with lock:
                if status == 201:
                    latencies.append(took)
                else:
                    try:
                        detail = json.loads(body).get("detail", "")
                    except ValueError:
                        detail = body[:200].decode(errors="replace")
                    failures[status] += 1
                    samples.setdefault(status, detail)

    print(f"scim-bench: {users} users, {clients} clients, one POST /Users each; load average {loadavg()}")
    api_cpu = cpu_seconds(api_pid) if api_pid else None
    machine = machine_cpu_seconds()
    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    machine = machine_cpu_seconds() - machine
    created = len(latencies)
    ms = sorted(1000 * t for t in latencies) or [0.0]
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(
        f"{created} of {users} users created in {elapsed:.1f} s by {clients} clients: "
        f"{created / elapsed:.1f} users/s; latency p50 {statistics.median(ms):.0f} ms, "
        f"p95 {p95:.0f} ms, max {ms[-1]:.0f} ms"
    )
    if api_pid:
        api_cpu = cpu_seconds(api_pid) - api_cpu
        print(
            f"  roster-api used {api_cpu:.1f} CPU s ({api_cpu / max(created, 1) * 1000:.1f} ms a user); "
            f"the machine {machine:.1f} CPU s of {os.cpu_count() * elapsed:.1f}; load average after {loadavg()}"
        )
    for status, count in sorted(failures.items()):
        print(f"  {count} answered {status}, e.g.: {samples[status]}")
    return created == users, created / elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base: str, token: str, method: str, path: str, body=None) -> dict:
    conn = http.client.HTTPConnection(base, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    if answer.status >= 300:
        sys.exit(f"{method} {path}: {answer.status} {data[:300]!r}")
    return json.loads(data) if data else {}


def floor(binaries: str, scheme: str, rows: int, threads: int) -> float:
    """Passwords per second that `threads` threads hash at `scheme`, with no I/O:
    the first phase of `roster-bench`, which is stopped right after it."""
    bench = subprocess.Popen(
        [f"{binaries}/roster-bench", "--rows", str(rows), "--workers", "1",
         "--concurrency", str(threads), "--hash", scheme],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        for text in bench.stdout:
            if text.startswith("hash floor"):
                seconds = float(re.search(r"hash floor\s+([0-9.]+) s", text).group(1))
                print(f"  {text.rstrip()}")
                return rows / seconds
        sys.exit("roster-bench printed no hash floor")
    finally:
        # SIGTERM: roster-bench drops what it started and exits.
        bench.send_signal(signal.SIGTERM)
        bench.wait()


def serve(users: int, clients: int) -> bool:
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/roster/target"))
    binaries = os.path.join(target, os.environ.get("BIN", "debug"))
    scheme = os.environ.get("ROSTER_PASSWORD_HASH", OWASP)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="scim-bench-") as folder:
        env = dict(os.environ, ROSTER_DATA_DIR=f"{folder}/data", ROSTER_LISTEN=f"127.0.0.1:{port}",
                   ROSTER_PASSWORD_HASH=scheme)
        with open(f"{folder}/api.log", "w") as log:
            api = subprocess.Popen([f"{binaries}/roster-api", "serve"], env=env, stdout=log, stderr=log)
        try:
            base = f"127.0.0.1:{port}"
            for _ in range(100):
                try:
                    conn = http.client.HTTPConnection(base, timeout=1)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            admin = subprocess.run(
                [f"{binaries}/roster-api", "admin", "create", "--org", "Bench", "--email",
                 "master@bench.test", "--role", "master"],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()
            group = request(base, admin, "POST", "/v1/groups", {"name": "Okta", "parent_id": None})["id"]
            token = request(base, admin, "POST", "/v1/sync/tokens", {"name": "Okta", "group_id": group})["token"]
            print(f"scim-bench: {binaries}/roster-api serve (embedded), {scheme}, {os.cpu_count()} cores")
            ok, rate = measure(f"http://{base}/scim/v2", token, users, clients, api_pid=api.pid)
        finally:
            api.terminate()
            api.wait()
        rows = int(os.environ.get("FLOOR_ROWS", "400"))
        print(f"hash floor of the same build ({rows} passwords; load average {loadavg()}):")
        one = floor(binaries, scheme, rows, 1)
        two = floor(binaries, scheme, rows, 2)
        print(f"  floor: {one:.1f} passwords/s on 1 thread, {two:.1f} on 2")
        print(f"users/s against the floor: {rate / one:.2f}x one thread's, {rate / two:.3f} of two threads'")
        return ok


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "serve":
        users = int(args[1]) if len(args) > 1 else 10_000
        clients = int(args[2]) if len(args) > 2 else 4
        return 0 if serve(users, clients) else 1
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    url, token = args[0].rstrip("/"), args[1]
    users = int(args[2]) if len(args) > 2 else 10_000
    clients = int(args[3]) if len(args) > 3 else 4
    return 0 if measure(url, token, users, clients)[0] else 1


if __name__ == "__main__":
    sys.exit(main())
