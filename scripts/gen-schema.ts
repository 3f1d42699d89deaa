/**
 * Writes topology.schema.json at the repo root from the zod schema, so editors
 * can validate topology files (`"$schema": "./topology.schema.json"`).
 * Run: npx tsx scripts/gen-schema.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { topologyJsonSchema } from '../src/model/schema.js';

const out = fileURLToPath(new URL('../topology.schema.json', import.meta.url));
writeFileSync(out, JSON.stringify(topologyJsonSchema(), null, 2) + '\n');
console.log(`wrote ${out}`);
