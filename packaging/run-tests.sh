#!/usr/bin/env bash
# Runs lint and the whole test suite. The suite runs with outbound network cut
# off (a fresh network namespace with only loopback) when the kernel allows it,
# so anything that tries to reach the internet fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

$BIN/ruff check assistant tests bench
$BIN/ruff format --check assistant tests bench
$BIN/lint-imports

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
export ASSISTANT_TEST_ARTIFACTS="${ASSISTANT_TEST_ARTIFACTS:-$PWD/test-artifacts}"

if [ "$(id -u)" = "0" ] && unshare --net true 2>/dev/null; then
  echo "Running tests with the network cut off (loopback only)."
  exec unshare --net -- bash -c 'ip link set lo up && export ASSISTANT_NETWORK_ISOLATED=1 && exec "$0" -m pytest "$@"' "$BIN/python" "$@"
fi
echo "Running tests (network isolation unavailable; in-process guard only)."
exec "$BIN/python" -m pytest "$@"
