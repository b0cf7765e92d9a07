#!/usr/bin/env bash
# A tour of the state engine on the example state shipped in examples/ (a copy: the original is never touched).
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
