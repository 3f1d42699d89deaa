import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Issue 19, "The Node API": a typed example per command in examples/, compiled against the
// package's declarations with strict, noUncheckedIndexedAccess and exactOptionalPropertyTypes;
// and a misspelt field in a topology fails to compile.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, 'examples', f));

/** Newest modification time under a directory (for: is dist/ as new as src/?). */
const newest = (dir: string): number => Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => {
  const p = join(dir, e.name);
  return e.isDirectory() ? newest(p) : statSync(p).mtimeMs;
}));

test('the examples compile with the strictest options; a misspelt field does not', (t) => {
  t.true(examples.length >= 5, 'a few example files');
  // The package's declarations: dist/ when the build is current, else emitted here for the test (beside dist/, so
  // their relative import of the native module's index.d.ts resolves the same).
  const work = mkdtempSync(join(ROOT, '.examples-'));
  try {
    let decl = join(ROOT, 'dist');
    const fresh = (() => { try { return statSync(join(decl, 'index.d.ts')).mtimeMs >= newest(join(ROOT, 'src')); } catch { return false; } })();
    if (!fresh) {
      decl = join(work, 'decl');
      const emit = spawnSync(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.json'), '--emitDeclarationOnly', '--outDir', decl], { encoding: 'utf8' });
      t.is(emit.status, 0, emit.stdout + emit.stderr);
    }
    // At the depth of dist/ too: a declaration's `../index.js` is the package root's index.d.ts.
    const typo = join(work, 'typo.ts');
    writeFileSync(typo, [
      "import { Vpcctl } from 'vpcctl';",
      "import * as native from 'vpcctl/native';",
      'const v = new Vpcctl();',
      "await v.apply({ vpcs: [{ nmae: 'x', cidr: '10.0.0.0/16' }] });",
      "await v.applyPolicy({ vpc: 'a', policy: { ingress: [{ port: 80, action: 'alow' }] } });",
      "await native.nftDelete('ns', 'inett', 'vpcctl');",
      '',
    ].join('\n'));
    const config = join(work, 'tsconfig.json');
    writeFileSync(config, JSON.stringify({
      extends: relative(work, join(ROOT, 'examples', 'tsconfig.json')),
      compilerOptions: { paths: { vpcctl: [join(decl, 'index.d.ts')] }, typeRoots: [join(ROOT, 'node_modules', '@types')] },
      include: [], files: [...examples, typo],
    }));
    const r = spawnSync(process.execPath, [TSC, '-p', config], { encoding: 'utf8' });
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    t.deepEqual(errors.filter((l) => !l.includes('typo.ts')), [], 'the examples compile');
    const typos = errors.filter((l) => l.includes('typo.ts'));
    t.is(typos.length, 3, r.stdout);
    t.regex(typos[0]!, /typo\.ts\(4,\d+\): error TS\d+: .*'nmae'/);
    t.regex(typos[1]!, /typo\.ts\(5,\d+\): error TS\d+: .*"alow"/);
    // The native module's closed sets are string unions (the binding's ts_arg_type), not `string`.
    t.regex(typos[2]!, /typo\.ts\(6,\d+\): error TS\d+: .*"inett"/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
