#!/usr/bin/env bash
# HTTP load benchmark of the local host, every figure beside its baseline, in ONE run on one machine state:
#   - POST /bench/noop                    the bare pipeline: an endpoint in the same host that does no work
#   - POST add → 202, Snapshot mode       accept into the owner's mailbox and answer (nothing on disk)
#   - POST add → 202, Journal mode        the default: answered once the operation's group is written and fsynced
#   - POST add?wait=true, Journal mode    also waits for the owner to apply it
#   - Journal add vs Snapshot add at each of CONNECTION_LIST connections (group commit needs concurrency)
#   - Journal add with every connection on ONE hot key vs spread over KEYS keys
#   - POST /api/counters/batch, Journal mode: increments/s with batches of 100 and of 1,000 items, each batchId new
#     (bench/load/batch.lua), at each of BATCH_CONNECTION_LIST connections; the best count is the batch's peak
#   - Redis INCR (redis-benchmark, the same client count, KEYS keys): AOF off, appendfsync everysec, appendfsync
#     always (AOF on the repository's disk, like the journal), and pipelined (-P 16) with always
# Peaks with CONNECTIONS connections (clients). Then p50/p99 at about half of each peak: wrk and redis-benchmark
# are closed-loop (neither can cap a rate), so fewer connections give lower throughput; the script tries
# 1, 2, 4, ... connections (short probes) and measures again at the count whose throughput is nearest 50% of
# that row's peak. The Journal host reports records per group commit (POST /bench/journal-groups).
# Two hosts from one Release build (storage off), one per mode, driven one at a time; both data directories
# under artifacts/ (the repository's disk, not tmpfs). About 8 min with the defaults (10 on a loaded machine). Prints the tables and
# writes them into bench/README.md between <!-- load:begin --> and <!-- load:end -->.
#   bash bench/load/run.sh
#   Overrides: DURATION=10s (whole seconds) CONNECTIONS=64 CONNECTION_LIST="16 64 256" BATCH_CONNECTION_LIST="1 8 64"
#              THREADS=2 KEYS=1024 PROBE=2s WARMUP=3s WRITE_README=0 (print only, e.g. for a quick check)
# --durability: Journal vs Snapshot add alone at several connection counts, with group sizes (bench/load/durability.sh;
# its own section of bench/README.md). The one run above measures the same rows beside the other baselines.
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
connection_list="${CONNECTION_LIST:-16 64 256}"
batch_list="${BATCH_CONNECTION_LIST:-1 8 $connections}"
keys="${KEYS:-1024}"
probe="${PROBE:-2s}"
warmup="${WARMUP:-3s}"
write_readme="${WRITE_README:-1}"
secs="${duration%s}"
out="$root/artifacts/bench-load"
rm -rf "$out/runs" "$out/data" "$out/redis"
mkdir -p "$out/runs" "$out/data" "$out/redis"
started=$(date +%s)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

if ! command -v wrk >/dev/null || ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "==> Installing wrk and redis-server (apt-get)"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq wrk redis-server redis-tools >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_ready() { # URL LOG
  for _ in $(seq 1 150); do
    curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2 # waiting for another process to start listening, not test synchronization
  done
  echo "$1 did not become ready; see $2"; exit 1
}

echo "==> Building FuncMap.Local (Release)"
dotnet publish functions/FuncMap.Local/FuncMap.Local.csproj -c Release -o "$out/app" -nologo -v quiet -clp:ErrorsOnly >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start_host MODE -> sets base_MODE. Storage off; the data directory (the journal in Journal mode) under $out/data.
start_host() {
  local mode="$1" port; port="$(free_port)"
  FuncMap__Durability__Mode="$mode" FuncMap__DataDirectory="$out/data/$mode" FuncMap__Storage__Enabled=false \
  FuncMap__Bench__NoopEndpoint=true URLS="http://127.0.0.1:$port" Logging__LogLevel__Default=Warning \
    dotnet "$out/app/FuncMap.Local.dll" >"$out/host-$mode.log" 2>&1 &
  pids+=($!)
  printf -v "base_$mode" '%s' "http://127.0.0.1:$port"
  wait_ready "http://127.0.0.1:$port" "$out/host-$mode.log"
}
start_host Snapshot
start_host Journal
echo "==> Snapshot host $base_Snapshot, Journal host $base_Journal (journal in $out/data/Journal)"

