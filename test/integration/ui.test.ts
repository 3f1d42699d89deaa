import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ROOT, freshStateDir, ip, vpcctl } from '../helpers/sandbox.js';
import { launchBrowser, startUi, type UiProcess } from '../helpers/ui.js';
import { buildSimInternet } from '../../src/sim/internet.js';

/**
 * `vpcctl ui` against a real topology in the sandbox, driven in Debian's
 * chromium: the page shows every VPC and subnet, follows CLI changes made
 * in another process without a reload, gives the CLI's connectivity
 * answers, shows a subnet's policy counters, apps and drift, runs the
 * actions through the library with the CLI's errors, and refuses requests
 * without the token. A 500-subnet topology is drawn and saved as
 * test-results/ui-500.png.
 */

const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const OUT = join(ROOT, 'test-results');
let ui: UiProcess;
let browser: Browser;
let page: Page;

const TOPOLOGY = {
  vpcs: [
    {
      name: 'shop', cidr: '10.10.0.0/16', flowLogs: true,
      subnets: [
        { name: 'web', cidr: '10.10.1.0/24', type: 'public', apps: [{ port: 8080 }] },
        {
          name: 'db', cidr: '10.10.2.0/24', type: 'private',
          policy: { default: 'deny', ingress: [{ port: 5432, protocol: 'tcp', cidr: '10.10.1.0/24', action: 'allow' }, { protocol: 'icmp', cidr: '10.10.1.0/24', action: 'allow' }] },
        },
        { name: 'cache', cidr: '10.10.3.0/24', type: 'private' },
      ],
    },
    { name: 'ops', cidr: '10.30.0.0/16', subnets: [{ name: 'mon', cidr: '10.30.1.0/24', type: 'private' }] },
    { name: 'lab', cidr: '10.20.0.0/16', ipv6Cidr: 'fd00:20::/56', subnets: [{ name: 'x', cidr: '10.20.1.0/24', type: 'private' }] },
  ],
  peerings: [{ vpc1: 'shop', vpc2: 'ops' }],
};
const SUBNETS = ['shop/web', 'shop/db', 'shop/cache', 'ops/mon', 'lab/x'];

test.before(async () => {
  await buildSimInternet();
  const file = join(state, 'topology.json');
  writeFileSync(file, JSON.stringify(TOPOLOGY));
  const r = await run('apply', '-f', file);
  if (r.code !== 0) throw new Error(r.stderr);
  mkdirSync(OUT, { recursive: true });
  ui = await startUi(state, ['--port', '7180']);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  await page.goto(ui.url);
});

test.after.always(async () => {
  await browser?.close();
  await ui?.stop();
});

const tile = (key: string) => `[data-subnet="${key}"]`;

test.serial('the page draws every VPC and every subnet, with the gateway and the peering', async (t) => {
  await page.waitForSelector(tile('lab/x'), { timeout: 10_000 });
  for (const key of SUBNETS) t.is(await page.locator(`svg ${tile(key)}`).count(), 1, key);
  for (const vpc of ['shop', 'ops', 'lab']) t.is(await page.locator(`[data-vpc="${vpc}"]`).count(), 1, vpc);
  t.is(await page.locator('[data-peering="shop~ops"]').count(), 1);
  t.regex(await page.locator('[data-vpc="shop"]').textContent() ?? '', /IGW · uplink0/);
  t.regex(await page.locator('#counts').textContent() ?? '', /3 VPCs · 5 subnets · 1 peerings/);
  t.is(ui.stderr(), '', 'no warning on loopback');
  t.false(ui.stdout().split(ui.token).length > 2, 'the token is printed once');
});

