/**
 * `vpcctl ui`'s HTTP server: Node's http module, bound to loopback unless
 * asked otherwise. Every request is authorized first (auth.ts: token, Host
 * header, POST only with the token in a header, read-only mode), then routed
 * to the page, the event stream (live.ts) or one library call (routes.ts).
 * The page is one in-memory document (page.ts): no URL ever names a file.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { VpcctlError } from '../errors.js';
import type { Vpcctl } from '../api/vpcctl.js';
import { authorize, headerToken, newToken, pageUrl } from './auth.js';
import { Live, MAX_STREAMS } from './live.js';
import { pageDocument } from './page.js';
import { actions, statusOf, subnetPanel } from './routes.js';

/** A pasted policy may be up to 1 MiB (the CLI's limit for a policy file), in a JSON string. */
export const BODY_LIMIT = 2 * 1024 * 1024;

export interface UiOptions {
  api: Vpcctl;
  stateDir: string;
  address?: string;
  port?: number;
  readOnly?: boolean;
  /** Fixed token (tests); default: 32 fresh random bytes. */
  token?: string;
}

export interface UiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const BASE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

class TooLarge extends Error {}

/**
 * The request target as a URL, or undefined for anything but a path (origin
 * form). We are no proxy: an absolute-form target (`GET http://evil.example/`)
 * names a host the Host check never saw (RFC 9112 says it overrides Host),
 * and `//name/path` must stay a path, not become a URL naming `name`.
 */
function parseTarget(target: string | undefined): URL | undefined {
  if (!target?.startsWith('/')) return undefined;
  try {
    return new URL(`http://x${target}`);
  } catch {
    return undefined;
  }
}

/** The request's body, refused past `limit` bytes (413) without reading the rest. */
function readBody(req: IncomingMessage, limit = BODY_LIMIT): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new TooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startUi(opts: UiOptions): Promise<UiServer> {
  const address = opts.address ?? '127.0.0.1';
  const token = opts.token ?? newToken();
  const readOnly = !!opts.readOnly;
  const page = pageDocument();
  const live = new Live(opts.api, opts.stateDir, readOnly);
  const post = actions(opts.api);
  let port = opts.port ?? 7070;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A target that is not a path, or that URL cannot parse, is the client's fault: 400 (it was a 500).
    const url = parseTarget(req.url);
    if (!url) return json(res, 400, { error: 'bad request target' });
    const verdict = authorize({
      method: req.method ?? 'GET',
      path: url.pathname,
      host: req.headers.host,
      origin: req.headers.origin,
      queryToken: url.searchParams.get('token'),
      headerToken: headerToken(req.headers),
    }, { token, port, readOnly });
    if (!verdict.ok) return json(res, verdict.status!, { error: verdict.reason });

    if (req.method === 'GET' || req.method === 'HEAD') {
      switch (url.pathname) {
        case '/':
          res.writeHead(200, { ...BASE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': page.csp });
          return void res.end(req.method === 'HEAD' ? undefined : page.html);
        case '/api/events':
          if (live.full) return json(res, 503, { error: `too many event streams open (${MAX_STREAMS}): close some pages` });
          res.writeHead(200, { ...BASE_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
          // A HEAD has no body to stream into: it must not hold a stream's place.
          if (req.method === 'HEAD') return void res.end();
          res.write(': vpcctl\n\n');
          return live.attach(res);
        case '/api/snapshot':
          return json(res, 200, live.current ?? null);
        case '/api/subnet':
          return json(res, 200, await subnetPanel(opts.api, url.searchParams));
        case '/api/flow-logs':
          return json(res, 200, (await opts.api.flowLogs({ vpc: url.searchParams.get('vpc') ?? '' })).slice(-200));
        default:
          return json(res, 404, { error: 'not found' });
      }
    }
    if (req.method !== 'POST') return json(res, 405, { error: 'method not allowed' });
    const action = post[url.pathname];
    if (!action) return json(res, 404, { error: 'not found' });
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return json(res, 415, { error: 'send JSON (Content-Type: application/json)' });
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse((await readBody(req)) || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return json(res, 400, { error: 'the body must be a JSON object' });
      body = parsed as Record<string, unknown>;
    } catch (e) {
      if (e instanceof TooLarge) {
        res.setHeader('connection', 'close');
        return json(res, 413, { error: `request body over ${BODY_LIMIT} bytes` });
      }
      return json(res, 400, { error: 'the body is not JSON' });
    }
    try {
      const result = await action(body);
      json(res, 200, result ?? {});
    } finally {
      // Starting an app or applying a policy changed the state: draw it at once (the poll would within 250 ms).
      if (url.pathname !== '/api/connectivity' && url.pathname !== '/api/matrix') void live.refresh();
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.end();
      json(res, statusOf(e), { error: (e as Error).message, code: (e as VpcctlError).code ?? 'INTERNAL' });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        // Someone else's: reported, never taken over.
        reject(new Error(`port ${port} on ${address} is already in use by another program: choose another with --port`));
      } else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
        reject(new VpcctlError('INVALID_INPUT', `address ${address} is not an address of this host: use --address with one of its addresses`));
      } else if (e.code === 'EINVAL') {
        // The kernel's answer for an address no socket can take, e.g. a link-local one without its interface (fe80::1).
        reject(new VpcctlError('INVALID_INPUT', `address ${address} cannot be listened on: use --address with one of this host's addresses`));
      } else reject(e);
    });
    server.listen({ host: address, port, exclusive: true }, () => resolve());
  });
  const bound = server.address();
  if (bound && typeof bound === 'object') port = bound.port;
  await live.start();

  return {
    url: pageUrl(address, port, token),
    port,
    close: () => new Promise<void>((resolve) => {
      live.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
