#!/usr/bin/env bash
# Runs the local host against this checkout's Azurite: installs Azurite from the pinned package.json if missing (npm ci),
# starts it on loopback with its data in .azurite/ (created here; FUNCMAP_AZURITE_DATA names another directory), waits
# until its ports accept connections, then runs FuncMap.Local in Release. Extra arguments go to the host.
#
# Ports: 10000-10002 (blob, queue, table), or FUNCMAP_AZURITE_PORTS="BLOB QUEUE TABLE"; other ports are passed to the
# host as FuncMap__Storage__ConnectionString. What already listens there decides:
#   - nothing: this script starts Azurite, and stops it after the host;
#   - this checkout's Azurite (answers as Azurite, runs with --location <this checkout>/.azurite, or FUNCMAP_AZURITE_DATA):
#     reused, and left running;
#   - anything else (another service, another checkout's Azurite, only some of the ports): refused with one line, exit 1,
#     so that the host never takes over another installation's lease and counters.
# Ctrl+C (or SIGTERM to this script) stops the host first (it drains, writes its final snapshot and releases its lease)
# and only then Azurite, when this script started it: Azurite runs in its own session, so the terminal's Ctrl+C never
# reaches it directly. The script exits with the host's exit code.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

read -r blob_port queue_port table_port <<<"${FUNCMAP_AZURITE_PORTS:-10000 10001 10002}"
ports="$blob_port $queue_port $table_port"
data="${FUNCMAP_AZURITE_DATA:-$root/.azurite}"
shown="${FUNCMAP_AZURITE_DATA:-.azurite/}" # as messages name it

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The Server header of an HTTP GET on 127.0.0.1:$1 (Azurite answers every request with "Server: Azurite-Blob/3.x", …).
server_header() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
    printf "GET /devstoreaccount1?comp=list HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n" "$1" >&3
    while IFS= read -r line <&3; do
      line=${line%$'"'"'\r'"'"'}
      [ -z "$line" ] && break
      case "${line,,}" in server:*) echo "${line#*: }"; break ;; esac
    done' _ "$1" 2>/dev/null || true
}

# The data location of the Azurite process that serves blob port $1, resolved; empty when none is found.
azurite_location() {
  local pid args location blob i
  for pid in /proc/[0-9]*; do
    [ -r "$pid/cmdline" ] || continue
    mapfile -d '' -t args <"$pid/cmdline" 2>/dev/null || continue
    [[ " ${args[*]} " == *azurite* ]] || continue
    location="" blob=10000
    for ((i = 0; i < ${#args[@]}; i++)); do
      case "${args[i]}" in
        --location|-l) location="${args[i+1]:-}" ;;
        --location=*) location="${args[i]#*=}" ;;
        --blobPort) blob="${args[i+1]:-}" ;;
        --blobPort=*) blob="${args[i]#*=}" ;;
      esac
    done
    [ "$blob" = "$1" ] || continue
    [ -n "$location" ] || location="."
    (cd "$pid/cwd" 2>/dev/null && cd "$location" 2>/dev/null && pwd -P) || echo "(unknown: $location)"
    return 0
  done
}

open=()
for port in $ports; do
  if listening "$port"; then open+=("$port"); fi
done

reuse=false
if [ "${#open[@]}" -gt 0 ]; then
  blob_server="$(server_header "$blob_port")" queue_server="$(server_header "$queue_port")" table_server="$(server_header "$table_port")"
  if [ "${#open[@]}" -eq 3 ] && [[ "$blob_server" == Azurite-Blob* && "$queue_server" == Azurite-Queue* && "$table_server" == Azurite-Table* ]]; then
    location="$(azurite_location "$blob_port")"
    if [ "$location" = "$(mkdir -p "$data" && cd "$data" && pwd -P)" ]; then
      reuse=true
    else
      echo "Ports $ports are served by another Azurite (data in ${location:-an unknown location}), not this checkout's ($shown): stop it, or run this checkout's on other ports with FUNCMAP_AZURITE_PORTS=\"10010 10011 10012\" eng/run.sh." >&2
      exit 1
    fi
  else
    echo "Port(s) ${open[*]} of $ports already in use by something that is not this checkout's Azurite (${blob_server:-no Azurite-Blob answer on $blob_port}): free them, or choose other ports with FUNCMAP_AZURITE_PORTS=\"10010 10011 10012\" eng/run.sh." >&2
    exit 1
  fi
