import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CLI, freshStateDir, vpcctl } from '../helpers/sandbox.js';
import { startUi, type UiProcess } from '../helpers/ui.js';

/**
 * `vpcctl ui` under attack, in the sandbox (issue 18's hostile review): each
 * test is a weakness found and fixed (test/integration/ui.test.ts covers
 * what held from the start: no token, wrong token, another origin or Host,
 * huge bodies, read-only, a port in use).
 */

const state = freshStateDir();
const PORT = 7190;
let ui: UiProcess;

test.before(async () => {
  const file = join(state, 'topology.json');
  writeFileSync(file, JSON.stringify({
    vpcs: [{
      name: 'shop', cidr: '10.10.0.0/16', flowLogs: true,
      subnets: [
        { name: 'web', cidr: '10.10.1.0/24', type: 'public' },
        // Unanswered probes into db wait out the matrix's timeout: a run lasts long enough for requests to overlap.
        { name: 'db', cidr: '10.10.2.0/24', type: 'private', policy: { default: 'deny', ingress: [] } },
        { name: 'cache', cidr: '10.10.3.0/24', type: 'private' },
      ],
    }],
  }));
  const r = await vpcctl(state, ['apply', '-f', file]);
  if (r.code !== 0) throw new Error(r.stderr);
  ui = await startUi(state, ['--port', String(PORT)]);
});

test.after.always(async () => {
  await ui?.stop();
});

const auth = () => ({ authorization: `Bearer ${ui.token}` });

/** A raw request (Host and method as the test says); `timeoutMs` bounds the wait for the whole answer. */
function raw(opts: { port?: number; method?: string; path: string; headers?: Record<string, string>; body?: string; timeoutMs?: number }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: opts.port ?? PORT, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`no complete answer in ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The CLI, killed if it has not exited after `ms` (a ui that starts serves until stopped): its code, or null. */
function cliWithin(ms: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1' }, timeout: ms, killSignal: 'SIGINT' }, (e, stdout, stderr) => {
      const err = e as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      resolve({ code: !err ? 0 : err.killed ? null : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

test.serial('--address that is not an IP literal (127.1, a name): refused up front, exit 2, one line (it used to serve a URL its own Host check refused)', async (t) => {
  for (const address of ['127.1', 'vpcctl-ui.invalid']) {
    const r = await cliWithin(8000, ['ui', '--port', '7191', '--address', address]);
    t.is(r.code, 2, `${address}: ${r.stdout} ${r.stderr}`);
    t.is(r.stderr, `vpcctl: --address "${address}" is not an IP address (give one of this host's addresses, e.g. 127.0.0.1 or ::1, or localhost)\n`);
    t.is(r.stdout, '', 'no URL printed');
  }
  // What the old code did with 127.1 (bound 127.0.0.1 through the resolver): nothing listens now.
  await t.throwsAsync(raw({ port: 7191, path: '/' }), { message: /ECONNREFUSED/ });
});

test.serial('--address not on this host (192.0.2.1, link-local fe80::1): exit 2, one line, no warning about listening first', async (t) => {
  const r = await cliWithin(8000, ['ui', '--port', '7191', '--address', '192.0.2.1']);
  t.is(r.code, 2);
  t.is(r.stderr, 'vpcctl: address 192.0.2.1 is not an address of this host: use --address with one of its addresses\n');
  const ll = await cliWithin(8000, ['ui', '--port', '7191', '--address', 'fe80::1']);
  t.is(ll.code, 2, ll.stderr);
  t.is(ll.stderr, 'vpcctl: address fe80::1 cannot be listened on: use --address with one of this host\'s addresses\n');
});

