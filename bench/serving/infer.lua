-- wrk script: POSTs one single-row OIP v2 infer request (30 features) per call.
-- The path comes from the URL given to wrk.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local values = {}
for i = 1, 30 do values[i] = string.format("%.4f", math.sin(i) * 1.5) end
wrk.body = '{"inputs":[{"name":"input","shape":[1,30],"datatype":"FP32","data":[' ..
  table.concat(values, ",") .. ']}]}'
