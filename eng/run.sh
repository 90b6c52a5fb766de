#!/usr/bin/env bash
# Runs the local host against Azurite: installs Azurite from the pinned package.json if missing (npm ci),
# starts it on loopback on the default ports (10000-10002) with its data in .azurite/ (reuses an Azurite
# that already listens there), waits until its ports accept connections, then runs FuncMap.Local in Release.
# Extra arguments go to the host. Ctrl+C (or SIGTERM to this script) stops the host first (it drains, writes its
# final snapshot and releases its lease) and only then Azurite, when this script started it: Azurite runs in its
# own session, so the terminal's Ctrl+C never reaches it directly. The script exits with the host's exit code.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [ ! -f node_modules/azurite/dist/src/azurite.js ]; then
  echo "==> Installing Azurite (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

azurite_pid=""
host_pid=""
cleanup() {
  if [ -n "$azurite_pid" ] && kill -0 "$azurite_pid" 2>/dev/null; then
    echo "==> Stopping Azurite (pid $azurite_pid)"
    kill -TERM "$azurite_pid" 2>/dev/null || true
    wait "$azurite_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if listening 10000 && listening 10001 && listening 10002; then
  echo "==> Ports 10000-10002 already accept connections: reusing the Azurite running there"
else
  for port in 10000 10001 10002; do
    if listening "$port"; then
      echo "Port $port is taken by something else (10000-10002 are not all open); stop it or free the ports." >&2
      exit 1
    fi
  done
  mkdir -p .azurite
  echo "==> Starting Azurite on 127.0.0.1:10000-10002 (data in .azurite/, log in .azurite/azurite.log)"
  setsid node node_modules/azurite/dist/src/azurite.js --silent --disableTelemetry --skipApiVersionCheck --location .azurite \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 >.azurite/azurite.log 2>&1 &
  azurite_pid=$!
  for _ in $(seq 1 300); do
    if listening 10000 && listening 10001 && listening 10002; then break; fi
    if ! kill -0 "$azurite_pid" 2>/dev/null; then
      echo "Azurite exited before listening:" >&2
      cat .azurite/azurite.log >&2
      exit 1
    fi
    sleep 0.1
  done
  if ! { listening 10000 && listening 10001 && listening 10002; }; then
    echo "Azurite did not listen on 10000-10002 within 30 s" >&2
    exit 1
  fi
fi

echo "==> dotnet build functions/FuncMap.Local -c Release"
dotnet build functions/FuncMap.Local -c Release --nologo -v quiet
echo "==> Starting the local host (Ctrl+C stops it, then Azurite)"
# Run from the project directory, as `dotnet run` would: it is the content root (appsettings.json, .data/).
# In the background so that this script can forward a stop: a background job of a script ignores SIGINT, so
# the stop is sent as SIGTERM, which the host handles like Ctrl+C (graceful shutdown).
(cd functions/FuncMap.Local && exec dotnet bin/Release/net10.0/FuncMap.Local.dll "$@") &
host_pid=$!
stop_host() { kill -TERM "$host_pid" 2>/dev/null || true; }
trap stop_host INT TERM
code=0
while kill -0 "$host_pid" 2>/dev/null; do
  # A trap interrupts the wait; waiting again returns the host's own exit code once it has stopped.
  if wait "$host_pid"; then code=0; else code=$?; fi
done
trap - INT TERM
exit "$code"
