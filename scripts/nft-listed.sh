#!/usr/bin/env bash
# Rewrites crates/netkit/tests/fixtures/nft-listed.json: each table of
# nft-rulesets.json (written by test/unit/nft-fixtures.test.ts from
# src/firewall) as libnftables lists it after applying it, each in a fresh
# network namespace inside scripts/sandbox.sh. netkit's nftcmp tests check
# that its table comparison finds a listing equal to the ruleset it came from.
# A developer tool: the `nft` command is the witness here, never product code.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${VPCCTL_SANDBOX:-} != 1 ]]; then exec scripts/sandbox.sh "$0" "$@"; fi
fixtures=crates/netkit/tests/fixtures
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for name in $(node -e 'console.log(Object.keys(require(process.argv[1])).join(" "))' "$PWD/$fixtures/nft-rulesets.json"); do
  node -e '
    const [file, name] = process.argv.slice(1);
    const objects = require(file)[name];
    console.log(JSON.stringify({ nftables: [{ add: { table: { family: "inet", name: "vpcctl" } } }, ...objects.map((o) => ({ add: o }))] }));
  ' "$PWD/$fixtures/nft-rulesets.json" "$name" >"$out/$name.in.json"
  unshare --net sh -c 'nft -j -f "$1" && nft -j list table inet vpcctl' sh "$out/$name.in.json" >"$out/$name.json"
done
node -e '
  const [dir, ...names] = process.argv.slice(1);
  const fs = require("node:fs");
  // Keys sorted, as the first version of the file was written.
  const sorted = (v) => Array.isArray(v) ? v.map(sorted)
    : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v;
  const listed = Object.fromEntries(names.map((n) => [n, sorted(JSON.parse(fs.readFileSync(`${dir}/${n}.json`, "utf8")))]));
  process.stdout.write(JSON.stringify(listed, null, 1) + "\n");
' "$out" $(node -e 'console.log(Object.keys(require(process.argv[1])).join(" "))' "$PWD/$fixtures/nft-rulesets.json") >"$fixtures/nft-listed.json"
echo "wrote $fixtures/nft-listed.json"
