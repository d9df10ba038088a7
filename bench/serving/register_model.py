#!/usr/bin/python3
"""Registers a model package with an mlforge server through its REST API, as a
user's MLflow client would: a run, the package's files uploaded as the run's
artifacts under model/, a registered model version with source runs:/<run>/model,
and an alias. Prints the version number. Standard library only.

    register_model.py URL MODEL_DIR NAME [--alias champion]
"""
import argparse
import json
import os
import urllib.request


def call(url, method, path, body=None, data=None, content_type="application/json"):
    if body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": content_type})
    with urllib.request.urlopen(req) as r:
        text = r.read()
    return json.loads(text) if text else {}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("model_dir")
    p.add_argument("name")
    p.add_argument("--alias", default="")
    a = p.parse_args()
    run = call(a.url, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "0"})["run"]
    run_id = run["info"]["run_id"]
    for f in sorted(os.listdir(a.model_dir)):
        with open(os.path.join(a.model_dir, f), "rb") as fh:
            call(a.url, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/{f}",
                 data=fh.read(), content_type="application/octet-stream")
    try:
        call(a.url, "POST", "/api/2.0/mlflow/registered-models/create", {"name": a.name})
    except urllib.error.HTTPError as e:
        if e.code != 400:  # RESOURCE_ALREADY_EXISTS: a further version of the same model
            raise
    mv = call(a.url, "POST", "/api/2.0/mlflow/model-versions/create",
              {"name": a.name, "source": f"runs:/{run_id}/model", "run_id": run_id})
    version = mv["model_version"]["version"]
    if a.alias:
        call(a.url, "POST", "/api/2.0/mlflow/registered-models/alias",
             {"name": a.name, "alias": a.alias, "version": version})
    print(version)


if __name__ == "__main__":
    main()
