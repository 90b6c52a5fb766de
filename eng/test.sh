#!/usr/bin/env bash
# Restores, builds and runs every test that can run on this machine, then prints one summary line
# "N passed, N failed, N skipped". The README's test command; .ci/run calls it unchanged.
#
# Installs what the tests need (Azurite from the pinned package.json). Builds and lints infra/ with the
# Bicep CLI (eng/bicep.sh). Builds and tests every project of FuncMap.sln, the Azure Functions app and its
# tests included; nothing is skipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

configuration="${CONFIGURATION:-Release}"
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

# Azurite for the storage integration tests (pinned in package.json, installed into node_modules).
if [ ! -x node_modules/.bin/azurite ]; then
  echo "==> Installing Azurite (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The infrastructure: bicep build and lint of infra/main.bicep (the CLI restored from its NuGet package);
# any diagnostic fails the run. Skipped, with a line saying so, off linux-x64.
eng/bicep.sh

# The whole solution, the Functions app and its tests included: a restore or build failure fails the run.
target=FuncMap.sln

# shellcheck source=eng/progress.sh
. "$root/eng/progress.sh"
run_step "dotnet restore $target (the first time downloads the NuGet packages: a minute or more)" \
  dotnet restore "$target" -nologo -v quiet
run_step "dotnet build $target ($configuration)" \
  dotnet build "$target" -c "$configuration" --no-restore -nologo -v quiet -clp:ErrorsOnly

# Benchmarks are not timed here: a smoke runs every engine workload once on a small key set and checks totals.
echo "==> Benchmark smoke (bench/FuncMap.Benchmarks --smoke)"
dotnet run --project bench/FuncMap.Benchmarks -c "$configuration" --no-build -- --smoke

echo "==> dotnet test $target"
set +e
dotnet test "$target" -c "$configuration" --no-build -nologo \
  --logger "console;verbosity=minimal" --logger "trx" --results-directory "$results" \
  2>&1 | tee "$results/test-output.log"
status=${PIPESTATUS[0]}
set -e

# Skipped tests, counted per reason (the console logger names them without their reason): from the TRX files.
awk '
  /<UnitTestResult / { skipped = ($0 ~ /outcome="NotExecuted"/) }
  skipped && /<Message>/ { m = $0; sub(/.*<Message>/, "", m); sub(/<\/Message>.*/, "", m); count[m]++ }
  END { for (m in count) printf "==> %d skipped: %s\n", count[m], m }' "$results"/*.trx 2>/dev/null || true

# One summary line over every test project (VSTest prints one line per assembly).
awk '
  /(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { f += $(i+1) + 0 }
      if ($i == "Passed:")  { p += $(i+1) + 0 }
      if ($i == "Skipped:") { s += $(i+1) + 0 }
    }
    n++
  }
  END {
    if (n == 0) { print "0 passed, 1 failed (no test assembly reported a result)"; exit 1 }
    printf "%d passed, %d failed, %d skipped\n", p, f, s
    exit (f > 0)
  }' "$results/test-output.log" || status=1
exit "$status"
