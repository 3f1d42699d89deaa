/**
 * vpcctl's default test app: a tiny HTTP server that says where it runs.
 * Started by `deploy-app` inside a subnet's namespace, as an unprivileged
 * user; it answers every request with JSON naming its VPC, subnet, address
 * and port, and the client's address as it saw it (handy to check NAT).
 */
import { createServer } from 'node:http';

const port = Number(process.env.VPCCTL_APP_PORT ?? process.argv[2] ?? 8080);
const info = {
  vpc: process.env.VPCCTL_APP_VPC ?? null,
  subnet: process.env.VPCCTL_APP_SUBNET ?? null,
  address: process.env.VPCCTL_APP_ADDRESS ?? null,
  port,
};

const server = createServer((req, res) => {
  const body = JSON.stringify({ ...info, path: req.url, client: req.socket.remoteAddress }) + '\n';
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.on('error', (e) => {
  console.error(`app: ${e.message}`);
  process.exit(1);
});
// An IPv6-only subnet's host has no IPv4 address: there the app listens on IPv6.
const v6 = info.address?.includes(':') ?? false;
server.listen(port, v6 ? '::' : '0.0.0.0', () =>
  console.log(`app: ${info.vpc}/${info.subnet} listening on ${v6 ? `[${info.address}]` : info.address}:${port}`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
