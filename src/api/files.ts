import { readFileSync } from 'node:fs';

/** A small file's text, or '' when it cannot be read (an app's log that is not there yet). */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
