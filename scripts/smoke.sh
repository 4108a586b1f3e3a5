#!/usr/bin/env bash
# Smoke test of the compiled binary, copied alone into an empty directory: version, serve, push, read, SIGTERM.
set -euo pipefail
BIN="$(realpath "$1")"
WORK="$(mktemp -d)"
trap 'kill -9 "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp "$BIN" "$WORK/stroem-logs"
cd "$WORK"

./stroem-logs --version | grep -q '^stroem-logs ' || { echo "smoke: --version printed nothing useful" >&2; exit 1; }

STROEM__LOG_STORAGE__LOCAL_DIR="$WORK/logs" ./stroem-logs serve --listen 127.0.0.1:0 >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$WORK/out" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { echo "smoke: server exited early:" >&2; cat "$WORK/err" >&2; exit 1; }
  sleep 0.1
done
URL="$(sed -n 's/^listening on //p' "$WORK/out")"
[ -n "$URL" ] || { echo "smoke: no 'listening on' line" >&2; exit 1; }

curl -fsS "$URL/healthz" >/dev/null
curl -fsS -X POST "$URL/worker/jobs/smoke-1/logs" -H 'content-type: application/json' \
  -d '{"step_name":"build","lines":[{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","line":"Hello World"}]}' >/dev/null
got="$(curl -fsS "$URL/api/jobs/smoke-1/steps/build/logs?format=ndjson")"
want='{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"build","line":"Hello World"}'
[ "$got" = "$want" ] || { echo "smoke: read back '$got', want '$want'" >&2; exit 1; }
[ "$(./stroem-logs cat smoke-1 --raw --server "$URL")" = "$want" ] || { echo "smoke: cat differs" >&2; exit 1; }

# The worker side: run captures a command's output and ships it, with its exit code.
code=0; ./stroem-logs run --job smoke-2 --step hello --server "$URL" --spool "$WORK/spool" --quiet -- \
  sh -c 'echo out; echo err >&2; exit 3' || code=$?
[ "$code" -eq 3 ] || { echo "smoke: run exited $code, want the command's 3" >&2; exit 1; }
lines="$(curl -fsS "$URL/api/jobs/smoke-2/steps/hello/logs?format=ndjson" | wc -l)"
[ "$lines" -eq 2 ] || { echo "smoke: run shipped $lines lines, want 2" >&2; exit 1; }

# The log viewer: the page and its script come from inside the binary; its search answers.
page="$(curl -fsS "$URL/jobs/smoke-1")"
script="$(printf '%s' "$page" | grep -o 'src="/chunk-[a-z0-9]*\.js"' | head -n 1 | sed 's/^src="//; s/"$//')"
# Saved first: `grep -q` stops reading at its match, and curl writing on into the closed pipe fails (23).
{ [ -n "$script" ] && curl -fsS "$URL$script" -o "$WORK/viewer.js" && grep -q 'stroem-logs' "$WORK/viewer.js"; } ||
  { echo "smoke: the log viewer page or its script is missing" >&2; exit 1; }
[ "$(curl -fsS "$URL/api/jobs/smoke-1/search?q=World")" = '{"source":"local","matches":[0],"from":0,"next":1,"done":true}' ] ||
  { echo "smoke: search did not find the line" >&2; exit 1; }

kill -TERM "$PID"
code=0; wait "$PID" || code=$?
[ "$code" -eq 0 ] || { echo "smoke: exit code $code after SIGTERM" >&2; cat "$WORK/err" >&2; exit 1; }
echo "smoke: ok ($URL)" >&2
