#!/usr/bin/env bash
# All tests: TypeScript unit tests, netkit's Rust tests (in a sandbox) and the
# integration tests (each file in a sandbox of its own, two at a time). The
# TypeScript tests run under the Node on PATH and again under each major
# version in VPCCTL_TEST_NODES (default "22 24"; installed from the npm
# registry on first use, see scripts/node-bin.sh; empty to skip). Prints one
# closing line "N passed, M failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "tests need root (they build namespaces in a sandbox): sudo make test" >&2; exit 1; }
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
passed=0 failed=0

count_tap() { # file -> adds its ok / not ok lines to the totals
  local ok nok
  ok=$(grep -cE '^ok ' "$1"); nok=$(grep -cE '^not ok ' "$1")
  passed=$((passed + ok)); failed=$((failed + nok))
}

unit() { # label
  echo "== unit tests (TypeScript, $1)"
  npx ava --tap test/unit/ >"$log/unit.tap" 2>&1; rc=$?
  grep -E '^(not ok|# )' "$log/unit.tap"; count_tap "$log/unit.tap"
  [[ $rc == 0 ]] || { [[ $(grep -c '^not ok' "$log/unit.tap") -gt 0 ]] || { cat "$log/unit.tap"; failed=$((failed + 1)); }; }
}
unit "node $(node --version)"

echo "== netkit (Rust, in a sandbox)"
cargo build --release --tests -p netkit -q 2>&1 | tail -20
scripts/sandbox.sh cargo test --release -p netkit -q >"$log/rust.txt" 2>&1; rc=$?
grep -E '^test result|FAILED|panicked' "$log/rust.txt"
r_ok=$(grep -oE '[0-9]+ passed' "$log/rust.txt" | awk '{s+=$1} END {print s+0}')
r_nok=$(grep -oE '[0-9]+ failed' "$log/rust.txt" | awk '{s+=$1} END {print s+0}')
passed=$((passed + r_ok)); failed=$((failed + r_nok))
[[ $rc == 0 || $r_nok -gt 0 ]] || { tail -30 "$log/rust.txt"; failed=$((failed + 1)); }

# The binding's own unit tests (pure logic such as the progress throttle;
# nothing here touches the kernel, so no sandbox).
echo "== vpcctl-node (Rust binding, unit)"
cargo test --release -p vpcctl-node -q >"$log/rust-node.txt" 2>&1; rc=$?
grep -E '^test result|FAILED|panicked' "$log/rust-node.txt"
r_ok=$(grep -oE '[0-9]+ passed' "$log/rust-node.txt" | awk '{s+=$1} END {print s+0}')
r_nok=$(grep -oE '[0-9]+ failed' "$log/rust-node.txt" | awk '{s+=$1} END {print s+0}')
passed=$((passed + r_ok)); failed=$((failed + r_nok))
[[ $rc == 0 || $r_nok -gt 0 ]] || { tail -30 "$log/rust-node.txt"; failed=$((failed + 1)); }

# package.test.ts installs the packed package offline inside a sandbox (no
# network there): npm's cache must already hold the metadata and tarballs of
# its dependencies, which `npm ci` alone does not put there on a fresh machine.
warm=$(mktemp -d)
node -e 'const p = require("./package.json"); console.log(JSON.stringify({ name: "warm", version: "1.0.0", private: true, dependencies: p.dependencies }))' >"$warm/package.json"
(cd "$warm" && npm install --prefer-offline --ignore-scripts --no-audit --no-fund --silent) || echo "warning: could not warm npm's cache for the package test"
rm -rf "$warm"
integration() { # label
  echo "== integration (TypeScript, $1, one sandbox per file)"
  files=(test/integration/*.test.ts)
  run_one() { # file -> log/<name>.tap
    local f=$1 name; name=$(basename "$f" .test.ts)
    scripts/sandbox.sh npx ava --tap "$f" >"$log/it-$name.tap" 2>&1
    echo $? >"$log/it-$name.rc"
  }
  export -f run_one; export log
  printf '%s\n' "${files[@]}" | xargs -P 2 -I{} bash -c 'run_one {}'
  for f in "${files[@]}"; do
    name=$(basename "$f" .test.ts)
    count_tap "$log/it-$name.tap"
    nok=$(grep -c '^not ok' "$log/it-$name.tap"); rc=$(cat "$log/it-$name.rc")
    echo "-- $name: $(grep -c '^ok ' "$log/it-$name.tap") ok, $nok not ok"
    if [[ $nok -gt 0 || $rc != 0 ]]; then
      grep -vE '^ok ' "$log/it-$name.tap" | head -80
      [[ $nok -gt 0 ]] || failed=$((failed + 1))
    fi
  done
}
integration "node $(node --version)"

for major in ${VPCCTL_TEST_NODES-22 24}; do
  bin=$(scripts/node-bin.sh "$major") || { echo "cannot install Node $major"; failed=$((failed + 1)); continue; }
  PATH=$bin:$PATH unit "node $("$bin/node" --version)"
  PATH=$bin:$PATH integration "node $("$bin/node" --version)"
done

echo
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
