#!/usr/bin/python3
"""The Python baseline for the serving HTTP bench: FastAPI + uvicorn (uvloop) +
xgboost serving one model package with the Open Inference Protocol v2 infer
route, one row per request, as a typical Python model server does.

    python_peer.py MODEL_DIR [--port 8081] [--name model]

MODEL_DIR is an MLflow xgboost package (serving_runtime_bench --write-package
writes one). Accepts the same request shapes the bench sends to mlforge: one
tensor [N, F] holding every feature in signature order, or one tensor per
column ([N] or [N, 1]). Debian packages only: python3-fastapi, uvicorn,
python3-uvloop, python3-xgboost, python3-yaml.
"""
import argparse
import json
import os

import numpy as np
import uvicorn
import xgboost as xgb
import yaml
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response


def load(model_dir):
    with open(os.path.join(model_dir, "MLmodel")) as f:
        mlmodel = yaml.safe_load(f)
    flavor = mlmodel["flavors"]["xgboost"]
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, flavor["data"]))
    booster.set_param({"nthread": 1})
    columns = [c["name"] for c in json.loads(mlmodel["signature"]["inputs"])]
    return booster, columns


def make_app(model_dir, name):
    booster, columns = load(model_dir)
    index = {c: i for i, c in enumerate(columns)}
    app = FastAPI()

    @app.get("/v2/health/ready")
    async def ready():
        return {"ready": True}

    @app.post("/v2/models/{model_name}/infer")
    async def infer(model_name: str, request: Request):
        if model_name != name:
            raise HTTPException(status_code=404, detail=f"no model {model_name}")
        body = json.loads(await request.body())
        inputs = body["inputs"]
        if len(inputs) == 1 and inputs[0]["name"] not in index:
            t = inputs[0]
            x = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
        else:
            rows = inputs[0]["shape"][0]
            x = np.empty((rows, len(columns)), dtype=np.float32)
            for t in inputs:
                x[:, index[t["name"]]] = np.asarray(t["data"], dtype=np.float32).reshape(rows)
        pred = booster.inplace_predict(x)
        out = {"model_name": name, "outputs": [
            {"name": "predict", "shape": list(pred.shape), "datatype": "FP64",
             "data": pred.astype(np.float64).tolist()}]}
        if "id" in body:
            out["id"] = body["id"]
        return Response(content=json.dumps(out), media_type="application/json")

    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--name", default="model")
    args = parser.parse_args()
    uvicorn.run(make_app(args.model_dir, args.name), host=args.host, port=args.port,
                loop="uvloop", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
