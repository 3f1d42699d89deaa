import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInputFile } from '../../src/api/files.js';

const dir = mkdtempSync(join(tmpdir(), 'vpcctl-files-'));

test('readInputFile: a regular file up to the limit is read whole', (t) => {
  const f = join(dir, 'ok.json');
  writeFileSync(f, '{"a": "é"}');
  t.is(readInputFile(f, 'topology', 11), '{"a": "é"}', 'exactly the limit (bytes, not characters)');
  t.throws(() => readInputFile(f, 'topology', 10), { message: `topology ${f} is larger than 10 bytes, the most vpcctl reads for a topology` });
});

test('readInputFile: not a regular file, or missing, is refused with exit 2 without reading', (t) => {
  const fifo = join(dir, 'fifo');
  spawnSync('mkfifo', [fifo]);
  const cases: [string, RegExp][] = [
    ['/dev/zero', /policy \/dev\/zero is a character device: give a regular file/],
    [dir, /is a directory/],
    [fifo, /is a FIFO/],
    [join(dir, 'missing'), /no such file/],
  ];
  for (const [path, message] of cases) {
    const e = t.throws(() => readInputFile(path, 'policy', 1024 * 1024), { message });
    t.is((e as { exitCode?: number }).exitCode, 2, path);
  }
});