noop="/bench/noop"
add="/api/counters/%s/add"
addwait="/api/counters/%s/add?wait=true"
odd="$out/odd.txt"  # anything a reader must know: non-2xx answers, socket errors, failed Redis runs
: >"$odd"

# wrk1 NAME MODE KIND ARG CONNECTIONS DURATION -> $out/runs/NAME.txt (and NAME.groups.json on the Journal host).
# KIND path: ARG is a path template for post.lua ("%s" = one of KEYS keys, in turn);
# KIND hot: ARG is the template, all connections on the single key bench:0; KIND batch: ARG is items per batch.
wrk1() {
  local name="$1" mode="$2" kind="$3" arg="$4" c="$5" d="$6" t base script
  t=$(( c < threads ? c : threads ))
  base="base_$mode"; base="${!base}"
  [ "$mode" = Journal ] && curl -fsS -X POST "$base/bench/journal-groups" >/dev/null
  case "$kind" in
    path) script=post.lua; export FUNCMAP_BENCH_PATH="$arg" FUNCMAP_BENCH_KEYS="$keys" ;;
    hot) script=post.lua; export FUNCMAP_BENCH_PATH="$arg" FUNCMAP_BENCH_KEYS=1 ;;
    batch) script=batch.lua; export FUNCMAP_BATCH_ITEMS="$arg" FUNCMAP_BENCH_KEYS="$keys" FUNCMAP_BATCH_RUN="$name-$RANDOM$RANDOM" ;;
  esac
  # --timeout 10s: a batch of 1,000 items behind 63 others can take over wrk's default 2 s, and a timed-out request
  # would be left out of the latency figures.
  wrk -t"$t" -c"$c" -d"$d" --timeout 10s --latency -s "bench/load/$script" "$base" >"$out/runs/$name.txt"
  [ "$mode" = Journal ] && curl -fsS -X POST "$base/bench/journal-groups" >"$out/runs/$name.groups.json"
  if grep -qE "Non-2xx|Socket errors" "$out/runs/$name.txt"; then
    local line; line="$name ($c connections): $(grep -hE "Non-2xx|Socket errors" "$out/runs/$name.txt" | tr -s ' ' | paste -sd';')"
    echo "!! $line" >&2; echo "$line" >>"$odd"
  fi
  return 0
}
rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out/runs/$1.txt"; }
# pct NAME 50|99 -> latency in ms (wrk prints us, ms, s or m)
pct() {
  awk -v p="$2%" '$1 == p {
      v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
      if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
      printf "%.2f", v }' "$out/runs/$1.txt"
}
# mean records per group commit during NAME (Journal host only), "–" otherwise
grp() {
  local f="$out/runs/$1.groups.json"
  if [ -f "$f" ]; then python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("{:.1f}".format(d["mean"]) if d["groups"] else "–")' "$f"; else echo "–"; fi
}
fsyncs() { # groups per second during NAME
  local f="$out/runs/$1.groups.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("{:,.0f}".format(d["groups"]/float(sys.argv[2])))' "$f" "$secs"
}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y == 0) print "–"; else printf "%.2f", x / y }'; }
fmt() { sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta' <<<"$1"; } # 12345 -> 12,345

# nearest_half TARGET PEAK-CONNECTIONS PROBE-FN: probe-fn C prints the throughput at C connections. Tries 1, 2, 4, ...
# below the peak's count until one reaches TARGET, then the count halfway between the last two; prints the count
# whose throughput is nearest TARGET (0 when the peak is at one connection: nothing lower to try).
nearest_half() {
  local target="$1" peak_c="$2" fn="$3" c prev=0 prev_r=0 r best_c=0 best_diff=-1 diff m
  consider() { diff=$(( $2 > target ? $2 - target : target - $2 )); if [ "$best_diff" -lt 0 ] || [ "$diff" -lt "$best_diff" ]; then best_c=$1; best_diff=$diff; fi; }
  for c in 1 2 4 8 16 32 64 128 256 512; do
    [ "$c" -ge "$peak_c" ] && break
    r=$("$fn" "$c"); consider "$c" "$r"
    if [ "$r" -ge "$target" ]; then
      m=$(( (prev + c) / 2 ))
      if [ "$prev" -gt 0 ] && [ "$m" -gt "$prev" ] && [ "$m" -lt "$c" ]; then r=$("$fn" "$m"); consider "$m" "$r"; fi
      break
    fi
    prev=$c; prev_r=$r
  done
  echo "$best_c"
}

# half NAME MODE KIND ARG [PEAK-CONNECTIONS] -> measures NAME-half for DURATION at the connection count nearest half of
# NAME's throughput (probes of PROBE); sets half_c_NAME (0: the peak is at one connection, no half-load run).
half_probe() { wrk1 "$h_name-probe-$1" "$h_mode" "$h_kind" "$h_arg" "$1" "$probe"; rps "$h_name-probe-$1"; }
half() {
  h_name="$1" h_mode="$2" h_kind="$3" h_arg="$4"
  local peak_c="${5:-$connections}" best_c
  best_c=$(nearest_half $(( $(rps "$h_name") / 2 )) "$peak_c" half_probe)
  printf -v "half_c_${h_name//-/_}" '%s' "$best_c"
  if [ "$best_c" = 0 ]; then echo "    $h_name: peak at one connection, no lower count to try"; return 0; fi
  wrk1 "$h_name-half" "$h_mode" "$h_kind" "$h_arg" "$best_c" "$duration"
  echo "    $h_name: half of $(rps "$h_name")/s at $best_c connection(s): $(rps "$h_name-half")/s, p50 $(pct "$h_name-half" 50) ms, p99 $(pct "$h_name-half" 99) ms"
}

echo "==> Warm-up ($warmup each)"
wrk1 warmup-noop Snapshot path "$noop" "$connections" "$warmup"
wrk1 warmup-snapshot Snapshot path "$add" "$connections" "$warmup"
wrk1 warmup-journal Journal path "$add" "$connections" "$warmup"
wrk1 warmup-wait Journal path "$addwait" "$connections" "$warmup"
wrk1 warmup-batch Journal batch 100 "$connections" "$warmup"

c="$connections"
echo "==> Peaks: $c connections, $threads wrk threads, $duration each"
wrk1 noop Snapshot path "$noop" "$c" "$duration"
wrk1 "snapshot-$c" Snapshot path "$add" "$c" "$duration"
wrk1 "journal-$c" Journal path "$add" "$c" "$duration"
wrk1 hot Journal hot "$add" "$c" "$duration"
wrk1 wait Journal path "$addwait" "$c" "$duration"
for n in noop "snapshot-$c" "journal-$c" hot wait; do printf '    %-12s %s/s\n' "$n" "$(rps "$n")"; done

# A batch client needs few connections: the batch rows take the best of BATCH_CONNECTION_LIST (64 included).
echo "==> Batch endpoint (Journal mode) at $batch_list connections"
for items in 100 1000; do
  best=0; best_c=0
  for bc in $batch_list; do
    wrk1 "batch$items-c$bc" Journal batch "$items" "$bc" "$duration"
    r=$(rps "batch$items-c$bc"); echo "    $items items, $bc connections: $r batches/s, $(( r * items )) increments/s"
    if [ "$r" -gt "$best" ]; then best=$r; best_c=$bc; fi
  done
  cp "$out/runs/batch$items-c$best_c.txt" "$out/runs/batch$items.txt"
  cp "$out/runs/batch$items-c$best_c.groups.json" "$out/runs/batch$items.groups.json"
  printf -v "peak_c_batch$items" '%s' "$best_c"
done

echo "==> Journal vs Snapshot add at $connection_list connections"
for cc in $connection_list; do
  [ "$cc" = "$c" ] && continue
  wrk1 "snapshot-$cc" Snapshot path "$add" "$cc" "$duration"
  wrk1 "journal-$cc" Journal path "$add" "$cc" "$duration"
  echo "    $cc: Snapshot $(rps "snapshot-$cc")/s, Journal $(rps "journal-$cc")/s"
done

echo "==> Half load (probes of $probe, then $duration)"
half noop Snapshot path "$noop"
half "snapshot-$c" Snapshot path "$add"
half "journal-$c" Journal path "$add"
half hot Journal hot "$add"
half wait Journal path "$addwait"
half batch100 Journal batch 100 "$peak_c_batch100"
half batch1000 Journal batch 1000 "$peak_c_batch1000"

# ---- Redis ----
# redis_run NAME CLIENTS PIPELINE -> $out/redis/NAME.csv; redis-benchmark counts requests, not seconds, so a short
# estimate first sizes the run to about DURATION.
redis_port=""
# The estimate is 2,000 requests per client (at most 20,000), times the pipeline depth.
redis_run() {
  local name="$1" c="$2" p="$3" d="${4:-$secs}" est n
  n=$(( 2000 * c )); [ "$n" -gt 20000 ] && n=20000
  redis-benchmark -p "$redis_port" -t incr -r "$keys" -c "$c" -P "$p" -n $(( n * p )) --csv >"$out/redis/$name.est.csv"
  est=$(awk -F'"' '/INCR/ { printf "%.0f", $4 }' "$out/redis/$name.est.csv")
  n=$(awk -v e="$est" -v d="$d" 'BEGIN { n = e * d; if (n < 2000) n = 2000; printf "%.0f", n }')
  redis-benchmark -p "$redis_port" -t incr -r "$keys" -c "$c" -P "$p" -n "$n" --csv >"$out/redis/$name.csv"
  if ! grep -q '"INCR"' "$out/redis/$name.csv"; then echo "redis $name: no INCR result ($(head -c 200 "$out/redis/$name.csv"))" | tee -a "$odd" >&2; fi
}
rrps() { awk -F'"' '/INCR/ { printf "%.0f", $4 }' "$out/redis/$1.csv"; }
rp50() { awk -F'"' '/INCR/ { printf "%.2f", $10 }' "$out/redis/$1.csv"; }
rp99() { awk -F'"' '/INCR/ { printf "%.2f", $14 }' "$out/redis/$1.csv"; }
rhalf_probe() { redis_run "$h_name-probe-$1" "$1" "$h_p" "${probe%s}"; rrps "$h_name-probe-$1"; }
rhalf() { # NAME PIPELINE
  h_name="$1" h_p="$2"
  local best_c
  best_c=$(nearest_half $(( $(rrps "$h_name") / 2 )) "$connections" rhalf_probe)
  printf -v "half_c_${h_name//-/_}" '%s' "$best_c"
  redis_run "$h_name-half" "$best_c" "$h_p"
  echo "    $h_name: $(rrps "$h_name")/s; half at $best_c client(s): $(rrps "$h_name-half")/s, p50 $(rp50 "$h_name-half") ms, p99 $(rp99 "$h_name-half") ms"
}
# redis_config NAME PIPELINE REDIS-ARGS...: a fresh redis-server (its own directory under $out/redis) per config
redis_config() {
  local name="$1" p="$2"; shift 2
  redis_port="$(free_port)"
  mkdir -p "$out/redis/$name-dir"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --dir "$out/redis/$name-dir" --daemonize no "$@" >"$out/redis/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$redis_port" config get appendonly appendfsync dir | paste -sd' ' >"$out/redis/$name.config"
  redis_run "$name" "$connections" "$p"
  rhalf "$name" "$p"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
echo "==> Redis INCR (redis-benchmark, $connections clients, $keys keys)"
redis_config redis-off 1 --appendonly no
redis_config redis-everysec 1 --appendonly yes --appendfsync everysec
redis_config redis-always 1 --appendonly yes --appendfsync always
redis_config redis-always-p16 16 --appendonly yes --appendfsync always

# ---- tables ----
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
elapsed=$(( $(date +%s) - started ))
hc() { local v="half_c_${1//-/_}"; echo "${!v}"; }
# row LABEL NAME PEAK-CONNECTIONS [INCREMENTS-PER-REQUEST]
row() {
  local label="$1" n="$2" pc="$3" items="${4:-1}" r half; r=$(rps "$n")
  if [ "$(hc "$n")" = 0 ]; then half="– (peak at 1) | –"
  else half="$(hc "$n") → $(fmt "$(rps "$n-half")") | **$(pct "$n-half" 50) / $(pct "$n-half" 99)**"; fi
  echo "| $label | $pc | $(fmt "$r") | $(fmt $(( r * items ))) | $(pct "$n" 50) / $(pct "$n" 99) | $half | $(grp "$n") / $(grp "$n-half") |"
}
rrow() {
  local label="$1" n="$2" r; r=$(rrps "$n")
  echo "| $label | $c | $(fmt "$r") | $(fmt "$r") | $(rp50 "$n") / $(rp99 "$n") | $(hc "$n") → $(fmt "$(rrps "$n-half")") | **$(rp50 "$n-half") / $(rp99 "$n-half")** | – |"
}
batch_rows=""
for bc in $batch_list; do
  r1=$(rps "batch100-c$bc"); r2=$(rps "batch1000-c$bc")
  batch_rows+="| $bc | $(fmt "$r1") | $(fmt $(( r1 * 100 ))) | $(pct "batch100-c$bc" 50) / $(pct "batch100-c$bc" 99) | $(grp "batch100-c$bc") | $(fmt "$r2") | $(fmt $(( r2 * 1000 ))) | $(pct "batch1000-c$bc" 50) / $(pct "batch1000-c$bc" 99) | $(grp "batch1000-c$bc") |"$'\n'
done
sweep_rows=""
for cc in $connection_list; do
  s=$(rps "snapshot-$cc"); j=$(rps "journal-$cc")
  sweep_rows+="| $cc | $(fmt "$s") | $(fmt "$j") | **$(ratio "$j" "$s")×** | $(pct "snapshot-$cc" 50) / $(pct "snapshot-$cc" 99) | $(pct "journal-$cc" 50) / $(pct "journal-$cc" 99) | $(fsyncs "journal-$cc") | $(grp "journal-$cc") |"$'\n'
done
met() { awk -v x="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = (dir == "ge") ? (x >= t) : (x <= t); print ok ? "✔" : "✘" }'; }
j64=$(rps "journal-$c"); s64=$(rps "snapshot-$c"); ral=$(rrps redis-always); rp16=$(rrps redis-always-p16)
b100=$(( $(rps batch100) * 100 )); b1000=$(( $(rps batch1000) * 1000 ))
jp99=$(pct "journal-$c-half" 99)
ratios=""
for cc in $connection_list; do
  r=$(ratio "$(rps "journal-$cc")" "$(rps "snapshot-$cc")")
  if [ "$cc" = "$c" ]; then ratios+="| Journal add ÷ Snapshot add, $cc connections | **${r}×** | ≥ 0.8× | $(met "$r" 0.8 ge) |"$'\n'
  else ratios+="| Journal add ÷ Snapshot add, $cc connections | ${r}× | (reported) | |"$'\n'; fi
done
r=$(ratio "$j64" "$ral"); ratios+="| Journal add ÷ Redis INCR \`appendfsync always\`, $c clients | **${r}×** | ≥ 0.8× | $(met "$r" 0.8 ge) |"$'\n'
r=$(ratio "$b100" "$rp16"); ratios+="| Journal batch (100 items) increments/s ÷ Redis pipelined (-P 16) \`always\` INCR/s | **${r}×** | ≥ 3× | $(met "$r" 3 ge) |"$'\n'
r=$(ratio "$b1000" "$rp16"); ratios+="| Journal batch (1,000 items) increments/s ÷ Redis pipelined (-P 16) \`always\` INCR/s | **${r}×** | ≥ 3× | $(met "$r" 3 ge) |"$'\n'
r=$(ratio $(( $(rps "batch100-c$c") * 100 )) "$rp16"); ratios+="| the same, 100 items, at $c connections (like Redis) | ${r}× | (reported) | |"$'\n'
r=$(ratio $(( $(rps "batch1000-c$c") * 1000 )) "$rp16"); ratios+="| the same, 1,000 items, at $c connections | ${r}× | (reported) | |"$'\n'
r=$(ratio "$(rps hot)" "$j64"); ratios+="| Journal add, one hot key ÷ $keys keys | **${r}×** | ≥ 0.95× | $(met "$r" 0.95 ge) |"$'\n'
ratios+="| Journal add p99 at ~half load ($(hc "journal-$c") connections) | **$jp99 ms** | ≤ 2 ms | $(met "$jp99" 2 le) |"$'\n'
r=$(ratio "$j64" "$(rps noop)"); ratios+="| Journal add ÷ bare endpoint | ${r}× | (reported) | |"$'\n'
r=$(ratio "$s64" "$(rps noop)"); ratios+="| Snapshot add ÷ bare endpoint | ${r}× | ≥ 0.85× (11-22) | $(met "$r" 0.85 ge) |"$'\n'
r=$(ratio "$(rps wait)" "$j64"); ratios+="| Journal add?wait ÷ Journal add | ${r}× | (reported) | |"$'\n'
r=$(ratio "$(rrps redis-always)" "$(rrps redis-off)"); ratios+="| Redis \`always\` ÷ Redis AOF off | ${r}× | (reported) | |"$'\n'

cpu="$(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
fs="$(df -T "$out/data" | awk 'NR==2 { print $2 }')"
cmd="bash bench/load/run.sh"
[ "$duration" != 10s ] && cmd="DURATION=$duration $cmd"
[ "$connections" != 64 ] && cmd="CONNECTIONS=$connections $cmd"
table=$(cat <<TABLE
Measured by \`$cmd\` on $(date -u +%Y-%m-%d) in one run of $(( elapsed / 60 )) min $(( elapsed % 60 )) s ($cpu, shared with
the load generator; load average $load_before before, $load_after after). wrk $threads threads, $duration per run, $keys keys;
two local hosts from one Release build, storage off: Snapshot mode (nothing on disk) and Journal mode (the default;
journal on $fs under \`artifacts/\`, FsyncMode Always, MaxGroupDelay 0). Redis $(redis-server --version | sed -E 's/.*v=([0-9.]+).*/\1/'): a fresh
\`redis-server\` per configuration, \`redis-benchmark -t incr -r $keys\`, AOF in \`artifacts/\` on the same disk.
Peak: $c connections / clients; the batch rows take the best of $batch_list connections (every count below). Half
load: wrk and redis-benchmark cannot cap a rate, so each row was measured again with the connection (client) count whose
throughput came nearest 50% of that row's peak (counts tried 1, 2, 4, … and once the one halfway between the last two).

| run | connections | requests/s | increments/s | p50 / p99 ms at peak | half load: connections → requests/s | **p50 / p99 ms at ~half load** | records per fsync, mean: peak / half |
|---|---:|---:|---:|---:|---:|---:|---:|
$(row "bare endpoint (\`POST /bench/noop\`)" noop "$c")
$(row "\`POST add\` → 202, Snapshot mode" "snapshot-$c" "$c")
$(row "\`POST add\` → 202, Journal mode" "journal-$c" "$c")
$(row "\`POST add\` → 202, Journal mode, one hot key" hot "$c")
$(row "\`POST add?wait=true\` → 200, Journal mode" wait "$c")
$(row "\`POST /api/counters/batch\`, 100 items, Journal mode" batch100 "$peak_c_batch100" 100)
$(row "\`POST /api/counters/batch\`, 1,000 items, Journal mode" batch1000 "$peak_c_batch1000" 1000)
$(rrow "Redis \`INCR\`, AOF off" redis-off)
$(rrow "Redis \`INCR\`, \`appendfsync everysec\`" redis-everysec)
$(rrow "Redis \`INCR\`, \`appendfsync always\`" redis-always)
$(rrow "Redis \`INCR\` pipelined \`-P 16\`, \`appendfsync always\`" redis-always-p16)

Journal vs Snapshot add by connection count (same run):

| connections | Snapshot add/s | Journal add/s | Journal ÷ Snapshot | Snapshot p50 / p99 ms | Journal p50 / p99 ms | fsyncs/s | records per fsync, mean |
|---:|---:|---:|---:|---:|---:|---:|---:|
${sweep_rows%$'\n'}

Batch endpoint (Journal mode, every batchId new, items on distinct keys) by connection count (same run):

| connections | 100 items: batches/s | increments/s | p50 / p99 ms | records per fsync, mean | 1,000 items: batches/s | increments/s | p50 / p99 ms | records per fsync, mean |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${batch_rows%$'\n'}

Ratios (issue 13's targets), all from this run:

| ratio | value | target | met |
|---|---:|---|---|
${ratios%$'\n'}
$( [ -s "$odd" ] && printf '\nNoted during the run:\n%s\n\n' "$(sed 's/^/- /' "$odd")" )
Raw wrk and redis-benchmark output: \`artifacts/bench-load/\`.
TABLE
)
echo
echo "$table"
echo
echo "==> $elapsed s in all"

if [ "$write_readme" = 1 ]; then
  write_readme_section load "HTTP load" "$table"
  echo "==> Wrote the HTTP load section of bench/README.md"
fi
