#!/usr/bin/env bash
# The simulator's control API with curl, against a simulator at $SIM (default: started with --port 8700).
# tests/docs/test_examples.py runs this script against a running simulator.
set -euo pipefail
SIM=${SIM:-http://127.0.0.1:8700}
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# [START settings]
curl -sf "$SIM/_sim"
# [END settings]

# [START create_job]
curl -sf -X POST "$SIM/_sim/jobs" -H 'Content-Type: application/json' \
    -d '{"vendor": "pdfco", "outcome": "succeeded", "polls": 2, "results": 1, "result_bytes": 2048}'
# a mistake answers 400 with {"error": ...}: Playment has no 'failed' outcome
curl -s -X POST "$SIM/_sim/jobs" -H 'Content-Type: application/json' -d '{"vendor": "playment", "outcome": "failed"}'
# [END create_job]

# [START job]
JOB_ID=$(curl -sf -X POST "$SIM/_sim/jobs" -H 'Content-Type: application/json' -d '{"vendor": "nitro"}' | json '["job_id"]')
curl -sf "$SIM/_sim/jobs/$JOB_ID"
curl -sf -X POST "$SIM/_sim/jobs/$JOB_ID/expire"
# [END job]

# [START batch]
curl -sf -X POST "$SIM/_sim/batches" -H 'Content-Type: application/json' -d '{"jobs": 250}'
# [END batch]

# [START finish]
curl -sf -X POST "$SIM/_sim/jobs" -H 'Content-Type: application/json' \
    -d '{"vendor": "alteryx", "hold": true, "workflow_id": "5f1e3c0a9b8d7e6f5a4b3c2d"}'
curl -sf -X POST "$SIM/_sim/finish" -H 'Content-Type: application/json' \
    -d '{"workflow_id": "5f1e3c0a9b8d7e6f5a4b3c2d", "count": 1}'
# [END finish]

# [START starts]
curl -sf -X POST "$SIM/_sim/starts" -H 'Content-Type: application/json' \
    -d '{"vendor": "alteryx", "plans": [{"outcome": "failed", "polls": 3}, {"fault": "rate_429"}]}'
curl -sf "$SIM/_sim/starts"
# [END starts]

# [START faults]
curl -sf -X POST "$SIM/_sim/faults" -H 'Content-Type: application/json' \
    -d '{"vendor": "pdfco", "seed": 7, "error_5xx": 0.2, "rate_429": 0.1, "retry_after": 2, "paths": ["status"]}'
curl -sf "$SIM/_sim/faults"
curl -sf -X DELETE "$SIM/_sim/faults"
# [END faults]

# [START requests]
curl -sf "$SIM/_sim/requests?limit=1"
curl -sf -X DELETE "$SIM/_sim/requests"
# [END requests]

# [START config]
curl -sf -X POST "$SIM/_sim/config" -H 'Content-Type: application/json' -d '{"token_ttl": 5}'
curl -sf -X POST "$SIM/_sim/tokens/expire"
curl -sf -X POST "$SIM/_sim/reset"
# [END config]
