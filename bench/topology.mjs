#!/usr/bin/env node
// The benchmark topology: one VPC `bench` (10.0.0.0/8) with N /24 subnets.
// Subnet i is `s<i>`, 10.(i>>8).(i&255).0/24, public when i is even, each
// with the same two-rule policy. A /8 because 500 /24s do not fit a /16.
// bench/seed.sh and bench/floor use the same scheme, so all three build the
// same kernel objects (bench/fingerprint.mjs checks that).
//
//   node bench/topology.mjs N [--vpc NAME] [--vpcs K] [--no-policy] [--ipv6] > topology.json
//
// --ipv6: dual-stack, the VPC's IPv6 prefix fd00:b::/48, each subnet the next /64 (allocated by vpcctl).
//
// --vpcs K: K VPCs NAME0..NAME<K-1> of N subnets each (unpeered, so all may
// use 10.0.0.0/8), for the scale series' 10,000 subnets over 20 VPCs.
//
// JSON is valid YAML, so `vpcctl apply -f` reads it either way.

const args = process.argv.slice(2);
const n = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--vpcs') ?? 500);
const vpcAt = args.indexOf('--vpc');
const vpc = vpcAt >= 0 ? args[vpcAt + 1] : 'bench';
const withPolicy = !args.includes('--no-policy');
const ipv6 = args.includes('--ipv6');
const vpcsAt = args.indexOf('--vpcs');
const vpcCount = vpcsAt >= 0 ? Number(args[vpcsAt + 1]) : 0;
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

const names = vpcCount > 0 ? Array.from({ length: vpcCount }, (_, k) => `${vpc}${k}`) : [vpc];
process.stdout.write(`${JSON.stringify({ vpcs: names.map((name) => ({ name, cidr: '10.0.0.0/8', ...(ipv6 ? { ipv6Cidr: 'fd00:b::/48' } : {}), subnets })) }, null, 1)}\n`);