test.serial('a subnet made or deleted with the CLI in another process appears and goes without a reload (within a second)', async (t) => {
  await page.evaluate(() => { (window as unknown as { marker: number }).marker = 1; });
  const r = await run('create-subnet', '--vpc', 'lab', '--name', 'extra', '--cidr', '10.20.9.0/24');
  t.is(r.code, 0, r.stderr);
  const started = Date.now();
  await page.waitForSelector(tile('lab/extra'), { timeout: 3000 });
  const ms = Date.now() - started;
  t.log(`appeared ${ms} ms after the CLI exited`);
  t.true(ms < 1000, `${ms} ms`);
  t.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 1, 'same page: no reload');
  t.is((await run('delete-subnet', '--vpc', 'lab', '--name', 'extra')).code, 0);
  await page.waitForSelector(tile('lab/extra'), { state: 'detached', timeout: 3000 });
  t.pass();
});

/** A pair test run from the page: the text it shows and whether it says reachable. */
async function pagePair(from: string, to: string): Promise<string> {
  await page.selectOption('#from', from);
  await page.selectOption('#to', to);
  await page.click('#test');
  await page.waitForSelector('#conn-result[data-reachable]', { timeout: 10_000 });
  return (await page.getAttribute('#conn-result', 'data-reachable'))!;
}

test.serial('connectivity from the page gives the CLI\'s answer: reachable, blocked by policy, not peered', async (t) => {
  await page.waitForSelector('[data-flow-ready="shop"]', { timeout: 10_000 });
  for (const [from, to] of [['shop/web', 'shop/db'], ['shop/cache', 'shop/db'], ['shop/web', 'lab/x'], ['shop/web', 'ops/mon']] as const) {
    const [vpc, fromSubnet] = from.split('/');
    const [toVpc, toSubnet] = to.split('/');
    const cli = await run('test-connectivity', '--vpc', vpc!, '--from-subnet', fromSubnet!, '--to-vpc', toVpc!, '--to-subnet', toSubnet!, '--json');
    const cliSays = String(JSON.parse(cli.stdout).reachable);
    t.is(await pagePair(from, to), cliSays, `${from} -> ${to}`);
    // The target's tile is coloured by the answer.
    const stroke = await page.locator(`${tile(to)} rect`).getAttribute('stroke');
    t.is(stroke, cliSays === 'true' ? '#2e7d32' : '#c0392b');
  }
  t.is(await pagePair('shop/web', 'shop/db'), 'true');
  t.is(await pagePair('shop/web', 'lab/x'), 'false');
  // shop has flow logs on: the page's own probe into db shows up as it happens.
  await page.waitForSelector('[data-flow="shop/db"]', { timeout: 10_000 });
  t.regex(await page.locator('[data-flow="shop/db"]').first().textContent() ?? '', /ACCEPT\s+icmp 10\.10\.1\.2 -> 10\.10\.2\.2 \(ingress\[1\]\)/);
});

test.serial('the matrix from the page: every pair, coloured, as predicted', async (t) => {
  await page.click('#matrix-run');
  await page.waitForSelector('#matrix-summary', { timeout: 20_000 });
  t.is(await page.locator('#matrix td[data-pair]').count(), 5 * 4);
  t.is(await page.getAttribute('#matrix td[data-pair="shop/web>shop/db"]', 'data-ok'), 'true');
  t.is(await page.getAttribute('#matrix td[data-pair="shop/web>lab/x"]', 'data-ok'), 'false');
  t.regex(await page.locator('#matrix-summary').textContent() ?? '', /of 20 pairs reachable; 20 as predicted/);
});

test.serial('the subnet panel: addresses, policy rules with their hit counters as the CLI reads them', async (t) => {
  await page.click(`svg ${tile('shop/db')}`);
  await page.waitForSelector('#subnet-panel[data-subnet="shop/db"] #policy-rules', { timeout: 10_000 });
  const text = await page.locator('#subnet-panel').textContent() ?? '';
  t.regex(text, /host address10\.10\.2\.2/);
  t.regex(text, /namespacens-shop-db/);
  const cli = JSON.parse((await run('show-policy', '--vpc', 'shop', '--subnet', 'db', '--json')).stdout) as { rules: Array<{ rule: string; packets: number }> };
  const rows = await page.locator('#policy-rules tr').allTextContents();
  for (const r of cli.rules.filter((x) => x.rule.includes('['))) t.true(rows.some((row) => row.startsWith(r.rule)), r.rule);
  const icmp = page.locator('#policy-rules tr').filter({ hasText: 'ingress[1]' }).locator('td');
  t.regex(await icmp.nth(1).textContent() ?? '', /allow icmp/);
  t.true(Number(await icmp.nth(2).textContent()) >= 1, 'the page\'s own probes were counted');
});

