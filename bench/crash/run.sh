#!/usr/bin/env bash
# Crash harness: the real local host (Journal mode) as a child process under concurrent HTTP writes,
# killed with SIGKILL at seeded random moments and restarted; checks after every restart that every
# acknowledged write is present exactly once and nothing is applied that was never sent.
#   bash bench/crash/run.sh [--kills N] [--seconds S] [--seed N] [--writers N] [--keys N]
# Two hosts (own data directories, one Azurite) taking turns as the owner, the old one stopped, crashed or
# paused at every switch; the same checks after every switch, plus: no version seen with two values, and
# nothing acknowledged by an owner that woke up behind a newer one:
#   bash bench/crash/run.sh --switches N [--seed N] [--writers N] [--keys N]
# Disk faults (root on Linux): the data directory on a small tmpfs that is filled under load, then freed (the journal
# recovers by itself) or the host killed; refused writes must never be read or survive, acknowledged ones never lost:
#   sudo bash bench/crash/run.sh --disk-faults N [--seed N] [--writers N] [--keys N]
# Writes the result into bench/README.md between <!-- crash:begin --> and <!-- crash:end -->
# (two hosts: crash-two-hosts; disk faults: crash-disk-faults).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../readme-section.sh
. "$root/bench/readme-section.sh"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

out="$root/artifacts/crash"
mkdir -p "$out"
echo "==> Building FuncMap.Local and the crash harness (Release)"
dotnet build bench/crash/FuncMap.CrashHarness/FuncMap.CrashHarness.csproj -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null

set +e
dotnet bench/crash/FuncMap.CrashHarness/bin/Release/net10.0/FuncMap.CrashHarness.dll \
  --host functions/FuncMap.Local/bin/Release/net10.0/FuncMap.Local.dll --markdown "$out/result.md" "$@"
status=$?
set -e

if [ -f "$out/result.md" ]; then
  if [[ " $* " == *" --disk-faults "* ]]; then
    write_readme_section crash-disk-faults "Crash, disk faults (the data directory's disk filled under load, freed or kill -9)" "$(cat "$out/result.md")"
    echo "==> Wrote the crash-disk-faults section of bench/README.md"
  elif [[ " $* " == *" --switches "* ]]; then
    write_readme_section crash-two-hosts "Crash, two hosts (stop / kill -9 / SIGSTOP at every switch of owner)" "$(cat "$out/result.md")"
    echo "==> Wrote the crash-two-hosts section of bench/README.md"
  else
    write_readme_section crash "Crash (kill -9)" "$(cat "$out/result.md")"
    echo "==> Wrote the crash section of bench/README.md"
  fi
fi
exit "$status"
