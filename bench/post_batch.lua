-- wrk script: POST the batch body in the file POSTROOM_BENCH_BATCH names (bench/batch.py writes it).
local file = io.open(os.getenv("POSTROOM_BENCH_BATCH"), "rb")
local body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("POSTROOM_BENCH_KEY")
