#!/usr/bin/env python3
"""scim2-tester (from the scim2-cli package, pinned in scripts/test) against a
running roster-api, as `scim test` runs it, with the two adaptations Roster
needs, each with its reason:

- userName is generated as an email address: Roster's userName is the
  technician's email (API.md, "SCIM 2.0"), and the tester fills strings with a
  bare UUID, which every create would refuse (invalidValue).
- the checks in SWITCHED_OFF, by check name and attribute path, do not apply.

Usage: scim-check.py URL TOKEN. Prints one line per check; exits 1 when a
check that is not switched off ended in anything but SUCCESS or SKIPPED.
"""

import sys
import uuid

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server
import scim2_tester.filling as filling

# (check name, attribute path) -> why the check does not apply to Roster.
SWITCHED_OFF = {
    ("check_remove_attribute", "name"):
        "name.formatted shows the technician's Name, which is required: name cannot become unassigned",
    ("check_remove_attribute", "active"):
        "a technician is enabled or disabled: active cannot become unassigned",
}

_generate = filling.generate_random_value


def generate(context, path, *args, **kwargs):
    if str(path).split(":")[-1] == "userName":
        return f"{uuid.uuid4()}@scim-check.test"
    return _generate(context, path, *args, **kwargs)


# The checkers import the generator by name: replace it wherever it is.
for module in list(sys.modules.values()):
    if (getattr(module, "__name__", "") or "").startswith("scim2_tester") and hasattr(
        module, "generate_random_value"
    ):
        module.generate_random_value = generate


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
    results = check_server(client)
    failed = 0
    for result in results:
        urn = (result.data or {}).get("urn") if isinstance(result.data, dict) else None
        key = (result.title, urn)
        status = result.status.name
        if result.status in (Status.SUCCESS, Status.SKIPPED):
            pass
        elif key in SWITCHED_OFF:
            status = f"OFF ({SWITCHED_OFF[key]})"
        else:
            failed += 1
        print(f"{status} {result.title}{' ' + urn if urn else ''}: {result.reason or ''}")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
