import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

/** crates/netkit/tests/fixtures/<name>: golden files the TypeScript side writes and the Rust tests read. */
export const netkitFixture = (name: string) =>
  fileURLToPath(new URL(`../../crates/netkit/tests/fixtures/${name}`, import.meta.url));

/**
 * Compares a golden file with what the code produces now. The file is the
 * committed contract between the TypeScript and Rust sides, so a difference
 * fails; `UPDATE_FIXTURES=1` rewrites it instead (then review the diff and
 * run the Rust tests that read it).
 */
export function checkFixture(t: ExecutionContext, path: string, value: unknown): void {
  const text = `${JSON.stringify(value, null, 1)}\n`;
  if (process.env.UPDATE_FIXTURES === '1') {
    writeFileSync(path, text);
    t.pass();
    return;
  }
  let committed: string;
  try {
    committed = readFileSync(path, 'utf8');
  } catch {
    t.fail(`${path} is missing: run UPDATE_FIXTURES=1 npx ava test/unit to write it`);
    return;
  }
  t.deepEqual(JSON.parse(committed), JSON.parse(text),
    `${path} is not what the code makes now: if the change is meant, run UPDATE_FIXTURES=1 npx ava test/unit and the Rust tests`);
}
