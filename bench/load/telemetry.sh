#!/usr/bin/env bash
# What exporting telemetry costs on the hot path, in one run: hosts of one Release build (storage off) started side by
# side, telemetry off beside OTLP export to a local do-nothing sink (bench/load/otlp-sink.py, http/protobuf), with the
# host's default sampler (variant default: no OTEL_TRACES_SAMPLER, so 1 % of root traces), with every trace
# (variant all: parentbased_traceidratio 1, the specification's default) and with 1 % named explicitly
# (parentbased_traceidratio 0.01), and metrics alone (the Prometheus exporter, never scraped), for Snapshot and Journal
# adds (MODES, VARIANTS select); variant off2 is a second telemetry-off host, the control: its ratio is what the method
# and the machine's noise alone give (an A/A test); driven alternately by wrk (bench/load/post.lua),
# ROUNDS times, each host warmed up first for WARMUP (JIT tiering: a host measured cold pays several times the CPU per
# request), the hosts in reverse order every other round. Each line: req/s, p50/p99, host CPU per request
# (/proc/PID/stat); then each mode's ratios to its telemetry-off host: of the means over the rounds, and the median of
# the rounds' own ratios (each round's hosts run within seconds of each other, so one slow moment moves one round),
# and with off2 also the median of the rounds' ratios to the mean of both telemetry-off hosts. Metrics are exported every OTEL_METRIC_EXPORT_INTERVAL (5 s here, 60 s by default).
# Prints only; writes nothing to README.md.
#   ROUNDS=4 DURATION=4s CONNECTIONS=64 MODES="snapshot journal" VARIANTS="off2 default all 1pct metrics" bash bench/load/telemetry.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rounds="${ROUNDS:-2}"; duration="${DURATION:-5s}"; warmup="${WARMUP:-5s}"; connections="${CONNECTIONS:-64}"; keys="${KEYS:-1024}"
out="$root/artifacts/bench-telemetry"
rm -rf "$out"; mkdir -p "$out/data"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

echo "==> Building the local host (Release)"
dotnet publish functions/FuncMap.Local/FuncMap.Local.csproj -c Release -o "$out/app" -nologo -v quiet -clp:ErrorsOnly >/dev/null

pids=(); cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
sink_port="$(free_port)"
python3 bench/load/otlp-sink.py "$sink_port" >"$out/sink.log" 2>&1 &
sink=$!; pids+=("$sink")

declare -A url pid
names=()
start() { # name mode sampler-arg (empty: telemetry off; "metrics": the Prometheus exporter alone, never scraped)
  local port; port="$(free_port)"
  local env=(FuncMap__Durability__Mode="$2" FuncMap__DataDirectory="$out/data/$1" FuncMap__Storage__Enabled=false
    URLS="http://127.0.0.1:$port" Logging__LogLevel__Default=Warning)
  if [ "$3" = metrics ]; then
    env+=(FuncMap__Telemetry__PrometheusEndpoint=true)
  elif [ "$3" = default ]; then
    env+=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_METRIC_EXPORT_INTERVAL=5000)
  elif [ -n "$3" ]; then
    env+=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
      OTEL_METRIC_EXPORT_INTERVAL=5000 OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="$3")
  fi
  env "${env[@]}" dotnet "$out/app/FuncMap.Local.dll" >"$out/host-$1.log" 2>&1 &
  pids+=($!); pid[$1]=$!; url[$1]="http://127.0.0.1:$port"; names+=("$1")
  for _ in $(seq 1 100); do curl -fsS "${url[$1]}/readyz" >/dev/null 2>&1 && return 0; sleep 0.2; done # another process starting
  echo "host $1 did not become ready; see $out/host-$1.log"; exit 1
}
# traceidratio 1 is always_on under a parent-based sampler: the default's cost, named explicitly.
modes="${MODES:-snapshot journal}"
variants="${VARIANTS:-off2 default all 1pct metrics}"
for mode in $modes; do
  start "$mode-off" "${mode^}" ""
  for variant in $variants; do
    case "$variant" in off2) arg="" ;; all) arg=1 ;; 1pct) arg=0.01 ;; default) arg=default ;; *) arg="$variant" ;; esac
    start "$mode-$variant" "${mode^}" "$arg"
  done
done

