#!/usr/bin/env python3
"""Creates USERS SCIM users one request at a time (as an identity provider
does), from CLIENTS concurrent clients, each with its own password (so every
create hashes once), and prints users per second (docs/performance.md).

Usage: scim-bench.py URL TOKEN [USERS] [CLIENTS]
  URL: the server's /scim/v2 URL; TOKEN: a service token with a group_id.
Standard library only; sends traffic only to URL (use a loopback server).
"""

import json
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor


def create(url: str, token: str, i: int, run: str) -> int:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"u{i}-{run}@bench.test",
        "name": {"givenName": f"User{i}", "familyName": "Bench"},
        "displayName": f"User {i} Bench",
        "active": True,
        "password": f"Plum-Orbit-{i}-{run}-Cactus!",
    }
    request = urllib.request.Request(
        f"{url}/Users",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return answer.status


def main() -> int:
    url, token = sys.argv[1].rstrip("/"), sys.argv[2]
    users = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    clients = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    run = uuid.uuid4().hex[:8]
    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(lambda i: create(url, token, i, run), range(users)))
    elapsed = time.monotonic() - started
    created = sum(1 for s in statuses if s == 201)
    print(f"{created} of {users} users created in {elapsed:.1f} s by {clients} clients: "
          f"{created / elapsed:.1f} users/s")
    return 0 if created == users else 1


if __name__ == "__main__":
    sys.exit(main())