test.serial('a dual-stack subnet: its tile names both prefixes, its panel both families', async (t) => {
  t.regex(await page.locator(`svg ${tile('lab/x')} title`).textContent() ?? '', /^lab\/x 10\.20\.1\.0\/24 · fd00:20::\/64 /);
  await page.click(`svg ${tile('lab/x')}`);
  await page.waitForSelector('#subnet-panel[data-subnet="lab/x"]', { timeout: 10_000 });
  const text = await page.locator('#subnet-panel').textContent() ?? '';
  t.regex(text, /host address10\.20\.1\.2/);
  t.regex(text, /IPv6 CIDRfd00:20::\/64IPv6 hostfd00:20::2IPv6 gatewayfd00:20::1/);
});

test.serial('apps: status and last log lines; stop and start from the page, as the CLI then sees them', async (t) => {
  await page.click(`svg ${tile('shop/web')}`);
  await page.waitForSelector('#subnet-panel[data-subnet="shop/web"] [data-app="8080"]', { timeout: 10_000 });
  t.regex(await page.locator('[data-app="8080"]').textContent() ?? '', /running/);
  const log = (await run('logs', '--vpc', 'shop', '--subnet', 'web', '--tail', '1')).stdout.trim();
  t.true(log.length > 0);
  t.true((await page.locator('#subnet-panel pre').first().textContent() ?? '').includes(log));

  await page.click('[data-app="8080"] button[data-action="stop"]');
  await page.waitForSelector('[data-app="8080"]', { state: 'detached', timeout: 10_000 });
  t.deepEqual(JSON.parse((await run('list-apps', '--vpc', 'shop', '--json')).stdout), []);

  await page.fill('#app-port', '8080');
  await page.click('#app-start');
  await page.waitForSelector('[data-app="8080"] button[data-action="stop"]', { timeout: 15_000 });
  const apps = JSON.parse((await run('list-apps', '--vpc', 'shop', '--json')).stdout) as Array<{ subnet: string; port: number; running: boolean }>;
  t.like(apps, [{ subnet: 'web', port: 8080, running: true }]);
  await page.waitForSelector(`${tile('shop/web')} circle[fill="#2ecc71"]`, { timeout: 3000 });
  await page.screenshot({ path: join(OUT, 'ui.png') });
});

test.serial('a pasted policy: the CLI\'s errors for a bad one, applied when good', async (t) => {
  await page.click(`svg ${tile('shop/cache')}`);
  // This subnet's panel, not the one it replaces (each has a policy box).
  await page.waitForSelector('#subnet-panel[data-subnet="shop/cache"] #policy-text', { timeout: 10_000 });
  const bad = '{"ingress": [{"port": 99999, "protocol": "tcp"}]}';
  const file = join(state, 'bad-policy.json');
  writeFileSync(file, bad);
  const cli = await run('apply-policy', '--vpc', 'shop', '--subnet', 'cache', '--policy', file);
  t.is(cli.code, 2);
  await page.fill('#policy-text', bad);
  await page.click('#policy-apply');
  await page.waitForSelector('#policy-result [data-error]', { timeout: 10_000 });
  const shown = await page.locator('#policy-result [data-error]').textContent();
  t.is(shown, cli.stderr.trim().split('\n').map((l) => l.replace(/^vpcctl: /, '')).join('\n'));

  await page.fill('#policy-text', '{"ingress": [{"protocol": "icmp", "action": "deny"}]}');
  await page.click('#policy-apply');
  await page.waitForSelector('#policy-result .ok', { timeout: 10_000 });
  const now = JSON.parse((await run('show-policy', '--vpc', 'shop', '--subnet', 'cache', '--json')).stdout);
  t.like(now.policy, { ingress: [{ protocol: 'icmp', action: 'deny' }] });
  t.is(await pagePair('shop/web', 'shop/cache'), 'false', 'and the kernel enforces it');
});

