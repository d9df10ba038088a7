# Shared by bench/serving's scripts (sourced): the mlforge server under test,
# the bench deployment and its monitor. Expects $bin (the mlforge binary),
# $here (bench/serving), $work (a scratch folder) and a pids array (killed on
# exit by the caller).

wait_for() {  # $1 = url
  for _ in $(seq 1 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "not up: $1" >&2; return 1
}

# Starts `mlforge server` on CPU 0 with its data in $work/server; sets
# server_pid and url. Extra arguments go to the server.
start_mlforge() {
  mkdir -p "$work/server"
  taskset -c 0 "$bin" server --port 0 --port-file "$work/server/port" --data-dir "$work/server" \
    "$@" >"$work/server/out" 2>"$work/server/log" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 300); do [[ -s "$work/server/port" ]] && break; sleep 0.05; done
  url="http://127.0.0.1:$(cat "$work/server/port")"
  wait_for "$url/health"
}

# Registers $1 (an MLflow xgboost package) as model "bench" with alias
# champion, deploys it as "bench" and waits until it serves.
deploy_bench_model() {  # $1 = model package folder
  /usr/bin/python3 "$here/register_model.py" "$url" "$1" bench --alias champion >/dev/null
  curl -sf -X POST "$url/api/2.0/mlforge/deployments/create" -H 'Content-Type: application/json' \
    -d '{"name": "bench", "routes": [{"model_name": "bench", "alias": "champion"}]}' >/dev/null
  wait_for "$url/v2/models/bench/ready"
}

# A live monitor on "bench" (sample rate 1, 60 s windows) against the
# reference CSV $1 (the model's features, with a header).
create_bench_monitor() {  # $1 = reference CSV
  /usr/bin/python3 -c 'import json, sys; print(json.dumps({"deployment": "bench", "window_seconds": 60,
    "sample_rate": 1, "reference": {"csv": open(sys.argv[1]).read()}}))' "$1" >"$work/monitor.json"
  curl -sf -X POST "$url/api/2.0/mlforge/monitors/create" -H 'Content-Type: application/json' \
    -d @"$work/monitor.json" >/dev/null
}

# The single-row OIP v2 infer body of the 30-feature model (as infer.lua sends).
write_infer_body() {  # $1 = file
  /usr/bin/python3 -c 'import math; print(("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,30],\"datatype\":\"FP32\",\"data\":[%s]}]}") % ",".join("%.4f" % (math.sin(i) * 1.5) for i in range(1, 31)), end="")' >"$1"
}
