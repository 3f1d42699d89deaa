// Writes dist/man/vpcctl.1 from the built command definitions (src/cli/manpage.ts):
// the man page comes from the same source as --help and the completion scripts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { buildProgram } from '../dist/cli/main.js';
import { manPage } from '../dist/cli/manpage.js';
import { version } from '../dist/cli/version.js';

mkdirSync('dist/man', { recursive: true });
// The date of the build's sources, not of the machine, so two builds of one commit give one page.
const date = process.env.SOURCE_DATE_EPOCH ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString().slice(0, 10) : undefined;
writeFileSync('dist/man/vpcctl.1', manPage(buildProgram(), version(), date));
