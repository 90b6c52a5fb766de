#!/usr/bin/env bash
# Where a Journal-mode add spends its time, beside a Snapshot-mode add from the same build: for each mode one host
# (storage off) under wrk, and over the same window the host's CPU (/proc/PID/stat), dotnet-counters' thread-pool work
# items and allocated bytes (both divided by requests), lock contentions, and the journal's commit duration and group
# size percentiles. Prints one block per mode; nothing is written to bench/README.md.
#   CONNECTIONS=64 DURATION=10 KEYS=1024 bash bench/load/journal-profile.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
duration="${DURATION:-10}"; connections="${CONNECTIONS:-64}"; keys="${KEYS:-1024}"
out="$root/artifacts/bench-journal-profile"; tools="$root/artifacts/tools"
rm -rf "$out"; mkdir -p "$out/data"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
[ -x "$tools/dotnet-counters" ] || dotnet tool install dotnet-counters --tool-path "$tools" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "==> Building FuncMap.Local (Release)"
dotnet publish functions/FuncMap.Local/FuncMap.Local.csproj -c Release -o "$out/app" -nologo -v quiet -clp:ErrorsOnly >/dev/null
pid=""; trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT

for mode in Snapshot Journal; do
  port="$(free_port)"; base="http://127.0.0.1:$port"
  FuncMap__Durability__Mode="$mode" FuncMap__DataDirectory="$out/data/$mode" FuncMap__Storage__Enabled=false \
  FuncMap__Bench__NoopEndpoint=true URLS="$base" Logging__LogLevel__Default=Warning \
    dotnet "$out/app/FuncMap.Local.dll" >"$out/host-$mode.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.2; done # another process starting, not test synchronization
  FUNCMAP_BENCH_PATH="/api/counters/%s/add" FUNCMAP_BENCH_KEYS="$keys" wrk -t2 -c"$connections" -d5s -s bench/load/post.lua "$base" >/dev/null # warm-up (tiering)
  "$tools/dotnet-counters" collect -p "$pid" --counters System.Runtime,FuncMap.Journal --format csv -o "$out/counters-$mode.csv" \
    --refresh-interval 1 --duration "00:00:$(printf %02d $((duration + 3)))" >/dev/null 2>&1 &
  counters=$!
  sleep 1.5 # let the counter session attach before the measured window
  before=$(cpu_ticks "$pid")
  FUNCMAP_BENCH_PATH="/api/counters/%s/add" FUNCMAP_BENCH_KEYS="$keys" wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/load/post.lua "$base" >"$out/wrk-$mode.txt"
  after=$(cpu_ticks "$pid")
  wait "$counters" || true
  python3 - "$mode" "$out/wrk-$mode.txt" "$out/counters-$mode.csv" "$before" "$after" "$(getconf CLK_TCK)" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import collections, csv, re, sys
mode, wrk, counters, before, after, tck, load = sys.argv[1:]
text = open(wrk).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
requests = int(re.search(r"(\d+) requests in", text).group(1))
series = collections.defaultdict(list)
for row in csv.reader(open(counters)):
    if len(row) >= 5 and row[0] != "Timestamp" and row[4]:
        series[row[2]].append(float(row[4]))
def mean(part):
    for name, values in series.items():
        if part in name:
            values = [v for v in values if v > 0][2:-1] or values  # the measured window, not the edges
            return sum(values) / len(values) if values else float("nan")
    return float("nan")
cpu_us = (int(after) - int(before)) / int(tck) / requests * 1e6
print(f"{mode}: {rps:,.0f} adds/s (load average {load})")
print(f"  host CPU per add {cpu_us:.1f} us; thread-pool work items per add {mean('thread_pool.work_item.count') / rps:.2f}; "
      f"allocated per add {mean('gc.heap.total_allocated') / rps:,.0f} B; lock contentions/s {mean('monitor.lock_contentions'):.0f}; "
      f"CPU user/system {mean('cpu.mode=user'):.2f}/{mean('cpu.mode=system'):.2f} s/s")
if mode == "Journal":
    print(f"  commit (write + fdatasync) p50/p95/p99 ms: " + " / ".join(f"{mean(f'commit.duration (ms)[Percentile={p}]'):.3f}" for p in (50, 95, 99)))
    print(f"  records per group p50/p95/p99: " + " / ".join(f"{mean(f'group.size ({{record}})[Percentile={p}]'):.1f}" for p in (50, 95, 99)))
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
