import test from 'ava';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Vpcctl } from '../../src/api/vpcctl.js';
import { Live, MAX_STREAMS, STALL_BYTES } from '../../src/ui/live.js';

/** An event stream's response as Live uses it: what it was sent, how much waits unread, whether it was cut. */
class FakeStream extends EventEmitter {
  writableLength = 0;
  written: string[] = [];
  destroyed = false;
  constructor(private readonly reads: boolean) { super(); }
  write(chunk: string): boolean {
    this.written.push(chunk);
    if (!this.reads) this.writableLength += chunk.length;
    return this.reads;
  }
  end(): void { this.emit('close'); }
  destroy(): void { this.destroyed = true; this.emit('close'); }
}

const live = () => new Live({} as Vpcctl, '/nonexistent', false);
const asRes = (s: FakeStream) => s as unknown as ServerResponse;

test('a stream that stops reading is cut once STALL_BYTES wait for it; one that reads keeps getting events', (t) => {
  const l = live();
  const stuck = new FakeStream(false);
  const reading = new FakeStream(true);
  l.attach(asRes(stuck));
  l.attach(asRes(reading));
  const big = { flow: 'x'.repeat(64 * 1024) };
  const rounds = Math.ceil(STALL_BYTES / (64 * 1024)) + 10;
  for (let i = 0; i < rounds; i++) l.broadcast('flow', big);
  t.true(stuck.destroyed, 'the stuck stream was cut');
  t.true(stuck.writableLength <= STALL_BYTES + 70 * 1024, `${stuck.writableLength} bytes queued at most one event past the limit`);
  t.false(reading.destroyed);
  t.is(reading.written.length, rounds);
  const before = stuck.written.length;
  l.broadcast('flow', big);
  t.is(stuck.written.length, before, 'nothing more is queued to a cut stream');
  l.close();
});

test('at most MAX_STREAMS event streams: then full, and room again when one closes', (t) => {
  const l = live();
  const streams = Array.from({ length: MAX_STREAMS }, () => new FakeStream(true));
  t.false(l.full);
  for (const s of streams) l.attach(asRes(s));
  t.true(l.full);
  streams[0]!.end();
  t.false(l.full);
  l.close();
});