test.serial('--open starts the browser as the user who ran sudo, never as root; without sudo or a display it only says so', async (t) => {
  // A stand-in xdg-open that records who ran it and with what.
  const dir = mkdtempSync('/tmp/xdg-');
  chmodSync(dir, 0o777);
  const log = join(dir, 'opened');
  writeFileSync(join(dir, 'xdg-open'), `#!/bin/sh\necho "$(id -u):$(id -g) $1 HOME=$HOME" >> ${log}\n`, { mode: 0o755 });
  const path = `${dir}:${process.env.PATH}`;
  const said = async (ui: UiProcess, re: RegExp) => {
    for (let i = 0; i < 50 && !re.test(ui.stdout()); i++) await new Promise((r) => setTimeout(r, 100));
    return ui.stdout();
  };
  const opened = async () => {
    for (let i = 0; i < 50 && !existsSync(log); i++) await new Promise((r) => setTimeout(r, 100));
    return existsSync(log) ? readFileSync(log, 'utf8') : '';
  };
  const asUser = await startUi(state, ['--open', '--port', '7091'], { PATH: path, SUDO_UID: '65534', SUDO_GID: '65534', SUDO_USER: 'nobody', DISPLAY: ':99' });
  t.teardown(() => asUser.stop());
  t.regex(await said(asUser, /opened in your browser/), /opened in your browser/);
  const line = await opened();
  t.is(line.trim(), `65534:65534 ${asUser.url} HOME=/nonexistent`, 'as the sudo user, with the URL and its home from /etc/passwd');
  t.is(await asUser.stop(), 0);
  rmSync(log, { force: true });
  // Root without sudo: no browser as root.
  const env = { PATH: path, DISPLAY: ':99', SUDO_UID: '', SUDO_GID: '' };
  const asRoot = await startUi(state, ['--open', '--port', '7092'], env);
  t.teardown(() => asRoot.stop());
  t.regex(await said(asRoot, /yourself/), /browser not started: vpcctl runs as root without sudo.*open that URL yourself/);
  const noDisplay = await startUi(state, ['--open', '--port', '7093'], { PATH: path, SUDO_UID: '65534', SUDO_GID: '65534', DISPLAY: '', WAYLAND_DISPLAY: '' });
  t.teardown(() => noDisplay.stop());
  t.regex(await said(noDisplay, /yourself/), /browser not started: no display/);
  await new Promise((r) => setTimeout(r, 300));
  t.false(existsSync(log), 'nothing was opened');
});

test.serial('--port 80: the printed URL opens (a browser sends Host without the default port), the API answers', async (t) => {
  const web = await startUi(state, ['--port', '80']);
  t.teardown(() => web.stop());
  t.regex(web.url, /^http:\/\/127\.0\.0\.1:80\/\?token=/);
  // fetch, as a browser, leaves ":80" out of Host.
  const page = await fetch(web.url);
  t.is(page.status, 200, await page.clone().text());
  t.regex(await page.text(), /<div id="app">/);
  const snap = await fetch('http://127.0.0.1/api/snapshot', { headers: { authorization: `Bearer ${web.token}` } });
  t.is(snap.status, 200);
  t.is(((await snap.json()) as { view: { vpcs: unknown[] } }).view.vpcs.length, 1);
  // And a rebinding name on port 80 is still refused.
  t.is((await raw({ port: 80, path: '/api/snapshot', headers: { ...auth(), host: 'rebind.example' } })).status, 403);
});

test.serial('the token in the query opens the page only: an API URL carrying it is 401 (URLs end up in logs and histories)', async (t) => {
  t.is((await raw({ path: `/?token=${ui.token}` })).status, 200);
  for (const path of ['/api/snapshot', '/api/subnet?vpc=shop&subnet=web&', '/api/flow-logs?vpc=shop&']) {
    const sep = path.includes('?') ? '' : '?';
    t.is((await raw({ path: `${path}${sep}token=${ui.token}` })).status, 401, path);
    t.is((await raw({ path, headers: auth() })).status, 200, `${path} with the header`);
  }
  t.is((await raw({ path: `/api/events?token=${ui.token}`, timeoutMs: 3000 })).status, 401);
});

/** One request written by hand on a socket (a target no HTTP client would send): the raw answer. */
function rawTarget(target: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = connect(PORT, '127.0.0.1', () => s.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nAuthorization: Bearer ${ui.token}\r\nConnection: close\r\n\r\n`));
    let got = '';
    s.on('data', (c) => { got += c; });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

test.serial('a request target that is no URL is 400, not a 500 with the parser\'s message', async (t) => {
  const answer = await rawTarget('http://[');
  t.regex(answer, /^HTTP\/1\.1 400 /);
  t.notRegex(answer, /Invalid URL|ERR_INVALID_URL/);
});

test.serial('an absolute-form target naming another host is 400 (it overrides Host: the rebinding check never saw it); //name/path stays a path', async (t) => {
  t.regex(await rawTarget('http://rebind.example/api/snapshot'), /^HTTP\/1\.1 400 /);
  t.regex(await rawTarget(`http://127.0.0.1:${PORT}/api/snapshot`), /^HTTP\/1\.1 400 /, 'absolute form at all: we are no proxy');
  t.regex(await rawTarget('//rebind.example/api/snapshot'), /^HTTP\/1\.1 404 /);
  t.regex(await rawTarget('/api/snapshot'), /^HTTP\/1\.1 200 /);
});

