import test from 'ava';
import { addressProblem, authorize, headerToken, hostAllowed, isLoopback, newToken, pageUrl, sameToken } from '../../src/ui/auth.js';

const TOKEN = 'a'.repeat(64);
const opts = { token: TOKEN, port: 7070, readOnly: false };
const HOST = '127.0.0.1:7070';

test('a token is 32 random bytes in hex, new each time', (t) => {
  const a = newToken();
  t.regex(a, /^[0-9a-f]{64}$/);
  t.not(a, newToken());
});

test('sameToken: exact match only, whatever the length or type of the guess', (t) => {
  t.true(sameToken(TOKEN, TOKEN));
  t.false(sameToken(TOKEN.slice(1), TOKEN));
  t.false(sameToken(`${TOKEN}a`, TOKEN));
  t.false(sameToken('b'.repeat(64), TOKEN));
  t.false(sameToken('', TOKEN));
  t.false(sameToken(undefined, TOKEN));
  t.false(sameToken(null, TOKEN));
});

test('headerToken reads Authorization: Bearer and X-Vpcctl-Token, nothing else', (t) => {
  t.is(headerToken({ authorization: `Bearer ${TOKEN}` }), TOKEN);
  t.is(headerToken({ authorization: `bearer  ${TOKEN} ` }), TOKEN);
  t.is(headerToken({ 'x-vpcctl-token': TOKEN }), TOKEN);
  t.is(headerToken({ authorization: `Basic ${TOKEN}` }), undefined);
  t.is(headerToken({ cookie: `token=${TOKEN}` }), undefined);
});

test('GET: the token in the query (the page) or a header lets it through; none or a wrong one is 401', (t) => {
  t.true(authorize({ method: 'GET', path: '/', host: HOST, queryToken: TOKEN }, opts).ok);
  t.true(authorize({ method: 'GET', host: HOST, headerToken: TOKEN }, opts).ok);
  t.is(authorize({ method: 'GET', host: HOST }, opts).status, 401);
  t.is(authorize({ method: 'GET', path: '/', host: HOST, queryToken: 'x' }, opts).status, 401);
});

test('the token in the query opens the page only: an API GET needs the header (a URL with a token is a leak)', (t) => {
  for (const path of ['/api/snapshot', '/api/events', '/api/subnet', '/api/flow-logs', '//', '/index.html']) {
    t.is(authorize({ method: 'GET', path, host: HOST, queryToken: TOKEN }, opts).status, 401, path);
    t.true(authorize({ method: 'GET', path, host: HOST, headerToken: TOKEN }, opts).ok, path);
  }
  t.is(authorize({ method: 'GET', host: HOST, queryToken: TOKEN }, opts).status, 401, 'no path: no query token');
});

test('POST: only the header counts (a cross-site form can put the token in a URL, not in a header)', (t) => {
  t.true(authorize({ method: 'POST', host: HOST, headerToken: TOKEN }, opts).ok);
  t.is(authorize({ method: 'POST', host: HOST, queryToken: TOKEN }, opts).status, 401);
  t.is(authorize({ method: 'POST', host: HOST }, opts).status, 401);
  t.is(authorize({ method: 'DELETE', host: HOST, queryToken: TOKEN }, opts).status, 401);
});

test('POST from another origin is 403 even with the token; from our own origin it passes', (t) => {
  t.true(authorize({ method: 'POST', host: HOST, origin: `http://${HOST}`, headerToken: TOKEN }, opts).ok);
  t.is(authorize({ method: 'POST', host: HOST, origin: 'http://evil.example', headerToken: TOKEN }, opts).status, 403);
});

test('read-only: every POST is 403 (with the right token), GETs still work', (t) => {
  const ro = { ...opts, readOnly: true };
  const v = authorize({ method: 'POST', host: HOST, headerToken: TOKEN }, ro);
  t.is(v.status, 403);
  t.regex(v.reason!, /read-only/);
  t.true(authorize({ method: 'GET', path: '/', host: HOST, queryToken: TOKEN }, ro).ok);
  // Without the token it is still 401 first: read-only says nothing to a stranger.
  t.is(authorize({ method: 'POST', host: HOST }, ro).status, 401);
});

test('Host header: address literals and localhost on our port; names (DNS rebinding) and other ports refused', (t) => {
  t.true(hostAllowed('127.0.0.1:7070', 7070));
  t.true(hostAllowed('localhost:7070', 7070));
  t.true(hostAllowed('LOCALHOST:7070', 7070));
  t.true(hostAllowed('[::1]:7070', 7070));
  t.true(hostAllowed('192.0.2.10:7070', 7070));
  t.false(hostAllowed('evil.example:7070', 7070));
  t.false(hostAllowed('127.0.0.1.nip.io:7070', 7070));
  t.false(hostAllowed('127.0.0.1:8080', 7070));
  t.false(hostAllowed('127.0.0.1', 7070));
  t.false(hostAllowed(undefined, 7070));
  t.false(hostAllowed('', 7070));
  t.is(authorize({ method: 'GET', path: '/', host: 'evil.example:7070', queryToken: TOKEN }, opts).status, 403);
});

test('Host header without a port: only on port 80, where a browser leaves the default port out', (t) => {
  t.true(hostAllowed('127.0.0.1', 80));
  t.true(hostAllowed('[::1]', 80));
  t.true(hostAllowed('localhost', 80));
  t.true(hostAllowed('127.0.0.1:80', 80));
  t.false(hostAllowed('127.0.0.1', 7070));
  t.false(hostAllowed('evil.example', 80));
  t.false(hostAllowed('localhost.', 80));
  t.false(hostAllowed('127.0.0.1:', 80));
  t.true(authorize({ method: 'GET', path: '/', host: '127.0.0.1', queryToken: TOKEN }, { ...opts, port: 80 }).ok);
});

test('--address: IP literals and localhost only (a name is a DNS query, and its URL the Host check refuses)', (t) => {
  for (const ok of ['127.0.0.1', '0.0.0.0', '::', '::1', '192.0.2.1', 'localhost', 'fe80::1']) t.is(addressProblem(ok), undefined, ok);
  for (const bad of ['127.1', '0', '2130706433', 'evil.example', 'localhost.', '127.0.0.1.nip.io', '[::1]', '127.0.0.1:80']) {
    t.regex(addressProblem(bad) ?? '', /is not an IP address/, bad);
  }
  t.is(addressProblem(' '), '--address is empty');
});

test('loopback and the printed URL', (t) => {
  t.true(isLoopback('127.0.0.1'));
  t.true(isLoopback('127.1.2.3'));
  t.true(isLoopback('::1'));
  t.true(isLoopback('localhost'));
  t.false(isLoopback('0.0.0.0'));
  t.false(isLoopback('192.0.2.1'));
  t.is(pageUrl('127.0.0.1', 7070, 'abc'), 'http://127.0.0.1:7070/?token=abc');
  t.is(pageUrl('0.0.0.0', 7070, 'abc'), 'http://127.0.0.1:7070/?token=abc');
  t.is(pageUrl('::1', 80, 'abc'), 'http://[::1]:80/?token=abc');
});
