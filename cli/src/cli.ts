// Entry point: declares commands, lazy-loads their implementation, and owns the ONE
// top-level error handler. Keep this module's imports tiny: `ukernel run` is benchmarked.
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './constants.js';
import { ErrorCatalog, Interrupted, UkernelError } from './errors.js';
import type { RawRunOptions } from './commands/run-options.js';
import { errColors, writeErr, writeOut } from './ui.js';

declare const __UKERNEL_VERSION__: string | undefined;
export const VERSION = typeof __UKERNEL_VERSION__ === 'string' ? __UKERNEL_VERSION__ : '0.0.0-dev';

/** Command implementations; each returns the process exit code. Injected in tests. */
export interface Actions {
  run(options: RawRunOptions): Promise<number>;
}

const lazyActions: Actions = {
  run: async (options) => (await import('./commands/run.js')).run(options),
};

export function createProgram(actions: Actions, setExitCode: (code: number) => void): Command {
  const program = new Command('ukernel')
    .description('Build, boot and inspect ukernel guests on QEMU microvm and Firecracker')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} }); // errors are printed by handleError

  program
    .command('run')
    .description('boot a kernel in a microVM, stream its console, exit with the guest status')
    .option('--kernel <elf>', 'kernel ELF64 image to boot (required for now)')
    .option('--accel <mode>', 'auto | kvm | tcg (env UKERNEL_ACCEL; default auto)')
    .option('--memory <mib>', 'guest memory in MiB, 16..3072 (default 128)')
    .option('--vcpu <n>', 'number of vCPUs, 1..32 (default 1)')
    .option('--vmm <name>', 'qemu | firecracker (default qemu)')
    .option('--cmdline <args>', 'extra kernel command line arguments')
    .option('--timeout <seconds>', 'stop the VM and fail after this many seconds (default none)')
    .option('--json', 'print one JSON report on stdout instead of the console')
    .option('--verbose', 'also print the guest boot phases')
    .addHelpText(
      'after',
      '\nExamples:\n  ukernel run --kernel kernel/zig-out/bin/ukernel.elf\n  ukernel run --kernel k.elf --accel tcg --json\n' +
        '\nEnvironment: UKERNEL_ACCEL, UKERNEL_QEMU, UKERNEL_FIRECRACKER\n',
    )
    .action(async (options: RawRunOptions) => setExitCode(await actions.run(options)));

  return program;
}

/** Runs the CLI and resolves to the exit code; never throws. */
export async function main(argv: readonly string[] = process.argv, actions: Actions = lazyActions): Promise<number> {
  let exitCode = 0;
  const program = createProgram(actions, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (err) {
    return handleError(err, wantsJson(argv));
  }
}

/** `--json` anywhere before `--` (also for errors raised while parsing). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

export function handleError(err: unknown, json: boolean): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return 0; // --help, --version
    if (err.code === 'commander.help' || err.code === 'commander.helpDisplayed') return EXIT_USAGE;
    err = new UkernelError('Usage', err.message.replace(/^error: /, ''));
  }
  if (err instanceof Interrupted) {
    if (!json) writeErr(errColors().yellow(`ukernel: ${err.message}; VM stopped`));
    return err.exitCode;
  }
  if (err instanceof UkernelError) {
    if (json) {
      writeOut(JSON.stringify(err.toJSON()));
    } else {
      const c = errColors();
      writeErr(`${c.red(c.bold(`error ${err.code}:`))} ${err.message}`);
      for (const line of err.details) writeErr(c.dim(`  ${line}`));
      writeErr(`${c.cyan('hint:')} ${err.hint}`);
    }
    return err.exitCode;
  }
  const internal = ErrorCatalog.Internal;
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  writeErr(stack);
  writeErr(`ukernel ${VERSION}: internal error, please report (${internal.code})`);
  if (json) {
    const message = err instanceof Error ? err.message : String(err);
    writeOut(JSON.stringify({ error: { code: internal.code, message, hint: internal.hint } }));
  }
  return internal.exitCode;
}
