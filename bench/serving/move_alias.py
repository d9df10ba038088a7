"""Moves a registered model's alias between two versions once a second, over
one keep-alive connection, for bench/serving's hot-swap phases. One process
for the whole phase: a `curl` per move costs the load generator's core a
process start each time, which an open-loop generator charges to the server
as latency. Prints "ready" once connected, then moves `count` times.

usage: move_alias.py URL MODEL ALIAS COUNT
"""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    url, model, alias, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    conn.connect()
    print("ready", flush=True)
    version = 2
    next_move = time.monotonic() + 1
    for _ in range(count):
        time.sleep(max(0.0, next_move - time.monotonic()))
        next_move += 1
        body = json.dumps({"name": model, "alias": alias, "version": str(version)})
        conn.request("POST", "/api/2.0/mlflow/registered-models/alias", body,
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"alias move answered {response.status}")
        version = 3 - version


if __name__ == "__main__":
    main()
