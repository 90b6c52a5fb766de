#!/usr/bin/env bash
# Compiles and lints the infrastructure: `bicep build infra/main.bicep` (the ARM template goes to a temporary
# directory and is deleted) and `bicep lint infra/main.bicep`, with the rules of infra/bicepconfig.json. Any
# diagnostic, error, warning or info, fails the run. eng/test.sh calls it; run it by hand the same way.
#
# The Bicep CLI comes from its NuGet package (Azure.Bicep.CommandLine.linux-x64, the version is BicepCliVersion
# in Directory.Packages.props), restored through eng/bicep/bicep.proj from the project's feed. That package is
# the linux-x64 build, so on any other machine this step is skipped with a line saying so.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

platform="$(uname -s)-$(uname -m)"
if [ "$platform" != "Linux-x86_64" ]; then
  echo "==> Bicep: SKIPPED, the pinned CLI package is linux-x64 and this machine is $platform (infra/ not built nor linted)"
  exit 0
fi

# shellcheck source=eng/progress.sh
. "$(dirname "${BASH_SOURCE[0]}")/progress.sh"
run_step "Bicep CLI: dotnet restore eng/bicep/bicep.proj (the first time downloads its package)" \
  dotnet restore eng/bicep/bicep.proj -nologo -v quiet
bicep="$(dotnet msbuild eng/bicep/bicep.proj -nologo -getProperty:BicepPath)"
if [ ! -f "$bicep" ]; then
  echo "error: the Bicep CLI is not at '$bicep' after the restore" >&2
  exit 1
fi
# NuGet extracts the package without an execute bit for everyone.
[ -x "$bicep" ] || chmod +x "$bicep"
"$bicep" --version

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Runs one bicep command; fails on a non-zero exit or on any output (bicep prints nothing else on success).
run_bicep() {
  local log="$out/$1.log" status=0
  echo "==> bicep $*"
  "$bicep" "$@" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || [ -s "$log" ]; then
    cat "$log" >&2
    echo "error: bicep $1 reported diagnostics (exit code $status); see above" >&2
    exit 1
  fi
}

run_bicep build infra/main.bicep --outdir "$out/arm"
run_bicep lint infra/main.bicep
echo "==> Bicep: infra/main.bicep builds and lints clean"
