#!/usr/bin/env bash
# Exact totals across a host restart in the middle of a load (issue 14): adds without wait and without an
# Idempotency-Key (the app's fast path), every second one on one hot key, the others over 200 keys, 16 callers,
# for DURATION seconds; STOP_AFTER seconds in, the host is stopped and started again on the same storage, and the
# load goes on. Then every key's total is read and compared with what the client knows (bench/FuncMap.LoadGen
# `functions-restart`):
#   acked    answered 202: durably accepted, must count exactly once;
#   unknown  sent, but no 2xx came back (reset, 5xx, timeout): may count or not; never sent again, since without an
#            Idempotency-Key a second send is a second add;
#   refused  connection refused: never arrived, so sent again (while the host is down the callers wait and retry).
# graceful (SIGTERM: the host drains the requests it runs): PASS = every key's total == its acked adds exactly: nothing
#          lost, nothing doubled, and no unknown add counted (a connection the stopping host closed without an answer
#          must carry a request it never ran; the unknowns are reported);
# kill     (SIGKILL host and worker):  PASS = acked ≤ total ≤ acked + unknown on every key (0 acked adds lost).
#
# Needs a running app and a way to stop and start only its host, on the same storage, port and keys:
#   FUNCMAP_BASE_URL, FUNCMAP_FUNCTION_KEY   the app's API root and key (as bench/functions/run.sh)
#   FUNCMAP_HOST_CTL                         a command taking `stop` (SIGTERM, return once the host exited),
#                                            `kill` (SIGKILL host and worker) and `start` (return once it serves again)
# Knobs: MODES="graceful kill" (default both, in turn, each with keys of its own), DURATION=90, STOP_AFTER=25, CONCURRENCY=16.
# Writes the results into bench/README.md (section functions-restart, or functions-restart-<BENCH_LABEL>).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../readme-section.sh
. "$root/bench/readme-section.sh"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out="$root/artifacts/bench-functions"
mkdir -p "$out"

if [ -z "${FUNCMAP_BASE_URL:-}" ] || [ -z "${FUNCMAP_HOST_CTL:-}" ]; then
  cat >&2 <<'MSG'
bench/functions/restart.sh needs a running Functions app and a way to restart only its host:
  FUNCMAP_BASE_URL=http://127.0.0.1:7071/api FUNCMAP_FUNCTION_KEY=<key, if any>
  FUNCMAP_HOST_CTL=<command>: `<command> stop` stops the host gracefully (SIGTERM) and returns when it has exited,
  `<command> kill` kills host and worker (SIGKILL), `<command> start` starts it again on the same storage, port and
  keys and returns when it serves requests (e.g. a wrapper around `func start` with Azurite left running).
MSG
  exit 2
fi

echo "==> Building the load client (bench/FuncMap.LoadGen, Release)"
dotnet build bench/FuncMap.LoadGen/FuncMap.LoadGen.csproj -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
client="$root/bench/FuncMap.LoadGen/bin/Release/net10.0/FuncMap.LoadGen.dll"
duration="${DURATION:-90}"
stop_after="${STOP_AFTER:-25}"
concurrency="${CONCURRENCY:-16}"

lines=""
status=0
for mode in ${MODES:-graceful kill}; do
  case "$mode" in
    graceful) signal=stop; done_word=stopped; exact=(--exact) ;;
    kill) signal=kill; done_word=killed; exact=() ;;
    *) echo "unknown mode $mode (graceful | kill)" >&2; exit 2 ;;
  esac
  echo "==> $mode restart: $duration s of load, host $done_word after $stop_after s and started again"
  dotnet "$client" functions-restart --concurrency "$concurrency" --duration "$duration" "${exact[@]}" >"$out/restart-$mode.txt" 2>"$out/restart-$mode.err" &
  load_pid=$!
  sleep "$stop_after" # the load runs meanwhile; the point of the restart is "in the middle", not an event to wait for
  t0=$(date +%s.%N)
  $FUNCMAP_HOST_CTL "$signal"
  t1=$(date +%s.%N)
  $FUNCMAP_HOST_CTL start
  t2=$(date +%s.%N)
  down=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%s took %.1f s, start %.1f s", "'"$signal"'", b - a, c - b }')
  echo "    host $down"
  if ! wait "$load_pid"; then status=1; fi
  cat "$out/restart-$mode.err" >&2
  cat "$out/restart-$mode.txt"
  lines+="- **$mode** (host $down; load average $(cut -d' ' -f1 /proc/loadavg)): $(grep '^RESULT' "$out/restart-$mode.txt" || echo 'no result')"$'\n'
  lines+="  ($(grep '^refusals' "$out/restart-$mode.txt" || true))"$'\n'
done

label="${BENCH_LABEL:-}"
body=$(cat <<BODY
Measured by \`MODES="${MODES:-graceful kill}" DURATION=$duration STOP_AFTER=$stop_after bench/functions/restart.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)${BENCH_NOTE:+ ($BENCH_NOTE)};
$concurrency callers, adds without wait or Idempotency-Key, half on one hot key, half over 200 keys.

$lines
BODY
)
echo
echo "$body"
write_readme_section "functions-restart${label:+-$label}" "Functions app: exact totals across a host restart${label:+ ($label)}" "$body"
exit "$status"
