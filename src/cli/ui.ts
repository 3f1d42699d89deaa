/**
 * `vpcctl ui`: the live dashboard (src/ui/). Serves until Ctrl-C (or
 * SIGTERM), then closes its event streams and exits 0. The printed URL is
 * the only place the token appears.
 */
import { Option, type Command } from 'commander';
import { VpcctlError } from '../errors.js';
import type { Vpcctl } from '../api/vpcctl.js';
import { stateDirFrom } from '../state/store.js';
import { parsePort } from '../model/ports.js';
import { warn } from './output.js';
import { print } from './stdio.js';

export function registerUi(program: Command, api: (cmd: Command) => Vpcctl, localOnly: (cmd: Command, what: string) => void): void {
  program.command('ui').description('serve a live dashboard of the VPCs on a local web page (prints its URL with an access token)')
    .addOption(new Option('--port <port>', 'TCP port to listen on').default(7070).argParser(parsePort))
    .option('--address <addr>', 'IP address to listen on, or localhost (default 127.0.0.1; anything but loopback is reachable from elsewhere, with a warning)')
    .option('--read-only', 'show only: refuse every action (for demos)')
    .option('--open', "open the page in the browser of the user who ran sudo (xdg-open, as that user; never as root)")
    .action(async (o, cmd: Command) => {
      localOnly(cmd, 'ui');
      const { startUi } = await import('../ui/server.js');
      const { addressProblem, isLoopback } = await import('../ui/auth.js');
      const address: string = o.address ?? '127.0.0.1';
      const problem = addressProblem(address);
      if (problem) throw new VpcctlError('INVALID_INPUT', problem);
      const stateDir = stateDirFrom(cmd.optsWithGlobals<{ stateDir?: string }>().stateDir);
      const ui = await startUi({ api: api(cmd), stateDir, address, port: o.port, readOnly: !!o.readOnly });
      // Once it listens: an address that cannot be bound is one line of error, not a warning about it first.
      if (!isLoopback(address)) warn(`listening on ${address}: the dashboard is reachable from other machines (whoever has the token can change the VPCs)`);
      print(`vpcctl ui${o.readOnly ? ' (read-only)' : ''}: ${ui.url}`);
      if (o.open) {
        const { openInBrowser } = await import('./open-url.js');
        const why = openInBrowser(ui.url);
        print(why ? `browser ${why}: open that URL yourself (Ctrl-C stops)` : 'opened in your browser (Ctrl-C stops)');
      } else print('Ctrl-C stops');
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void ui.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
