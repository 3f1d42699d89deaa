import test from 'ava';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTerminal } from '../../src/cli/stdio.js';

test('isTerminal: a file, /dev/null and a closed descriptor are not terminals', (t) => {
  const file = openSync(join(mkdtempSync(join(tmpdir(), 'vpcctl-stdio-')), 'out'), 'w');
  const devNull = openSync('/dev/null', 'w');
  try {
    t.false(isTerminal(file as 1));
    t.false(isTerminal(devNull as 1));
    t.false(isTerminal(987 as 1), 'a closed descriptor');
  } finally {
    closeSync(file);
    closeSync(devNull);
  }
});
