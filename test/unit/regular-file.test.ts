import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotReadable, readRegular } from '../../src/regular-file.js';
import { errorOfType } from '../helpers/error-of.js';

const dir = mkdtempSync(join(tmpdir(), 'vpcctl-regular-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const refusal = (fn: () => unknown): NotReadable => errorOfType(NotReadable, fn);

test('a regular file is read whole, up to and including its limit', (t) => {
  const file = join(dir, 'ten');
  writeFileSync(file, '0123456789');
  t.is(readRegular(file).toString(), '0123456789');
  t.is(readRegular(file, { limit: 10 }).toString(), '0123456789');
  const e = refusal(() => readRegular(file, { limit: 9 }));
  t.is(e.reason, 'size');
  t.regex(e.message, /is larger than 9 bytes$/);
});

test('a file that reports no size (procfs) is read to its end', (t) => {
  t.regex(readRegular('/proc/self/status').toString(), /^Name:/);
  t.is(refusal(() => readRegular('/proc/self/status', { limit: 8 })).reason, 'size', 'the limit holds past what fstat said');
});

test('a FIFO, a device, a directory are refused before a byte is read, without blocking', (t) => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const cases: [string, string][] = [[fifo, 'a FIFO'], ['/dev/zero', 'a character device'], [dir, 'a directory']];
  for (const [path, kind] of cases) {
    const e = refusal(() => readRegular(path));
    t.is(e.reason, 'kind');
    t.is(e.kind, kind);
    t.is(e.message, `${path} is ${kind}, not a regular file`);
  }
});

test('noFollow: never through a symbolic link; errors of the open pass as they are', (t) => {
  const target = join(dir, 'target');
  const link = join(dir, 'link');
  writeFileSync(target, 'x');
  symlinkSync(target, link);
  t.is(readRegular(link).toString(), 'x');
  t.is((t.throws(() => readRegular(link, { noFollow: true })) as NodeJS.ErrnoException).code, 'ELOOP');
  t.is((t.throws(() => readRegular(join(dir, 'absent'))) as NodeJS.ErrnoException).code, 'ENOENT');
});
