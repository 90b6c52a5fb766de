#!/usr/bin/env bash
# Journal vs Snapshot durability, HTTP add throughput in the same run (bench/load/run.sh --durability):
# two hosts from one build, one per mode, driven alternately by wrk with the same script, at several
# connection counts (group commit needs concurrency: a group is what arrived during the previous fsync).
# The journal host reports its records per group commit through POST /bench/journal-groups (mapped only
# with FuncMap:Bench:NoopEndpoint). Prints a table and writes it into bench/README.md between
# <!-- durability:begin --> and <!-- durability:end -->.
#   CONNECTION_LIST="16 64 256" DURATION=10s THREADS=2 KEYS=1024 bash bench/load/durability.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../readme-section.sh
. "$root/bench/readme-section.sh"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

duration="${DURATION:-10s}"
threads="${THREADS:-2}"
connection_list="${CONNECTION_LIST:-16 64 256}"
keys="${KEYS:-1024}"
out="$root/artifacts/bench-durability"
rm -rf "$out/data"
mkdir -p "$out/data"

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

echo "==> Building FuncMap.Local (Release)"
dotnet publish functions/FuncMap.Local/FuncMap.Local.csproj -c Release -o "$out/app" -nologo -v quiet -clp:ErrorsOnly >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start_host MODE -> sets base_MODE; the journal lives in $out/data (the repository's disk, not tmpfs)
start_host() {
  local mode="$1" port; port="$(free_port)"
  FuncMap__Durability__Mode="$mode" FuncMap__DataDirectory="$out/data/$mode" FuncMap__Storage__Enabled=false \
  FuncMap__Bench__NoopEndpoint=true URLS="http://127.0.0.1:$port" Logging__LogLevel__Default=Warning \
    dotnet "$out/app/FuncMap.Local.dll" >"$out/host-$mode.log" 2>&1 &
  pids+=($!)
  eval "base_$mode=http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2 # waiting for another process to listen, not test synchronization
  done
  echo "host $mode did not become ready; see $out/host-$mode.log"; exit 1
}
start_host Journal
start_host Snapshot
echo "==> Journal host $base_Journal, Snapshot host $base_Snapshot"

# run_wrk NAME BASE CONNECTIONS DURATION -> writes $out/NAME.txt (add → 202 on KEYS keys)
run_wrk() {
  local name="$1" base="$2" c="$3" d="$4"
  FUNCMAP_BENCH_PATH="/api/counters/%s/add" FUNCMAP_BENCH_KEYS="$keys" \
    wrk -t"$threads" -c"$c" -d"$d" --latency -s bench/load/post.lua "$base" >"$out/$name.txt"
  if grep -q "Non-2xx" "$out/$name.txt"; then echo "!! $name: non-2xx responses:"; grep "Non-2xx" "$out/$name.txt"; fi
}
rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out/$1.txt"; }
pct() {
  awk -v p="$2%" '$1 == p {
      v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
      if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
      printf "%.2f", v }' "$out/$1.txt"
}
groups() { curl -fsS -X POST "$base_Journal/bench/journal-groups"; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }

echo "==> Warm-up"
run_wrk warmup-Snapshot "$base_Snapshot" 64 3s
run_wrk warmup-Journal "$base_Journal" 64 3s

rows=""
for c in $connection_list; do
  echo "==> $c connections, $duration per mode"
  run_wrk "add-Snapshot-$c" "$base_Snapshot" "$c" "$duration"
  groups >/dev/null
  run_wrk "add-Journal-$c" "$base_Journal" "$c" "$duration"
  groups >"$out/groups-$c.json"
  s=$(rps "add-Snapshot-$c"); j=$(rps "add-Journal-$c")
  g=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); secs=float(sys.argv[2].rstrip("s")); print("{:,.0f} | {:.1f} / {} / {} / {}".format(d["groups"]/secs, d["mean"], d["p50"], d["p90"], d["max"]))' "$out/groups-$c.json" "$duration")
  echo "    Snapshot $s/s, Journal $j/s, ratio $(ratio "$j" "$s"), groups/s | mean / p50 / p90 / max: $g"
  rows+="| $c | $s | $j | $(ratio "$j" "$s")× | $(pct "add-Snapshot-$c" 50) / $(pct "add-Snapshot-$c" 99) | $(pct "add-Journal-$c" 50) / $(pct "add-Journal-$c" 99) | $g |"$'\n'
done

cpu="$(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
fs="$(df -T "$out/data" | awk 'NR==2 { print $2 }')"
table=$(cat <<TABLE
Measured by \`bash bench/load/run.sh --durability\` on $(date -u +%Y-%m-%d) ($cpu, shared with wrk; wrk $threads threads, $duration per run, $keys keys;
\`POST /api/counters/{key}/add\` → 202; both hosts from one Release build, storage off; journal on $fs, FsyncMode Always, MaxGroupDelay 0).

| connections | Snapshot add/s | Journal add/s | Journal ÷ Snapshot | Snapshot p50 / p99 ms | Journal p50 / p99 ms | fsyncs/s | records per fsync: mean / p50 / p90 / max |
|---:|---:|---:|---:|---:|---:|---:|---|
${rows%$'\n'}

Target: Journal ≥ 0.7× Snapshot. In Journal mode a 202 waits for its group's write + fsync; with MaxGroupDelay 0 a
group is whatever arrived while the previous fsync ran, so a closed-loop client population of C connections gives
groups of about C/2 and throughput ≈ group size ÷ (fsync time + the ack hop). Raw output: \`artifacts/bench-durability/\`.
TABLE
)
echo
echo "$table"

write_readme_section durability "Durability: Journal vs Snapshot (HTTP)" "$table"
echo "==> Wrote the durability section of bench/README.md"