fi

if [ ! -f node_modules/azurite/dist/src/azurite.js ]; then
  echo "==> Installing Azurite (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

azurite_pid=""
host_pid=""
stop_host() { kill -TERM "$host_pid" 2>/dev/null || true; }
cleanup() {
  # Whatever ends this script, the host stops before Azurite (its final snapshot and lease release go there): the INT
  # trap below cannot be set when the script started with SIGINT ignored (a background job of another script, nohup),
  # and bash then exits on SIGINT straight to this EXIT trap with the host still running.
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    echo "==> Stopping the local host (pid $host_pid)"
    stop_host
    while kill -0 "$host_pid" 2>/dev/null; do wait "$host_pid" 2>/dev/null || sleep 0.2; done
  fi
  if [ -n "$azurite_pid" ] && kill -0 "$azurite_pid" 2>/dev/null; then
    echo "==> Stopping Azurite (pid $azurite_pid); its data stays in $shown"
    kill -TERM "$azurite_pid" 2>/dev/null || true
    wait "$azurite_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

mkdir -p "$data"
if $reuse; then
  echo "==> Reusing this checkout's Azurite on 127.0.0.1 ports $ports (data in $shown); it was not started here, so it keeps running after the host stops"
else
  echo "==> Starting Azurite on 127.0.0.1 ports $ports (data in $shown, log in ${shown%/}/azurite.log); it stops when the host stops"
  setsid node node_modules/azurite/dist/src/azurite.js --silent --disableTelemetry --skipApiVersionCheck --location "$data" \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --blobPort "$blob_port" --queuePort "$queue_port" --tablePort "$table_port" >"$data/azurite.log" 2>&1 &
  azurite_pid=$!
  for _ in $(seq 1 300); do
    if listening "$blob_port" && listening "$queue_port" && listening "$table_port"; then break; fi
    if ! kill -0 "$azurite_pid" 2>/dev/null; then
      echo "Azurite exited before listening:" >&2
      cat "$data/azurite.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if ! { listening "$blob_port" && listening "$queue_port" && listening "$table_port"; }; then
    echo "Azurite did not listen on ports $ports within 30 s (log: ${shown%/}/azurite.log)" >&2
    exit 1
  fi
fi

if [ "$ports" != "10000 10001 10002" ]; then
  # Azurite's well-known development account (public, not a secret) on this checkout's ports.
  key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
  export FuncMap__Storage__ConnectionString="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob_port/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue_port/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table_port/devstoreaccount1;"
fi

# shellcheck source=eng/progress.sh
. "$root/eng/progress.sh"
run_step "dotnet restore functions/FuncMap.Local (the first time downloads the NuGet packages: a minute or more)" \
  dotnet restore functions/FuncMap.Local --nologo -v quiet
run_step "dotnet build functions/FuncMap.Local -c Release" \
  dotnet build functions/FuncMap.Local -c Release --no-restore --nologo -v quiet
echo "==> Starting the local host (Ctrl+C stops it, then Azurite if this script started it)"
# Run from the project directory, as `dotnet run` would: it is the content root (appsettings.json, .data/).
# In the background so that this script can forward a stop: a background job of a script ignores SIGINT, so
# the stop is sent as SIGTERM, which the host handles like Ctrl+C (graceful shutdown).
(cd functions/FuncMap.Local && exec dotnet bin/Release/net10.0/FuncMap.Local.dll "$@") &
host_pid=$!
trap stop_host INT TERM
code=0
while kill -0 "$host_pid" 2>/dev/null; do
  # A trap interrupts the wait; waiting again returns the host's own exit code once it has stopped.
  if wait "$host_pid"; then code=0; else code=$?; fi
done
trap - INT TERM
exit "$code"
