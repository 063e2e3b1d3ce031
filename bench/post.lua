-- wrk script for bench/http_load.ts: POST /broadcast/{channel}/ with a ~100-byte JSON payload
-- over keep-alive connections (the URL names the channel).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"dryrun": false, "payload": {"t":123456.789,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}'