test.serial('drift made behind vpcctl\'s back is highlighted on the subnet in place', async (t) => {
  t.is(await page.locator(`${tile('lab/x')}.drift`).count(), 0);
  ip(['netns', 'del', 'ns-lab-x']);
  await page.waitForSelector(`${tile('lab/x')}.drift`, { timeout: 12_000 });
  t.regex(await page.locator('#drift-badge').textContent() ?? '', /drift in 1/);
  t.regex(await page.locator(`${tile('lab/x')} title`).textContent() ?? '', /netns ns-lab-x is missing/);
  t.is(await page.locator(`${tile('shop/web')}.drift`).count(), 0);
});

/** A raw request, so the Host and Origin headers are what the test says. */
function raw(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test.serial('no token, a wrong one, a POST with the token only in the URL: 401; another origin or Host: 403; a huge body: 413', async (t) => {
  const port = 7180;
  const auth = { authorization: `Bearer ${ui.token}` };
  const json = { 'content-type': 'application/json' };
  t.is((await raw(port, { path: '/' })).status, 401);
  t.is((await raw(port, { path: '/api/snapshot' })).status, 401);
  t.is((await raw(port, { path: '/api/events' })).status, 401);
  t.is((await raw(port, { path: `/?token=${'0'.repeat(64)}` })).status, 401);
  t.is((await raw(port, { path: `/?token=${ui.token}` })).status, 200);
  t.is((await raw(port, { path: '/api/snapshot', headers: auth })).status, 200);
  t.is((await raw(port, { method: 'POST', path: `/api/matrix?token=${ui.token}`, headers: json, body: '{}' })).status, 401);
  t.is((await raw(port, { method: 'POST', path: '/api/apps/stop', headers: { ...json, origin: 'http://evil.example' }, body: '{}' })).status, 401);
  t.is((await raw(port, { method: 'POST', path: '/api/apps/stop', headers: { ...json, ...auth, origin: 'http://evil.example' }, body: '{"vpc":"shop","subnet":"web"}' })).status, 403);
  t.is((await raw(port, { path: `/?token=${ui.token}`, headers: { host: 'rebind.example:7180' } })).status, 403);
  t.is((await raw(port, { method: 'POST', path: '/api/policy', headers: { ...json, ...auth }, body: 'x'.repeat(3 * 1024 * 1024) })).status, 413);
  // No CORS: nothing allows another origin to read an answer.
  const page = await fetch(ui.url);
  t.is(page.headers.get('access-control-allow-origin'), null);
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  t.is((await raw(port, { path: '/../../etc/passwd', headers: auth })).status, 404);
  t.is((await raw(port, { path: `/../../etc/passwd?token=${ui.token}` })).status, 401, 'the query token opens the page only');
  t.true(JSON.parse((await run('list-apps', '--vpc', 'shop', '--json')).stdout).length === 1, 'the refused stop stopped nothing');
});

test.serial('--read-only: the page shows no actions, a POST with the token is 403, nothing changes', async (t) => {
  const ro = await startUi(state, ['--port', '7181', '--read-only']);
  t.teardown(() => ro.stop());
  const p = await browser.newPage();
  await p.goto(ro.url);
  await p.waitForSelector(tile('shop/web'));
  t.is(await p.locator('#ro .badge').textContent(), 'read-only');
  await p.click(`svg ${tile('shop/web')}`);
  await p.waitForSelector('[data-app="8080"]');
  t.is(await p.locator('#policy-apply').count(), 0);
  t.is(await p.locator('[data-app="8080"] button').count(), 0);
  const r = await raw(7181, { method: 'POST', path: '/api/apps/stop', headers: { 'content-type': 'application/json', authorization: `Bearer ${ro.token}` }, body: '{"vpc":"shop","subnet":"web","port":8080}' });
  t.is(r.status, 403);
  t.regex(r.body, /read-only/);
  t.true(JSON.parse((await run('list-apps', '--vpc', 'shop', '--json')).stdout)[0].running);
  await p.close();
});

test.serial('a port someone else holds: a clear error, exit 1, and their listener keeps it', async (t) => {
  const theirs = createServer((s) => s.end('theirs\n'));
  await new Promise<void>((r) => theirs.listen(7182, '127.0.0.1', r));
  t.teardown(() => theirs.close());
  const r = await vpcctl(state, ['ui', '--port', '7182']);
  t.is(r.code, 1);
  t.is(r.stderr, 'vpcctl: port 7182 on 127.0.0.1 is already in use by another program: choose another with --port\n');
  t.true(theirs.listening);
  t.is((await run('ui', '--port', '0x10')).code, 2, 'a bad port is bad input');
});

test.serial('--address other than loopback warns; Ctrl-C ends the event streams and exits 0', async (t) => {
  const wide = await startUi(state, ['--port', '7183', '--address', '0.0.0.0']);
  t.regex(wide.stderr(), /warning: listening on 0\.0\.0\.0: the dashboard is reachable from other machines/);
  t.regex(wide.url, /^http:\/\/127\.0\.0\.1:7183\/\?token=/);
  const events = await fetch(`${wide.origin}/api/events`, { headers: { authorization: `Bearer ${wide.token}` } });
  const reader = events.body!.getReader();
  t.regex(new TextDecoder().decode((await reader.read()).value), /vpcctl|snapshot/);
  const started = Date.now();
  t.is(await wide.stop(), 0);
  for (;;) if ((await reader.read()).done) break;
  t.true(Date.now() - started < 5000);
});

test.serial('500 subnets: grouped per VPC, collapsed beyond 48 with counts, expandable; screenshot saved', async (t) => {
  const big = freshStateDir();
  const vpc = (name: string, octet: number, n: number) => ({
    name, cidr: `10.${octet}.0.0/16`,
    subnets: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, cidr: `10.${octet}.${i}.0/24`, type: i % 5 === 0 ? 'public' : 'private' })),
  });
  const file = join(big, 'big.json');
  writeFileSync(file, JSON.stringify({ vpcs: [vpc('east', 100, 250), vpc('west', 101, 200), vpc('tiny', 102, 50)], peerings: [{ vpc1: 'east', vpc2: 'west' }] }));
  const applied = await vpcctl(big, ['apply', '-f', file]);
  t.is(applied.code, 0, applied.stderr);
  const bigUi = await startUi(big, ['--port', '7184']);
  t.teardown(() => bigUi.stop());
  const p = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const started = Date.now();
  await p.goto(bigUi.url);
  await p.waitForSelector('[data-more="east"]', { timeout: 15_000 });
  t.log(`500 subnets drawn in ${Date.now() - started} ms`);
  t.regex(await p.locator('#counts').textContent() ?? '', /3 VPCs · 500 subnets · 1 peerings/);
  t.is(await p.locator('#from option').count(), 500, 'every subnet can be picked');
  t.is(await p.locator('svg [data-subnet]').count(), 47 * 3);
  t.regex(await p.locator('[data-more="east"]').textContent() ?? '', /\+203 more/);
  t.regex(await p.locator('[data-vpc="east"]').textContent() ?? '', /250 subnets \(50 public, 200 private\)/);
  // Status has run (the other test topology's namespaces count as orphaned here: drift is fine).
  await p.waitForSelector('#in-sync, #drift-badge', { timeout: 20_000 });
  await p.screenshot({ path: join(OUT, 'ui-500.png') });
  await p.click('[data-more="west"]');
  await p.waitForSelector(tile('west/s199'));
  t.is(await p.locator('svg [data-subnet^="west/"]').count(), 200);
  await p.fill('#filter', 'east/s240');
  await p.waitForSelector(tile('east/s240'));
  await p.close();
});
