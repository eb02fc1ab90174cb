#!/usr/bin/env bash
# The check from a terminal, against the demo (`make demo`): its POST /api/transfer/ is a
# DRF view with captchala_scope = "ip". The first call is refused, the sandbox solves a
# check as the browser would, the token passes, and the next calls ride the stored
# checkpoint.
#
#   bash example_project/curl-session.sh [BASE_URL]   (default http://127.0.0.1:8000)
set -euo pipefail
base=${1:-http://127.0.0.1:8000}

# No token yet: refused (HTTP 403).
curl -sS -w '\n' -X POST "$base/api/transfer/" \
    -H 'Content-Type: application/json' -d '{"amount": 5}'
# {"detail":"Please complete the check to continue.","code":"captcha_required"}

# What the widget's loader asks the sandbox for once the user passes the check.
solved=$(curl -sS -X POST "$base/captchala-sandbox/sandbox/solve" \
    -H 'Content-Type: application/json' -d '{"appKey": "sandbox-app-key", "action": "checkout"}')
echo "$solved"
# {"code": 0, "msg": "ok", "data": {"token": "pt_eJnyl4w-VL4IFdkfiOg4c8n4t-WlwzMm", "action": "checkout"}}
token=$(echo "$solved" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])')

# The token passes: the view runs and a checkpoint is stored for this address.
curl -sS -w '\n' -X POST "$base/api/transfer/" -H "X-CaptchaLa-Token: $token" \
    -H 'Content-Type: application/json' -d '{"amount": 5}'
# {"ok":true,"amount":5}

# No token: the stored checkpoint lets the next call through.
curl -sS -w '\n' -X POST "$base/api/transfer/" \
    -H 'Content-Type: application/json' -d '{"amount": 6}'
# {"ok":true,"amount":6}