test.serial('HEAD /api/events answers and ends: it takes no event stream\'s place', async (t) => {
  const r = await raw({ method: 'HEAD', path: '/api/events', headers: auth(), timeoutMs: 3000 });
  t.is(r.status, 200);
  t.is(r.body, '');
});

/** An event stream opened with the token; resolves with its status once the headers came. */
function openStream(): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: PORT, path: '/api/events', headers: auth() }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

test.serial('event streams are capped: past 32 open ones a 33rd is 503, the rest of the server answers, and room comes back', async (t) => {
  const streams = [];
  for (let i = 0; i < 40; i++) streams.push(await openStream());
  t.teardown(() => { for (const s of streams) s.close(); });
  const statuses = streams.map((s) => s.status);
  t.deepEqual(statuses.slice(0, 32), Array(32).fill(200));
  t.deepEqual(statuses.slice(32), Array(8).fill(503));
  t.is((await raw({ path: '/api/snapshot', headers: auth() })).status, 200, 'the API still answers');
  for (const s of streams) s.close();
  // The server notices the closes: a new stream is taken again.
  let again = 0;
  for (let i = 0; i < 20 && again !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const s = await openStream();
    again = s.status;
    s.close();
  }
  t.is(again, 200);
});

test.serial('matrix requests made while one runs share its run (a request loop cannot stack up probes)', async (t) => {
  const ask = () => raw({ method: 'POST', path: '/api/matrix', headers: { ...auth(), 'content-type': 'application/json' }, body: '{}', timeoutMs: 20_000 });
  const answers = await Promise.all([ask(), ask(), ask(), ask()]);
  for (const a of answers) t.is(a.status, 200, a.body);
  const runs = answers.map((a) => JSON.parse(a.body) as { rows: string[]; elapsedMs: number });
  t.is(runs[0]!.rows.length, 3);
  t.true(runs[0]!.elapsedMs >= 200, `a run waits for the unanswered probes (${runs[0]!.elapsedMs} ms)`);
  // elapsedMs is measured per run to the microsecond: equal means one run answered all four.
  t.is(new Set(runs.map((r) => r.elapsedMs)).size, 1, runs.map((r) => r.elapsedMs).join(', '));
  // Once done, the next request runs anew.
  const later = JSON.parse((await ask()).body) as { elapsedMs: number };
  t.not(later.elapsedMs, runs[0]!.elapsedMs);
});

test.serial('a pasted policy over 1 MiB is refused as the CLI refuses such a file (the body may be 2 MiB), and nothing changes', async (t) => {
  const padded = `{"default": "deny", "ingress": []${' '.repeat(1024 * 1024)}}`;
  const r = await raw({ method: 'POST', path: '/api/policy', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ vpc: 'shop', subnet: 'cache', policy: padded }) });
  t.is(r.status, 400, r.body);
  t.is(JSON.parse(r.body).error, 'policy (pasted) is larger than 1 MiB, the most vpcctl reads for a policy');
  const file = join(state, 'big-policy.json');
  writeFileSync(file, padded);
  const cli = await vpcctl(state, ['apply-policy', '--vpc', 'shop', '--subnet', 'cache', '--policy', file]);
  t.is(cli.code, 2);
  t.regex(cli.stderr, /is larger than 1 MiB, the most vpcctl reads for a policy/);
  const now = JSON.parse((await vpcctl(state, ['show-policy', '--vpc', 'shop', '--subnet', 'cache', '--json'])).stdout);
  t.not(now.policy?.default, 'deny', 'cache kept its policy');
});

