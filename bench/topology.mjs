#!/usr/bin/env node
// The benchmark topology: one VPC `bench` (10.0.0.0/8) with N /24 subnets.
// Subnet i is `s<i>`, 10.(i>>8).(i&255).0/24, public when i is even, each
// with the same two-rule policy. A /8 because 500 /24s do not fit a /16.
// bench/seed.sh and bench/floor use the same scheme, so all three build the
// same kernel objects (bench/fingerprint.mjs checks that).
//
//   node bench/topology.mjs N [--vpc NAME] [--no-policy] > topology.json
//
// JSON is valid YAML, so `vpcctl apply -f` reads it either way.

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 500);
const vpcAt = args.indexOf('--vpc');
const vpc = vpcAt >= 0 ? args[vpcAt + 1] : 'bench';
const withPolicy = !args.includes('--no-policy');
if (!Number.isInteger(n) || n < 1 || n > 65536) {
  console.error('topology.mjs: N must be 1..65536 (/24 subnets of 10.0.0.0/8)');
  process.exit(2);
}

const policy = {
  ingress: [
    { port: 80, protocol: 'tcp', action: 'allow' },
    { port: 22, protocol: 'tcp', action: 'deny' },
  ],
};

const subnets = Array.from({ length: n }, (_, i) => ({
  name: `s${i}`,
  cidr: `10.${i >> 8}.${i & 255}.0/24`,
  type: i % 2 === 0 ? 'public' : 'private',
  ...(withPolicy ? { policy } : {}),
}));

process.stdout.write(`${JSON.stringify({ vpcs: [{ name: vpc, cidr: '10.0.0.0/8', subnets }] }, null, 1)}\n`);
