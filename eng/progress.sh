# Sourced by the eng/ scripts: run_step LABEL COMMAND... prints "==> LABEL", runs COMMAND and, while it runs, one line
# every 15 s saying that it still runs and for how long, so that a long first restore (NuGet downloads every package
# into ~/.nuget/packages, a minute or more, silently) never looks frozen. Returns COMMAND's exit code.
run_step() {
  local label="$1" started=$SECONDS pid tick
  shift
  echo "==> $label"
  "$@" &
  pid=$!
  # A background job of a script ignores SIGINT: Ctrl+C stops the script, so the step is stopped with it.
  trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT TERM
  while kill -0 "$pid" 2>/dev/null; do
    for tick in $(seq 1 15); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "    ... still running: $label ($((SECONDS - started)) s)"
    fi
  done
  trap - INT TERM
  wait "$pid"
}
