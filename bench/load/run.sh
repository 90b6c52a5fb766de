#!/usr/bin/env bash
# HTTP load benchmark of the local host, with its baselines in the same run:
#   - POST /bench/noop        an endpoint in the same host that does no work (the bare pipeline)
#   - POST add (202)          accept: post to the owner's mailbox, answer
#   - POST add?wait=true      execute: wait for the owner's answer
#   - Redis INCR              redis-benchmark against a redis-server started here
# Peak throughput with CONNECTIONS connections, then p50/p99 at about half of the add peak (wrk is
# closed-loop: fewer connections give lower throughput; the script picks the connection count whose
# add throughput is closest to 50% of peak). No journal is registered (Snapshot-like configuration).
# Prints a table and writes it into bench/README.md between <!-- load:begin --> and <!-- load:end -->.
# --durability: instead, Journal vs Snapshot add throughput at several connection counts (bench/load/durability.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../readme-section.sh
. "$root/bench/readme-section.sh"
if [ "${1:-}" = "--durability" ]; then shift; exec bash "$root/bench/load/durability.sh" "$@"; fi
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

duration="${DURATION:-10s}"
threads="${THREADS:-2}"
connections="${CONNECTIONS:-64}"
keys="${KEYS:-1024}"
out="$root/artifacts/bench-load"
mkdir -p "$out"

if ! command -v wrk >/dev/null || ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "==> Installing wrk and redis-server (apt-get)"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq wrk redis-server redis-tools >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

echo "==> Building FuncMap.Local (Release)"
dotnet publish functions/FuncMap.Local/FuncMap.Local.csproj -c Release -o "$out/app" -nologo -v quiet -clp:ErrorsOnly >/dev/null

port="$(free_port)"
base="http://127.0.0.1:$port"
echo "==> Starting FuncMap.Local on $base (no journal, noop endpoint on)"
FuncMap__Durability__Mode=Snapshot FuncMap__Storage__Enabled=false \
FuncMap__Bench__NoopEndpoint=true URLS="$base" Logging__LogLevel__Default=Warning \
  dotnet "$out/app/FuncMap.Local.dll" >"$out/host.log" 2>&1 &
host_pid=$!
redis_pid=""
cleanup() {
  kill "$host_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.2 # waiting for another process to start listening, not test synchronization
done
curl -fsS "$base/readyz" >/dev/null

noop="/bench/noop"
add="/api/counters/%s/add"
addwait="/api/counters/%s/add?wait=true"

# run_wrk NAME PATH CONNECTIONS THREADS DURATION -> writes $out/NAME.txt
run_wrk() {
  local name="$1" path="$2" c="$3" t="$4" d="$5"
  FUNCMAP_BENCH_PATH="$path" FUNCMAP_BENCH_KEYS="$keys" \
    wrk -t"$t" -c"$c" -d"$d" --latency -s bench/load/post.lua "$base" >"$out/$name.txt"
  if grep -q "Non-2xx" "$out/$name.txt"; then
    echo "!! $name: non-2xx responses:"; grep "Non-2xx" "$out/$name.txt"
  fi
}
rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out/$1.txt"; }
# pct NAME 50|99 -> latency in ms
pct() {
  awk -v p="$2%" '$1 == p {
      v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
      if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
      printf "%.2f", v }' "$out/$1.txt"
}

echo "==> Warm-up"
run_wrk warmup-noop "$noop" "$connections" "$threads" 3s
run_wrk warmup-add "$add" "$connections" "$threads" 3s
run_wrk warmup-wait "$addwait" "$connections" "$threads" 3s

echo "==> Peak: $connections connections, $threads threads, $duration each"
run_wrk peak-noop "$noop" "$connections" "$threads" "$duration"
run_wrk peak-add "$add" "$connections" "$threads" "$duration"
run_wrk peak-wait "$addwait" "$connections" "$threads" "$duration"

echo "==> Finding the connection count for ~50% of the add peak"
target=$(( $(rps peak-add) / 2 ))
best_c=1; best_diff=-1
for c in 1 2 4 8; do
  run_wrk probe-add-$c "$add" "$c" 1 3s
  r=$(rps probe-add-$c); diff=$(( r > target ? r - target : target - r ))
  if [ "$best_diff" -lt 0 ] || [ "$diff" -lt "$best_diff" ]; then best_c=$c; best_diff=$diff; fi
done
echo "    $best_c connection(s)"
run_wrk half-noop "$noop" "$best_c" 1 "$duration"
run_wrk half-add "$add" "$best_c" 1 "$duration"
run_wrk half-wait "$addwait" "$best_c" 1 "$duration"

echo "==> Redis INCR (redis-benchmark, $connections clients)"
rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$out/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p "$rport" -t incr -n 300000 -c "$connections" --csv >"$out/redis.csv"
redis_rps=$(awk -F'"' '/INCR/ { printf "%.0f", $4 }' "$out/redis.csv")
redis_p50=$(awk -F'"' '/INCR/ { print $10 }' "$out/redis.csv")
redis_p99=$(awk -F'"' '/INCR/ { print $14 }' "$out/redis.csv")

n=$(rps peak-noop); a=$(rps peak-add); w=$(rps peak-wait)
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }
cpu="$(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
table=$(cat <<TABLE
Measured by \`bench/load/run.sh\` on $(date -u +%Y-%m-%d) ($cpu, shared with the load generator;
wrk $threads threads / $connections connections / $duration per run, $keys keys; no journal registered).

| run | requests/s | × bare | p50 ms at ~half load | p99 ms at ~half load |
|---|---:|---:|---:|---:|
| bare endpoint (\`POST /bench/noop\`) | $n | 1.00 | $(pct half-noop 50) | $(pct half-noop 99) |
| \`POST add\` → 202 | $a | $(ratio "$a" "$n") | $(pct half-add 50) | $(pct half-add 99) |
| \`POST add?wait=true\` → 200 | $w | $(ratio "$w" "$n") | $(pct half-wait 50) | $(pct half-wait 99) |
| Redis \`INCR\` (redis-benchmark, $connections clients) | $redis_rps | $(ratio "$redis_rps" "$n") | $redis_p50 (at peak) | $redis_p99 (at peak) |

Half load: $best_c connection(s), 1 thread, which gave $(rps half-add) add requests/s (peak $a).
Targets: add ≥ 0.85× bare, add with wait ≥ 0.75× bare, p99 ≤ 5 ms at half load.
Raw wrk and redis-benchmark output: \`artifacts/bench-load/\`.
TABLE
)
echo
echo "$table"

write_readme_section load "HTTP load" "$table"
echo "==> Wrote the HTTP load section of bench/README.md"
