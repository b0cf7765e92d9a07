#!/usr/bin/env bash
# A tour of driftmgr: the state engine on the example state shipped in examples/ (a copy: the original is
# never touched), then cloud discovery against a local AWS sandbox (moto on a loopback port; no real cloud).
set -euo pipefail
cd "$(dirname "$0")/.."
DRIFTMGR=".venv/bin/driftmgr"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export DRIFTMGR_DATA_DIR="$WORK/data"
cp examples/terraform.tfstate "$WORK/terraform.tfstate"
STATE="$WORK/terraform.tfstate"

step() { printf '\n\033[1m$ driftmgr %s\033[0m\n' "$*"; "$DRIFTMGR" "$@"; }

step state list --state "$STATE"
step state list --state "$STATE" --module module.network --json
step state show --state "$STATE" aws_db_instance.main
step state validate --state "$STATE"
step state mv --state "$STATE" aws_instance.web module.app.aws_instance.web --dry-run
step state mv --state "$STATE" aws_instance.web module.app.aws_instance.web
step state rm --state "$STATE" aws_route53_record.www
step state backups --state "$STATE"
step state restore --state "$STATE" 1
step state list --state "$STATE" --type aws_instance
printf '\nThe example state was copied to a temporary directory, changed there, and removed.\n'

# --- discovery against a local AWS sandbox ------------------------------------------------------------
PORT="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.venv/bin/moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
trap 'kill "$MOTO" 2>/dev/null; rm -rf "$WORK"' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE
for _ in $(seq 100); do
    .venv/bin/python -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/data.json', timeout=1)" \
        2>/dev/null && break
    sleep 0.1
done
printf '\n\033[1m# a sandbox AWS account on %s\033[0m\n' "$AWS_ENDPOINT_URL"
.venv/bin/python examples/seed_sandbox.py
step discover --provider aws --regions us-east-1,eu-west-1
step discover runs
step discover show 1 --type aws_instance --type aws_s3_bucket --no-defaults
printf '\nThe sandbox ran on a loopback port and is gone; no real cloud was touched.\n'
