-- wrk script of bench/tokend-bench: the request comes from the environment
-- (BENCH_METHOD, BENCH_BODY, BENCH_ETAG) so that the token, in BENCH_TOKEN,
-- never appears on a command line.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Accept"] = "application/vnd.rerobots.v1+json"
if wrk.body then
	wrk.headers["Content-Type"] = "application/json"
end
local etag = os.getenv("BENCH_ETAG")
if etag then
	wrk.headers["If-None-Match"] = etag
end
