/**
 * The dashboard as a library: `import { startUi } from 'vpcctl/ui'` serves
 * what `vpcctl ui` serves, for a Vpcctl of the caller's. Its own entry
 * point, so that `import 'vpcctl'` never loads the HTTP server and the page.
 */
export { startUi } from './server.js';
export type { UiOptions, UiServer } from './server.js';
