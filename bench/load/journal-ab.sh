#!/usr/bin/env bash
# Journal add before/after a change, in one run: hosts of two builds (BASE, a git revision, default main; and the
# working tree) started side by side, storage off, and driven alternately by wrk with the same script: Snapshot (of
# the base), Journal of each build, and each Journal again with FsyncMode=Never (the code path without the disk).
# Spread keys at 16/64/256 connections, one hot key, half load (4 connections, 1 thread), 100- and 1,000-item
# batches, then Redis INCR with appendfsync always (16/64/256 clients, and -P 16). Each line gives the host CPU per
# request (/proc/PID/stat), the journal's groups and the load average. Prints only; writes nothing to README.md.
#   BASE=main ROUNDS=2 DURATION=5s bash bench/load/journal-ab.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
base_rev="${BASE:-main}"; rounds="${ROUNDS:-2}"; duration="${DURATION:-5s}"
out="$root/artifacts/bench-journal-ab"
rm -rf "$out"; mkdir -p "$out/base-src" "$out/data"
command -v wrk >/dev/null && command -v redis-server >/dev/null || { echo "wrk and redis-server are required (apt-get install wrk redis-server redis-tools)"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

echo "==> Building $base_rev and the working tree (Release)"
git archive "$base_rev" | tar -x -C "$out/base-src"
(cd "$out/base-src" && dotnet publish functions/FuncMap.Local/FuncMap.Local.csproj -c Release -o "$out/app-base" -nologo -v quiet -clp:ErrorsOnly >/dev/null)
dotnet publish functions/FuncMap.Local/FuncMap.Local.csproj -c Release -o "$out/app-tree" -nologo -v quiet -clp:ErrorsOnly >/dev/null

pids=(); cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
declare -A url pid
names=(snapshot journal-base journal-tree nofsync-base nofsync-tree)
start() { # name app mode fsync
  local port; port="$(free_port)"
  FuncMap__Durability__Mode="$3" FuncMap__Journal__FsyncMode="$4" FuncMap__DataDirectory="$out/data/$1" FuncMap__Storage__Enabled=false \
  FuncMap__Bench__NoopEndpoint=true URLS="http://127.0.0.1:$port" Logging__LogLevel__Default=Warning \
    dotnet "$2/FuncMap.Local.dll" >"$out/host-$1.log" 2>&1 &
  pids+=($!); pid[$1]=$!; url[$1]="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -fsS "${url[$1]}/readyz" >/dev/null 2>&1 && return 0; sleep 0.2; done # another process starting
  echo "host $1 did not become ready; see $out/host-$1.log"; exit 1
}
start snapshot "$out/app-base" Snapshot Always
start journal-base "$out/app-base" Journal Always
start journal-tree "$out/app-tree" Journal Always
start nofsync-base "$out/app-base" Journal Never
start nofsync-tree "$out/app-tree" Journal Never

# measure LABEL SCRIPT CONNECTIONS THREADS KEYS: one wrk run per host, alternately, ROUNDS times
measure() {
  local label="$1" script="$2" c="$3" t="$4" k="$5"
  echo "== $label"
  for n in "${names[@]}"; do FUNCMAP_BENCH_PATH="/api/counters/%s/add" FUNCMAP_BENCH_KEYS="$k" wrk -t"$t" -c"$c" -d2s -s "$script" "${url[$n]}" >/dev/null; done
  for r in $(seq 1 "$rounds"); do
    for n in "${names[@]}"; do
      curl -fsS -X POST "${url[$n]}/bench/journal-groups" >/dev/null 2>&1 || true
      local file="$out/$label-$n-r$r.txt" before after
      before=$(awk '{ print $14 + $15 }' "/proc/${pid[$n]}/stat")
      FUNCMAP_BENCH_PATH="/api/counters/%s/add" FUNCMAP_BENCH_KEYS="$k" wrk -t"$t" -c"$c" -d"$duration" --latency -s "$script" "${url[$n]}" >"$file"
      after=$(awk '{ print $14 + $15 }' "/proc/${pid[$n]}/stat")
      local groups; groups=$(curl -fsS -X POST "${url[$n]}/bench/journal-groups" 2>/dev/null \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print("groups %d, records per group mean %.1f p50 %d max %d" % (d["groups"], d["mean"], d["p50"], d["max"]))' 2>/dev/null || true)
      awk -v n="$n" -v r="$r" -v b="$before" -v a="$after" -v tck="$(getconf CLK_TCK)" -v g="$groups" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
        /^Requests\/sec:/ { rps = $2 } / requests in / { reqs = $1 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } /Non-2xx/ { bad = " NON-2XX: " $0 }
        END { printf "r%s %-13s %9.0f req/s  p50 %-8s p99 %-8s cpu %6.1f us/req  %s | load %s%s\n", r, n, rps, p50, p99, (a - b) / tck * 1e6 / reqs, g, load, bad }' "$file"
    done
  done
}
measure "spread-16" bench/load/post.lua 16 2 1024
measure "spread-64" bench/load/post.lua 64 2 1024
measure "spread-256" bench/load/post.lua 256 2 1024
measure "hot-64" bench/load/post.lua 64 2 1
measure "half-4" bench/load/post.lua 4 1 1024
FUNCMAP_BATCH_ITEMS=100 measure "batch100-16" bench/load/batch.lua 16 2 1024
FUNCMAP_BATCH_ITEMS=1000 measure "batch1000-16" bench/load/batch.lua 16 2 1024

echo "== Redis INCR, appendonly yes, appendfsync always"
rport="$(free_port)"; mkdir -p "$out/redis"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always --dir "$out/redis" --daemonize no >"$out/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
for c in 16 64 256; do
  redis-benchmark -p "$rport" -t incr -n 200000 -c "$c" -r 1024 --csv | awk -F'"' -v c="$c" '/INCR/ { printf "redis always, %s clients: %s req/s, p50 %s ms, p99 %s ms\n", c, $4, $10, $14 }'
done
redis-benchmark -p "$rport" -t incr -n 1000000 -c 64 -P 16 -r 1024 --csv | awk -F'"' '/INCR/ { printf "redis always, 64 clients, -P 16: %s INCR/s\n", $4 }'
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
