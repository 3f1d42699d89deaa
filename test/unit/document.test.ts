import test from 'ava';
import { jsonErrorOffset, lineColumn } from '../../src/cli/document.js';

test('the offset of a JSON syntax error, whatever V8 says', (t) => {
  const text = '{"subnet": "10.10.1.0/24", "ingress": [}';
  t.is(text[jsonErrorOffset(text)!], '}');
  const multi = '{\n  "a": 1,\n  "b": tru\n}';
  t.deepEqual(lineColumn(multi, jsonErrorOffset(multi)!), { line: 3, column: 11 });
  t.is(jsonErrorOffset('{"a": 1}'), null);
  t.is(jsonErrorOffset('{"a": 1,}'), 8);
});
