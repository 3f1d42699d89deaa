import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, netnsList } from '../helpers/sandbox.js';

// `npm pack`, install the tarball into an empty project (offline: from npm's
// cache, the sandbox has no network), and run the README's example there.
test('the packed package installs into an empty project and works there', (t) => {
  const work = '/run/vpcctl/pkg';
  const app = join(work, 'app');
  mkdirSync(app, { recursive: true });
  const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  const pack = npm(['pack', '--pack-destination', work, '--silent'], ROOT);
  t.is(pack.status, 0, pack.stderr);
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
  const install = npm(['install', '--offline', '--no-audit', '--no-fund', join(work, tgz)], app);
  t.is(install.status, 0, install.stderr);

  const version = spawnSync(join(app, 'node_modules', '.bin', 'vpcctl'), ['--version'], { encoding: 'utf8' });
  t.is(version.stdout.trim(), '0.1.0', version.stderr);
  const plain = spawnSync(process.execPath, ['--input-type=module', '-e',
    "const n = await import('vpcctl/native'); await n.netnsAdd('pkg-plain', 't'); console.log(JSON.stringify(await n.netnsList())); await n.netnsDel('pkg-plain');"],
  { cwd: app, encoding: 'utf8' });
  t.is(plain.status, 0, plain.stderr);
  t.deepEqual(JSON.parse(plain.stdout), ['pkg-plain'], "the native module alone, as 'vpcctl/native'");
  // The dashboard as a library: served for the caller's Vpcctl, its page behind the token, its API behind the header.
  const ui = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { Vpcctl } = await import('vpcctl'); const { startUi } = await import('vpcctl/ui');
    const s = await startUi({ api: new Vpcctl({ stateDir: '${join(work, 'ui-state')}' }), stateDir: '${join(work, 'ui-state')}', port: 0, token: 't0k' });
    const page = await fetch(s.url); const bare = await fetch(new URL('/api/snapshot', s.url));
    const api = await fetch(new URL('/api/snapshot', s.url), { headers: { authorization: 'Bearer t0k' } });
    console.log(JSON.stringify({ page: page.status, html: (await page.text()).startsWith('<!doctype html>'), bare: bare.status, api: api.status }));
    await s.close();`],
  { cwd: app, encoding: 'utf8' });
  t.is(ui.status, 0, ui.stderr);
  t.deepEqual(JSON.parse(ui.stdout), { page: 200, html: true, bare: 401, api: 200 }, "startUi, as 'vpcctl/ui'");
  copyFileSync(join(ROOT, 'examples', 'two-vpcs.mjs'), join(app, 'two-vpcs.mjs'));
  const run = spawnSync(process.execPath, ['two-vpcs.mjs'], { cwd: app, encoding: 'utf8', env: { ...process.env, VPCCTL_STATE_DIR: join(work, 'state') } });
  t.is(run.status, 0, run.stdout + run.stderr);
  t.regex(run.stdout, /before peering: false, after: true/);
  t.deepEqual(netnsList(), [], 'the example cleaned up');
});
