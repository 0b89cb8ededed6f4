-- wrk script: POST the request in bench/request.json (path passed as the first argument).
local path = "bench/request.json"
local file = io.open(path, "rb")
local body = file:read("*a"):gsub("\n", "")
file:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("POSTROOM_BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
