#!/usr/bin/env bash
# Start-up cost of the CLI and of each trick it uses to start fast, under
# Node 20, 22 and 24 (bench/README.md, "Start-up"). Inside scripts/sandbox.sh
# (re-executes itself there): `status` and `apply --dry-run` read an empty
# state on the sandbox's tmpfs and a kernel with nothing of vpcctl's.
# Needs python3 (bench/startup-run.py times the runs) and a built tree (make build).
#
# Variants of the launcher, each a copy of bin/ and dist/bundle/:
#   v8cache    as shipped: bin/compile-cache.cjs loads the bundles with V8's
#              code cache made (and warmed) by the build, here by the Node
#              measured (V8 refuses a cache another version made)
#   plain      the bundles require()d, no code cache
#   nodecache  require()d after module.enableCompileCache() (Node >= 22.1;
#              on Node 20 it is `plain`)
# and the two bundling tricks, measured by what they save:
#   child_process  `require('node:child_process')`, which commander's
#              stand-in defers (scripts/bundle-cli.mjs)
#   zod picked / whole  loading the zod sub-bundle of the names the sources
#              use vs one of all of zod (both from their V8 code cache)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [[ ${VPCCTL_SANDBOX:-} != 1 ]]; then exec scripts/sandbox.sh "$0" "$@"; fi
runs=${STARTUP_RUNS:-40}
nodes=${STARTUP_NODES:-20 22 24}
out=${STARTUP_OUT:-bench/out/startup}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tree() { # name -> a copy of the package's launcher and bundles
  local t=$tmp/$1
  mkdir -p "$t/dist"
  cp -r bin package.json index.js ./*.node "$t/"
  cp -r dist/bundle "$t/dist/"
  ln -s "$root/node_modules" "$t/node_modules"
}
tree v8cache
for v in plain nodecache; do
  tree $v
  rm -f "$tmp/$v"/dist/bundle/*.cache
  printf "'use strict';\nexports.load = (file) => require(file);\nexports.save = () => {};\n" >"$tmp/$v/bin/compile-cache.cjs"
done
sed -i "s|^const { join } = require('node:path');|&\nrequire('node:module').enableCompileCache?.(join(__dirname, '..', '.compile-cache'));|" "$tmp/nodecache/bin/vpcctl.cjs"
grep -q enableCompileCache "$tmp/nodecache/bin/vpcctl.cjs"

# zod: all of it in a sub-bundle, with a warmed V8 cache like the shipped one.
node -e '
  require("esbuild").buildSync({ stdin: { contents: "export { z } from \"zod\";", resolveDir: process.argv[1], loader: "js" },
    outfile: process.argv[2], bundle: true, format: "cjs", platform: "node", target: "node20", logLevel: "warning" });
' "$root" "$tmp/zod-whole.cjs"
cp bin/compile-cache.cjs "$tmp/cc.cjs"
cp dist/bundle/zod.cjs "$tmp/zod-picked.cjs"
node bench/topology.mjs 5 >"$tmp/topo.json"

for major in $nodes; do
  if [[ $(node -p 'process.versions.node.split(".")[0]') == "$major" ]]; then bin=$(dirname "$(command -v node)"); else bin=$(scripts/node-bin.sh "$major"); fi
  node=$bin/node
  echo "== $("$node" --version)"
  # V8 refuses a code cache made by another Node version (the bundles then
  # compile as if it were not there): the caches of v8cache and of the zod
  # bundles are made by the Node measured, as `make` does with the Node on PATH.
  "$node" -e '
    const c = require(process.argv[1]);
    c.load(process.argv[2]).warmUp();
    c.save();
  ' "$tmp/v8cache/bin/compile-cache.cjs" "$tmp/v8cache/dist/bundle/cli.cjs"
  for z in picked whole; do
    "$node" -e 'const c = require(process.argv[1]); c.load(process.argv[2]); c.save();' "$tmp/cc.cjs" "$tmp/zod-$z.cjs"
  done
  node -e '
    const [node, tmp] = process.argv.slice(1);
    const cmds = [];
    for (const what of [["--version"], ["status"], ["apply", "-f", `${tmp}/topo.json`, "--dry-run"]]) {
      for (const v of ["v8cache", "plain", "nodecache"]) {
        cmds.push([`${v}: ${what.join(" ").replace(`${tmp}/`, "")}`, node, `${tmp}/${v}/bin/vpcctl.cjs`, ...what]);
      }
    }
    cmds.push(["node -e 0", node, "-e", "0"]);
    cmds.push(["require(child_process)", node, "-e", "require(\"node:child_process\")"]);
    for (const z of ["picked", "whole"]) {
      cmds.push([`zod ${z} (V8 cache)`, node, "-e", `require("${tmp}/cc.cjs").load("${tmp}/zod-${z}.cjs")`]);
    }
    console.log(JSON.stringify(cmds));
  ' "$node" "$tmp" >"$tmp/cmds.json"
  python3 bench/startup-run.py "$runs" "$out/node$major.json" <"$tmp/cmds.json" | tee "$out/node$major.txt"
done
