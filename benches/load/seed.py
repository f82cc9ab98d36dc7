#!/usr/bin/env python3
"""Seeds a running fieldproof through its API for the load benchmark and writes what wrk needs.

    seed.py BASE_URL OUT_DIR TECHNICIANS

Signs in as the demo admin (ada) and dispatcher (dana), adds TECHNICIANS technicians, issues one
gas-boiler job to each and signs each technician in. Writes to OUT_DIR:
  technicians.txt   one "<token> <job id> <technician id>" line per technician
  checklist.json    the pinned checklist's bytes as served, and etag.txt its ETag
  signoff.json      a passing sign-off body with "__ID__" where each request puts its own id
  failure.json      a failure report body with "__ID__" and "__JOB__"
  answers.json      the answers alone (the anchors write the same bytes)
"""

import json
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

CHECKLIST = "gas-boiler-annual-service"
PATH = f"/v1/checklists/{CHECKLIST}/versions/1"
DEMO_PASSWORD = "fieldproof-demo"
PASSWORD = "load benchmark password 123"


def call(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request) as response:
        return response.headers, response.read()


def sign_in(base, username, password):
    _, body = call(base, "POST", "/v1/auth/token", body={"username": username, "password": password})
    return json.loads(body)["access_token"]


def passing(item):
    kind = item["kind"]
    if kind == "check":
        return True
    if kind == "yes_no":
        return item["expected"]
    if kind == "number":
        lo = item.get("min", (item.get("limits") or [None])[0])
        hi = item.get("max", (item.get("limits") or [None, None])[1])
        return (lo + hi) / 2
    if kind == "choice":
        failing = item.get("failing_choices") or []
        return next(c for c in item["choices"] if c not in failing)
    if kind == "photo":
        return "photo://uploads/4711.jpg"
    return "Vaillant ecoTEC plus 832, GC 47-044-70"


def main():
    base, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ada, dana = sign_in(base, "ada", DEMO_PASSWORD), sign_in(base, "dana", DEMO_PASSWORD)
    lines = []
    for n in range(1, count + 1):
        username = f"load-tech-{n:03}"
        _, user = call(base, "POST", "/v1/users", ada,
                       {"username": username, "role": "technician", "password": PASSWORD})
        technician_id = json.loads(user)["id"]
        job = {
            "customer": {"name": f"Load Customer {n}", "phone": "+44 7700 900123"},
            "site": {"address": f"{n} Load Street, Leeds", "postcode": "LS1 4AB"},
            "technician": username,
            "checklist_key": CHECKLIST,
            "scheduled_for": "2026-12-01T09:00:00Z",
        }
        _, created = call(base, "POST", "/v1/jobs", dana, job)
        lines.append(f"{sign_in(base, username, PASSWORD)} {json.loads(created)['id']} {technician_id}")
    with open(f"{out}/technicians.txt", "w") as f:
        f.write("\n".join(lines) + "\n")

    headers, checklist = call(base, "GET", PATH, lines[0].split()[0])
    with open(f"{out}/checklist.json", "wb") as f:
        f.write(checklist)
    with open(f"{out}/etag.txt", "w") as f:
        f.write(headers["ETag"])
    answers = [{"item_id": item["id"], "value": passing(item)} for item in json.loads(checklist)["items"]]
    with open(f"{out}/answers.json", "w") as f:
        json.dump(answers, f, separators=(",", ":"))
    signed_at = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signoff = {"id": "__ID__", "answers": answers, "signed_at": signed_at, "signer_name": "Load Technician",
               "meaning": "I carried out this work and the recorded results are true"}
    with open(f"{out}/signoff.json", "w") as f:
        json.dump(signoff, f, separators=(",", ":"))
    failure = {"id": "__ID__", "job_id": "__JOB__",
               "description": "customer rang: the boiler is noisy when the heating comes on in the morning"}
    with open(f"{out}/failure.json", "w") as f:
        json.dump(failure, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