declare -A rps_sum cpu_sum round_rps round_cpu
for n in "${names[@]}"; do FUNCMAP_BENCH_PATH="/api/counters/%s/add" FUNCMAP_BENCH_KEYS="$keys" wrk -t2 -c"$connections" -d"$warmup" -s bench/load/post.lua "${url[$n]}" >/dev/null; done
reversed=(); for ((i = ${#names[@]} - 1; i >= 0; i--)); do reversed+=("${names[$i]}"); done
for r in $(seq 1 "$rounds"); do
  if ((r % 2)); then order=("${names[@]}"); else order=("${reversed[@]}"); fi
  for n in "${order[@]}"; do
    file="$out/$n-r$r.txt"
    before=$(awk '{ print $14 + $15 }' "/proc/${pid[$n]}/stat")
    FUNCMAP_BENCH_PATH="/api/counters/%s/add" FUNCMAP_BENCH_KEYS="$keys" wrk -t2 -c"$connections" -d"$duration" --latency -s bench/load/post.lua "${url[$n]}" >"$file"
    after=$(awk '{ print $14 + $15 }' "/proc/${pid[$n]}/stat")
    line=$(awk -v n="$n" -v r="$r" -v b="$before" -v a="$after" -v tck="$(getconf CLK_TCK)" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
      /^Requests\/sec:/ { rps = $2 } / requests in / { reqs = $1 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } /Non-2xx/ { bad = " NON-2XX: " $0 }
      END { printf "r%s %-14s %9.0f req/s  p50 %-8s p99 %-8s cpu %6.1f us/req | load %s%s\n", r, n, rps, p50, p99, (a - b) / tck * 1e6 / reqs, load, bad }' "$file")
    echo "$line"
    round_rps[$n-r$r]=$(awk -v l="$line" 'BEGIN { split(l, f, " "); print f[3] }')
    round_cpu[$n-r$r]=$(awk -v l="$line" 'BEGIN { n = split(l, f, " "); for (i = 1; i <= n; i++) if (f[i] == "cpu") print f[i + 1] }')
    rps_sum[$n]=$(awk -v s="${rps_sum[$n]:-0}" -v x="${round_rps[$n-r$r]}" 'BEGIN { print s + x }')
    cpu_sum[$n]=$(awk -v s="${cpu_sum[$n]:-0}" -v x="${round_cpu[$n-r$r]}" 'BEGIN { print s + x }')
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# median_ratio VALUES MODE VARIANT BASELINE: the median over the rounds of VARIANT's value (VALUES: round_rps or
# round_cpu) to the same round's telemetry-off host (BASELINE off) or to the mean of both (BASELINE both).
median_ratio() {
  local -n values=$1
  local r
  for r in $(seq 1 "$rounds"); do
    awk -v a="${values[$2-$3-r$r]}" -v b="${values[$2-off-r$r]}" -v b2="${values[$2-off2-r$r]:-0}" -v both="$([ "$4" = both ] && echo 1 || echo 0)" \
      'BEGIN { print both ? 2 * a / (b + b2) : a / b }'
  done | median
}
echo "== ratios to telemetry off (mean of $rounds rounds, $connections connections, $keys keys)"
for mode in $modes; do
  for variant in $variants; do
    awk -v m="$mode" -v v="$variant" -v r="${rps_sum[$mode-$variant]}" -v r0="${rps_sum[$mode-off]}" -v c="${cpu_sum[$mode-$variant]}" -v c0="${cpu_sum[$mode-off]}" \
      'BEGIN { printf "%-8s %-8s: throughput %.3fx, host CPU per request %.3fx (means)", m, v, r / r0, c / c0 }'
    echo "; median of rounds: throughput $(median_ratio round_rps "$mode" "$variant" off)x, CPU $(median_ratio round_cpu "$mode" "$variant" off)x"
  done
  # With the control there are two telemetry-off hosts per round: their mean is the steadier baseline (one host's
  # slow round, which the other does not share, moves it half as much).
  if [[ " $variants " == *" off2 "* ]]; then
    for variant in $variants; do
      [ "$variant" = off2 ] && continue
      printf "%-8s %-8s: to both telemetry-off hosts, median of rounds: throughput %sx, CPU %sx\n" "$mode" "$variant" \
        "$(median_ratio round_rps "$mode" "$variant" both)" "$(median_ratio round_cpu "$mode" "$variant" both)"
    done
  fi
done
kill "$sink"; wait "$sink" 2>/dev/null || true
echo "sink: $(cat "$out/sink.log")"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
