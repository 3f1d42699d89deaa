// Apps and probes through the library: deploy-app, list-apps, logs, stop-app, exec, test-connectivity.
// Run as root after examples/vpcs.ts has made shop/web and shop/db: sudo npx tsx examples/apps.ts
import { Vpcctl, type AppInfo, type ConnectivityResult } from 'vpcctl';

const v = new Vpcctl({ stateDir: process.env.VPCCTL_STATE_DIR ?? '/tmp/vpcctl-example' });

const app: AppInfo = await v.deployApp({ vpc: 'shop', subnet: 'web', port: 80 });
console.log(`app pid ${app.pid} as ${app.user}, log ${app.logFile}`);
await v.deployApp({ vpc: 'shop', subnet: 'web', port: 8080, command: ['/usr/bin/python3', '-m', 'http.server', '8080'], user: 'nobody' });
for (const a of await v.listApps({ vpc: 'shop' })) console.log(`${a.vpc}/${a.subnet}:${a.port} ${a.running ? 'running' : 'exited'}`);
console.log(await v.appLog({ vpc: 'shop', subnet: 'web', port: 80 }));

const probe: ConnectivityResult = await v.testConnectivity({ vpc: 'shop', fromSubnet: 'db', toSubnet: 'web', port: 80 });
console.log(`db -> web:80 ${probe.reachable ? 'reachable' : 'unreachable'}, icmp ${probe.icmp.rttMs ?? '-'} ms`);
const matrix = await v.connectivityMatrix({ timeoutMs: 500 });
console.log(`${matrix.subnets.length} subnets probed`);

const code = await v.exec({ vpc: 'shop', subnet: 'web', command: ['ip', 'addr', 'show', 'eth0'] });
console.log(`exec exited ${code}`);
const stopped = await v.stopApp({ vpc: 'shop', subnet: 'web' });
console.log(`stopped ${stopped.map((a) => a.port).join(', ')}`);
