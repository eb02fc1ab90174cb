#!/usr/bin/env bash
# A session with the standalone sandbox, started first with
# `python -m captchala_django.sandbox --port 8765`.
#
#   bash tests/sandbox-session.sh [SANDBOX_URL]   (default http://127.0.0.1:8765)
set -euo pipefail
sandbox=${1:-http://127.0.0.1:8765}

# A pass token for the action "login", as if a browser had passed the check.
token=$(curl -sS -X POST "$sandbox/sandbox/mint" -d '{"action": "login"}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])')

# CaptchaLa's validate call, with the sandbox's own keys.
curl -sS -w '\n' -X POST "$sandbox/v1/validate" \
    -H 'X-App-Key: sandbox-app-key' -H 'X-App-Secret: sandbox-app-secret' \
    -H 'Content-Type: application/json' -d "{\"pass_token\": \"$token\"}"
# {"code": 0, "msg": "ok", "data": {"valid": true, "challenge_id": "ch_...", "action": "login", "risk_score": 12, ...}}

# The same token again: tokens are single-use.
curl -sS -w '\n' -X POST "$sandbox/v1/validate" \
    -H 'X-App-Key: sandbox-app-key' -H 'X-App-Secret: sandbox-app-secret' \
    -H 'Content-Type: application/json' -d "{\"pass_token\": \"$token\"}"
# {"code": 40001, "msg": "token_consumed", "data": {"valid": false, "error": "token_consumed"}}

# From now on every API call times out, until the next fault or reset.
curl -sS -w '\n' -X POST "$sandbox/sandbox/faults" -d '{"mode": "timeout"}'
# {"code": 0, "msg": "ok", "data": {"mode": "timeout", "latency_ms": 0, ...}}

# The counters and the fault in force.
curl -sS -w '\n' "$sandbox/sandbox/stats"
# {"code": 0, "msg": "ok", "data": {"stats": {"validate": 2, ...}, "faults": {"mode": "timeout", ...}}}
