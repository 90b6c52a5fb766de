#!/usr/bin/env bash
# Load benchmark of the Functions app under a Functions host (issue 14): in ONE run against one host, applied
# operations per second (adds answered 202 ÷ time from the first request until a GET / the list shows the exact
# expected total) of
#   - the no-op function POST /api/bench/noop (the HTTP path's ceiling; needs FuncMap__Bench__NoopEndpoint=true),
#   - adds on one hot key, adds over 1,000 keys (POST /api/counters/{key}/add, no wait, no Idempotency-Key),
#   - the batch endpoint POST /api/counters/batch (increments/s, unique batchId per request),
# then PRIOR_OPS adds over 1,000 other keys into the task hub (waiting until they are applied) and the same again.
# Every phase has keys of its own, so each total is exact. Client: bench/FuncMap.LoadGen `functions`.
#
# Which host (first that applies):
#   FUNCMAP_BASE_URL (+ FUNCMAP_FUNCTION_KEY)  a running app's API root, e.g. http://127.0.0.1:7071/api
#                                              (`func start` in functions/FuncMap.Functions: no key needed);
#                                              its app settings must have FuncMap__Bench__NoopEndpoint=true.
#   FHOST=<script>                             a script `<script> <repo-root> <port>` that publishes this repo's app,
#                                              starts a Functions host + storage and prints BASE_URL=, FUNCTION_KEY=
#                                              and READY (settings from FHOST_SETTINGS, a local.settings.json);
#                                              one fresh host per CONCURRENCY value, stopped after it.
#                                              (With FUNCMAP_BASE_URL every value runs on the same hub, in turn.)
# Knobs: CONCURRENCY="16 64" (one full run per value), PRIOR_OPS (default 100000), BENCH_LABEL (README section
# "functions-load-<label>" instead of "functions-load"), BENCH_NOTE (a line about the host/commit for the README);
# any other arguments go to the load tool (e.g. --hot-ops 4000; see `dotnet run --project bench/FuncMap.LoadGen -- functions -h`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../readme-section.sh
. "$root/bench/readme-section.sh"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out="$root/artifacts/bench-functions"
mkdir -p "$out"

host_pid=""
# start_fhost: starts "$FHOST" on this repo (fresh storage) and exports FUNCMAP_BASE_URL / FUNCMAP_FUNCTION_KEY.
start_fhost() {
  local port settings
  port="${FHOST_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}"
  settings="$out/bench.settings.json"
  # The repo's sample settings plus the no-op switch.
  python3 - "$root/local.settings.sample.json" "$settings" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8-sig"))
d.setdefault("Values", {})["FuncMap__Bench__NoopEndpoint"] = "true"
json.dump(d, open(sys.argv[2], "w"), indent=2)
PY
  echo "==> Starting a Functions host with $FHOST on port $port (log: $out/host.out)"
  FHOST_SETTINGS="${FHOST_SETTINGS:-$settings}" "$FHOST" "$root" "$port" >"$out/host.out" 2>&1 &
  host_pid=$!
  for _ in $(seq 1 900); do
    grep -q '^READY' "$out/host.out" 2>/dev/null && break
    kill -0 "$host_pid" 2>/dev/null || { tail -20 "$out/host.out" >&2; echo "the host did not start" >&2; exit 1; }
    sleep 1 # waiting for another process to start, not test synchronization
  done
  grep -q '^READY' "$out/host.out" || { echo "the host did not get ready in 15 min" >&2; exit 1; }
  FUNCMAP_BASE_URL="$(sed -n 's/^BASE_URL=//p' "$out/host.out" | head -1)/api"
  FUNCMAP_FUNCTION_KEY="$(sed -n 's/^FUNCTION_KEY=//p' "$out/host.out" | head -1)"
  export FUNCMAP_BASE_URL FUNCMAP_FUNCTION_KEY
}
stop_fhost() { [ -n "$host_pid" ] && kill -TERM "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null || true; host_pid=""; }

trap stop_fhost EXIT

use_fhost=""
[ -z "${FUNCMAP_BASE_URL:-}" ] && [ -n "${FHOST:-}" ] && use_fhost=1

if [ -z "${FUNCMAP_BASE_URL:-}" ] && [ -z "$use_fhost" ]; then
  cat >&2 <<'MSG'
bench/functions/run.sh needs a Functions host running the app (functions/FuncMap.Functions) on Azure Storage / Azurite:
  - start one, e.g. Azure Functions Core Tools: `npx azurite &` then in functions/FuncMap.Functions
    `FuncMap__Bench__NoopEndpoint=true func start`, and run
    FUNCMAP_BASE_URL=http://localhost:7071/api bench/functions/run.sh
  - or give the API root of a running app and a function key (app setting FuncMap__Bench__NoopEndpoint=true):
    FUNCMAP_BASE_URL=https://<app>.azurewebsites.net/api FUNCMAP_FUNCTION_KEY=<key> bench/functions/run.sh
  - or FHOST=<script that starts a host for a repo root and a port, printing BASE_URL=, FUNCTION_KEY=, READY>.
MSG
  exit 2
fi

echo "==> Building the load client (bench/FuncMap.LoadGen, Release)"
dotnet build bench/FuncMap.LoadGen/FuncMap.LoadGen.csproj -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
client="$root/bench/FuncMap.LoadGen/bin/Release/net10.0/FuncMap.LoadGen.dll"

prior="${PRIOR_OPS:-100000}"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
tables=""
status=0
for c in ${CONCURRENCY:-16}; do
  [ -n "$use_fhost" ] && start_fhost # a fresh host and task hub for each concurrency
  echo "==> Concurrency $c against $FUNCMAP_BASE_URL (prior adds: $prior)"
  if ! dotnet "$client" functions --concurrency "$c" --prior-ops "$prior" --markdown "$out/table-c$c.md" "$@" | tee "$out/run-c$c.txt"; then
    status=1
  fi
  [ -n "$use_fhost" ] && stop_fhost
  [ -f "$out/table-c$c.md" ] && tables+="$(cat "$out/table-c$c.md")"$'\n\n'
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

label="${BENCH_LABEL:-}"
section="functions-load${label:+-$label}"
cpu="$(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
body=$(cat <<BODY
Measured by \`${FHOST:+FHOST=<host script> }CONCURRENCY="${CONCURRENCY:-16}" PRIOR_OPS=$prior bench/functions/run.sh${*:+ $*}\` on $started at $commit${BENCH_NOTE:+ ($BENCH_NOTE)};
$cpu, shared with the load client and the host's storage emulator; load average (1/5/15 min) $load_start at the start, $load_end at the end.
Applied/s = operations answered 202 ÷ seconds from the first request until a read showed every key's exact expected total.

$tables
BODY
)
echo
echo "$body"
write_readme_section "$section" "Functions app under load${label:+ ($label)}" "$body"
echo "==> Wrote section $section of bench/README.md"
exit "$status"