/** The events of one stream (name and data), read until `enough` says so or `ms` pass; then the stream is closed. */
async function events(ms: number, enough: (seen: Array<{ event: string; data: string }>) => boolean) {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ms);
  const seen: Array<{ event: string; data: string }> = [];
  try {
    const res = await fetch(`${ui.origin}/api/events`, { headers: auth(), signal: stop.signal });
    const reader = res.body!.getReader();
    let buf = '';
    while (!enough(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += new TextDecoder().decode(value);
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(chunk)?.[1];
        if (event) seen.push({ event, data: /^data: (.*)$/m.exec(chunk)?.[1] ?? '' });
      }
    }
  } catch { /* aborted at the deadline */ } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return seen;
}

const flowReady = (seen: Array<{ event: string }>) => seen.some((e) => e.event === 'flow-ready');

test.serial('a page reloading (its stream closed, a new one at once) still follows every subnet\'s flow logs; once no page is left they are released', async (t) => {
  const first = await events(10_000, flowReady);
  t.true(flowReady(first), 'the first stream was told the follower is ready');
  // The reload: the new stream opens the moment the old one closed.
  const second = await events(3000, (seen) => seen.filter((e) => e.event === 'flow-ready' || e.event === 'problem').length >= 1 && flowReady(seen));
  t.deepEqual(second.filter((e) => e.event === 'problem').map((e) => e.data), [], 'no "left to it"');
  const ready = second.find((e) => e.event === 'flow-ready');
  t.deepEqual((JSON.parse(ready?.data ?? '{}') as { subnets?: string[] }).subnets?.sort(), ['cache', 'db', 'web']);
  // No page left: after the grace the subnets are free for the CLI's follower.
  await new Promise((r) => setTimeout(r, 4500));
  const follower = spawn(process.execPath, [CLI, 'flow-logs', '--vpc', 'shop', '--follow'], { env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  follower.stderr!.on('data', (c) => { err += c; });
  for (let i = 0; i < 50 && !/following flow logs/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
  follower.kill('SIGINT');
  t.regex(err, /following flow logs of vpc shop \((web|db|cache), (web|db|cache), (web|db|cache)\)/);
  t.notRegex(err, /left to it/);
});

test.serial('SIGTERM with a page streaming and its flow-log follower running: exit 0 at once, the subnets free for the CLI', async (t) => {
  const other = await startUi(state, ['--port', '7192']);
  const stop = new AbortController();
  const res = await fetch(`${other.origin}/api/events`, { headers: { authorization: `Bearer ${other.token}` }, signal: stop.signal });
  const reader = res.body!.getReader();
  let text = '';
  while (!/event: flow-ready/.test(text)) {
    const { value, done } = await reader.read();
    if (done) return t.fail(`the stream ended before the follower was ready: ${text}`);
    text += new TextDecoder().decode(value);
  }
  const started = Date.now();
  other.child.kill('SIGTERM');
  for (let i = 0; i < 100 && other.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(other.child.exitCode, 0, `exited 0 on SIGTERM alone, in ${Date.now() - started} ms`);
  await other.stop();
  for (;;) if ((await reader.read()).done) break;
  const follower = spawn(process.execPath, [CLI, 'flow-logs', '--vpc', 'shop', '--follow'], { env: { ...process.env, VPCCTL_STATE_DIR: state, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  follower.stderr!.on('data', (c) => { err += c; });
  for (let i = 0; i < 50 && !/following flow logs/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
  follower.kill('SIGINT');
  t.notRegex(err, /left to it/);
  t.regex(err, /following flow logs of vpc shop \(\w+, \w+, \w+\)/);
});

test.serial('a port given as text is read as the CLI reads --port: "0x50" or "8e3" is refused with the CLI\'s line, not probed as 80 or 8000', async (t) => {
  for (const port of ['0x50', '8e3', ' 80']) {
    const r = await raw({ method: 'POST', path: '/api/connectivity', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ vpc: 'shop', fromSubnet: 'web', toSubnet: 'cache', port }) });
    t.is(r.status, 400, `${port}: ${r.body}`);
    const cli = await vpcctl(state, ['test-connectivity', '--vpc', 'shop', '--from-subnet', 'web', '--to-subnet', 'cache', '--port', port]);
    t.is(cli.code, 2);
    t.is(`vpcctl: ${JSON.parse(r.body).error}\n`, cli.stderr, port);
  }
});
