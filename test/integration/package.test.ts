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
  copyFileSync(join(ROOT, 'examples', 'two-vpcs.mjs'), join(app, 'two-vpcs.mjs'));
  const run = spawnSync(process.execPath, ['two-vpcs.mjs'], { cwd: app, encoding: 'utf8', env: { ...process.env, VPCCTL_STATE_DIR: join(work, 'state') } });
  t.is(run.status, 0, run.stdout + run.stderr);
  t.regex(run.stdout, /before peering: false, after: true/);
  t.deepEqual(netnsList(), [], 'the example cleaned up');
});
