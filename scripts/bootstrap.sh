# Sourced by scripts/start and scripts/test: makes the pinned Bun available and installs the locked deps.
# Needs only Node.js/npm: Bun comes from the npm registry into .bun-tool/ when it is not on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUN_VERSION="$(node -p "require('./package.json').packageManager.split('@')[1]")"

have_bun() { command -v bun >/dev/null 2>&1 && [ "$(bun --version 2>/dev/null)" = "$BUN_VERSION" ]; }

if ! have_bun; then
  LOCAL="$ROOT/.bun-tool"
  if [ ! -x "$LOCAL/node_modules/.bin/bun" ] || [ "$("$LOCAL/node_modules/.bin/bun" --version 2>/dev/null)" != "$BUN_VERSION" ]; then
    echo "bootstrap: installing bun@$BUN_VERSION from the npm registry into .bun-tool/" >&2
    npm install --prefix "$LOCAL" --no-save --no-audit --no-fund --loglevel=error "bun@$BUN_VERSION" >&2
    # npm may skip bun's postinstall (install scripts disabled): then the bin is a stub until install.js runs.
    if [ "$("$LOCAL/node_modules/.bin/bun" --version 2>/dev/null)" != "$BUN_VERSION" ]; then
      (cd "$LOCAL/node_modules/bun" && node install.js) >&2
    fi
  fi
  export PATH="$LOCAL/node_modules/.bin:$PATH"
  if ! have_bun; then
    echo "bootstrap: bun $BUN_VERSION is not usable after install (got: $(bun --version 2>&1 || true))" >&2
    exit 1
  fi
fi

bun install --frozen-lockfile >&2
