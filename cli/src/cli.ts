// Entry point: declares commands, lazy-loads their implementation, and owns the ONE
// top-level error handler. Keep this module's imports tiny: `ukernel run` is benchmarked.
import { Command, CommanderError, Option } from 'commander';
import { ERROR_DETAILS_MAX, ERROR_MESSAGE_CHARS_MAX, EXIT_USAGE } from './constants.js';
import { ErrorCatalog, fileError, Interrupted, isSystemError, UkernelError } from './errors.js';
import { terminalText } from './console/sanitize.js';
import type { RawBuildOptions } from './commands/build.js';
import type { RawEnvAddOptions, RawEnvLockOptions, RawEnvShowOptions } from './commands/env.js';
import type { RawInitOptions } from './commands/init.js';
import type { RawInspectOptions } from './commands/inspect.js';
import type { RawLogsOptions } from './commands/logs.js';
import type { RawPackOptions } from './commands/pack.js';
import type { RawPerfOptions } from './commands/perf.js';
import type { RawTraceOptions } from './commands/trace.js';
import {
  checkWorkloadArgs,
  parseCmdline,
  parseMemory,
  parseDnsFlag,
  parseGatewayFlag,
  parseIpFlag,
  parseNet,
  parseOneOf,
  parsePath,
  parsePublish,
  parseTimeout,
  parseVcpu,
  VMMS,
  type RunFlags,
} from './commands/run-options.js';
import { ACCELS } from './vmm/accel.js';
import { errColors, writeErr, writeOut } from './ui.js';

import { VERSION } from './version.js';

export { VERSION };

/** Command implementations; each returns the process exit code. Injected in tests. */
export interface Actions {
  run(flags: RunFlags): Promise<number>;
  init(options: RawInitOptions): Promise<number>;
  build(options: RawBuildOptions): Promise<number>;
  envLock(options: RawEnvLockOptions): Promise<number>;
  envShow(options: RawEnvShowOptions): Promise<number>;
  envChange(verb: 'add' | 'remove', names: string[], options: RawEnvAddOptions): Promise<number>;
  pack(options: RawPackOptions): Promise<number>;
  inspect(image: string, options: RawInspectOptions): Promise<number>;
  logs(run: string | undefined, options: RawLogsOptions): Promise<number>;
  trace(run: string | undefined, file: string | undefined, options: RawTraceOptions): Promise<number>;
  perf(run: string | undefined, options: RawPerfOptions): Promise<number>;
}

const lazyActions: Actions = {
  run: async (options) => (await import('./commands/run.js')).run(options),
  init: async (options) => (await import('./commands/init.js')).init(options),
  build: async (options) => (await import('./commands/build.js')).build(options),
  envLock: async (options) => (await import('./commands/env.js')).envLock(options),
  envShow: async (options) => (await import('./commands/env.js')).envShow(options),
  envChange: async (verb, names, options) => (await import('./commands/env.js')).envChange(verb, names, options),
  pack: async (options) => (await import('./commands/pack.js')).pack(options),
  inspect: async (image, options) => (await import('./commands/inspect.js')).inspect(image, options),
  logs: async (run, options) => (await import('./commands/logs.js')).logs(run, options),
  trace: async (run, file, options) => (await import('./commands/trace.js')).trace(run, file, options),
  perf: async (run, options) => (await import('./commands/perf.js')).perf(run, options),
};

/** Arguments after the first `--` (workload arguments for `run`). */
function afterDashDash(argv: readonly string[]): string[] {
  const index = argv.indexOf('--');
  return index < 0 ? [] : argv.slice(index + 1);
}

/**
 * `trace [RUN] --export FORMAT FILE`: FILE is the operand right after the format, wherever the
 * option stands; the other operand (if any) is RUN.
 */
export function splitTraceOperands(
  argv: readonly string[],
  operands: readonly string[],
): { run: string | undefined; file: string | undefined } {
  const end = argv.indexOf('--');
  const args = end < 0 ? argv : argv.slice(0, end);
  let file: string | undefined;
  for (let i = args.length - 1; i >= 0 && file === undefined; i--) {
    const token = args[i]!;
    if (token === '--export') file = args[i + 2];
    else if (token.startsWith('--export=')) file = args[i + 1];
  }
  const rest = [...operands];
  const at = file === undefined ? -1 : rest.indexOf(file);
  if (at >= 0) rest.splice(at, 1);
  else file = undefined;
  if (rest.length > 1) {
    throw new UkernelError('Usage', `unexpected argument "${rest[1]}"`, {
      hint: 'ukernel trace [RUN] [--export chrome|perfetto FILE] [--json]',
    });
  }
  return { run: rest[0], file };
}

/** What every command's registration needs: its action, where the exit code goes, the raw argv. */
interface App {
  actions: Actions;
  setExitCode: (code: number) => void;
  argv: readonly string[];
}

export function createProgram(actions: Actions, setExitCode: (code: number) => void, argv: readonly string[] = []): Command {
  const program = new Command('ukernel')
    .description('Build, boot and inspect ukernel guests on QEMU microvm and Firecracker')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} }); // errors are printed by handleError
  const app: App = { actions, setExitCode, argv };
  registerInit(program, app);
  registerBuild(program, app);
  registerEnv(program, app);
  registerPack(program, app);
  registerInspect(program, app);
  registerRun(program, app);
  registerLogs(program, app);
  registerTrace(program, app);
  registerPerf(program, app);
  return program;
}

function registerInit(program: Command, app: App): void {
  program
    .command('init')
    .description(
      'create a project in the current directory: ukernel.toml, src/main.zig (or src/main.py), env/ukernel.env, .gitignore',
    )
    .option('--name <name>', 'project name: a-z, 0-9 and "-", 1..63 (default: the directory name)')
    .option(
      '--lang <language>',
      'workload language: native (Zig) or python (CPython 3.13 in the Python adapter) (default native)',
    )
    .option(
      '--template <template>',
      'project template: worker (a task pipeline) or http (an HTTP server, native only) (default worker)',
    )
    .option('--force', 'overwrite existing files')
    .addHelpText(
      'after',
      '\nExamples:\n  mkdir hello && cd hello && ukernel init --name hello --lang native --template worker\n  mkdir pyw && cd pyw && ukernel init --name pyw --lang python --template worker\n',
    )
    .action(async (options: RawInitOptions) => app.setExitCode(await app.actions.init(options)));
}

function registerBuild(program: Command, app: App): void {
  program
    .command('build')
    .description('compile the workload with the pinned Zig and write build/bundle.tgz')
    .option('--release', 'optimize for speed (ReleaseFast) instead of ReleaseSafe')
    .option('--locked', 'refuse to build unless env/ukernel.lock exists and matches the environment (like cargo --locked)')
    .addHelpText(
      'after',
      '\nEnvironment: UKERNEL_ZIG (zig binary), UKERNEL_SDK (SDK directory), SOURCE_DATE_EPOCH,\n' +
        '  CI=true (a stale env/ukernel.lock is an error, as with --locked; docs/environments.md)\n',
    )
    .action(async (options: RawBuildOptions) => app.setExitCode(await app.actions.build(options)));
}

function registerEnv(program: Command, app: App): void {
  const env = program
    .command('env')
    .description("the project's pinned environment: env/ukernel.lock (lock, show, add, remove)")
    .addHelpText(
      'after',
      '\nExamples:\n  ukernel env lock            # Locked environment: env/ukernel.lock\n' +
        '  ukernel env lock --check    # for CI: exit 2 naming what drifted\n  ukernel env show\n' +
        '  ukernel env add requests==2.32.3   # a Python project: resolve, pin in the lock\n' +
        '  ukernel env add -r requirements.txt\n  ukernel env remove requests\n' +
        '\nEnvironment: UKERNEL_PIP_PYTHON (the python pip runs under), HTTPS_PROXY, XDG_CACHE_HOME (the wheel cache)\n',
    );
  env
    .command('lock')
    .description('write env/ukernel.lock: the ukernel CLI, kernel, ABI, toolchain and adapter, pinned by version and sha256')
    .option('--check', 'write nothing; fail (naming each drifted entry) unless env/ukernel.lock matches the environment')
    .option('--json', 'print one JSON object')
    .action(async (options: RawEnvLockOptions) => app.setExitCode(await app.actions.envLock(options)));
  env
    .command('show')
    .description('show the base, adapter, toolchain, kernel, dependencies (asked and resolved) and whether the lock is current')
    .option('--json', 'print one JSON object')
    .action(async (options: RawEnvShowOptions) => app.setExitCode(await app.actions.envShow(options)));
  env
    .command('add')
    .description(
      'add Python packages (PKG[==VERSION]) to ukernel.toml [env] packages: resolved with pip (pure-Python wheels for Python 3.13), pinned in env/ukernel.lock; with --system, system libraries (openssl, sqlite) built into the adapter',
    )
    .argument('[packages...]', 'PKG[==VERSION] … (with --system: NAME …)')
    .option(
      '--system',
      'the names are system libraries of the catalog (openssl, sqlite), built into the Python adapter from pinned Debian sources',
    )
    .option('-r, --requirements <file>', 'the packages of a requirements file (NAME or NAME==VERSION a line)')
    .option('--json', 'print one JSON object')
    .action(async (names: string[], options: RawEnvAddOptions) =>
      app.setExitCode(await app.actions.envChange('add', names, options)),
    );
  env
    .command('remove')
    .description('remove Python packages (or, with --system, system libraries) from ukernel.toml [env] and lock what remains')
    .argument('[packages...]', 'PKG … (with --system: NAME …)')
    .option('--system', 'the names are system libraries ([env] system)')
    .option('--json', 'print one JSON object')
    .action(async (names: string[], options: RawEnvAddOptions) =>
      app.setExitCode(await app.actions.envChange('remove', names, options)),
    );
}

function registerPack(program: Command, app: App): void {
  program
    .command('pack')
    .description('make the bootable image from build/bundle.tgz, the kernel and a manifest')
    .option('--image <path>', 'image to write (default dist/NAME.img)')
    .option('--readonly', 'mark the image read-only: VMMs attach it read-only')
    .addHelpText('after', '\nEnvironment: UKERNEL_KERNEL (kernel ELF), SOURCE_DATE_EPOCH\n')
    .action(async (options: RawPackOptions) => app.setExitCode(await app.actions.pack(options)));
}

function registerInspect(program: Command, app: App): void {
  program
    .command('inspect')
    .description('verify an image and show its ABI, adapter, entry, sections, files and lock')
    .argument('<image>', 'image file (e.g. dist/NAME.img)')
    .option('--json', 'print one JSON object')
    .action(async (image: string, options: RawInspectOptions) => app.setExitCode(await app.actions.inspect(image, options)));
}

function registerRun(program: Command, app: App): void {
  program
    .command('run')
    .description('boot the project (built and packed when changed), an image or a kernel; exit with the guest status')
    .argument('[workload-args...]', 'arguments for the workload, after --')
    .addOption(new Option('--image <path>', "boot this image instead of the project's").argParser(parsePath('--image')))
    .addOption(
      new Option('--kernel <elf>', 'boot a bare kernel ELF64 (no image)').argParser(parsePath('--kernel')).conflicts('image'),
    )
    .addOption(
      new Option('--accel <mode>', 'auto | kvm | tcg (env UKERNEL_ACCEL; default auto)').argParser(parseOneOf(ACCELS, '--accel')),
    )
    .addOption(
      new Option('--memory <mib>', 'guest memory in MiB, 16..3072 (default: ukernel.toml [run], else 128)').argParser(
        parseMemory,
      ),
    )
    .addOption(new Option('--vcpu <n>', 'number of vCPUs, 1..32 (default: ukernel.toml [run], else 1)').argParser(parseVcpu))
    .addOption(
      new Option(
        '--net <mode>',
        'none | user | tap:IFACE (default: ukernel.toml [run], else none; user with --publish)',
      ).argParser(parseNet),
    )
    .addOption(
      new Option(
        '-p, --publish <mapping>',
        '[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp], repeatable; host address 127.0.0.1 unless given; implies --net user',
      ).argParser(parsePublish),
    )
    .addOption(
      new Option('--ip <cidr>', 'static guest address A.B.C.D/PREFIX, or dhcp (required with tap)').argParser(parseIpFlag),
    )
    .addOption(new Option('--gateway <addr>', "guest's default gateway A.B.C.D (with a static --ip)").argParser(parseGatewayFlag))
    .addOption(new Option('--dns <addr>', "guest's DNS server A.B.C.D[:PORT]").argParser(parseDnsFlag))
    .option('--release', 'build the workload with ReleaseFast when it needs building')
    .addOption(new Option('--vmm <name>', 'qemu | firecracker (default qemu)').argParser(parseOneOf(VMMS, '--vmm')))
    .addOption(new Option('--cmdline <args>', 'extra kernel command line arguments').argParser(parseCmdline))
    .addOption(
      new Option('--timeout <seconds>', 'stop the VM and fail after this many seconds (default none)').argParser(parseTimeout),
    )
    .option('--json', 'print one JSON report on stdout instead of the console')
    .option('--verbose', 'also print the guest boot phases')
    .addHelpText('after', RUN_EXAMPLES)
    .action(async (operands: string[], flags: RunFlags) => {
      const args = afterDashDash(app.argv);
      if (operands.length !== args.length) {
        throw new UkernelError('Usage', `unexpected argument "${operands[0]}": workload arguments go after --`, {
          hint: 'Example: ukernel run -- one two',
        });
      }
      app.setExitCode(await app.actions.run({ ...flags, args: checkWorkloadArgs(args, flags.cmdline ?? '') }));
    });
}

const RUN_EXAMPLES =
  '\nExamples:\n  ukernel run                       # in a project: build, pack, boot\n' +
  '  ukernel run -- one two            # workload arguments after --\n' +
  '  ukernel run --image dist/demo.img --vmm firecracker\n' +
  '  ukernel run -p 8080:80            # user networking: host 127.0.0.1:8080 → guest port 80\n' +
  '  ukernel run --net tap:tap0 --ip 172.16.0.2/30 --gateway 172.16.0.1\n' +
  '  ukernel run --kernel kernel/zig-out/bin/ukernel.elf --accel tcg --json\n' +
  '\nEnvironment: UKERNEL_ACCEL, UKERNEL_QEMU, UKERNEL_FIRECRACKER, XDG_CACHE_HOME (kernel cache)\n';

function registerLogs(program: Command, app: App): void {
  program
    .command('logs')
    .description('show the console log and log records of the last started run (or RUN), sanitized like the live console')
    .argument('[run]', 'a run from --list (its name or a unique prefix)')
    .option('-f, --follow', 'keep printing console and log records while the run goes on (until it is over)')
    .option('--list', 'list the recorded runs: running, finished or killed, and their status (with --json: one JSON object)')
    .option('--raw', 'also show the @uk: records')
    .option('--vmm', "show the VMM's own log for the run instead (Firecracker's; QEMU's messages go to stderr)")
    .option('--level <level>', 'log records at this level or above: debug | info | warn | error (console text counts as info)')
    .option('--json', 'one JSON object per line')
    .addHelpText(
      'after',
      "\nLog records (ukernel.log.*) come from the run's events device, in guest time order: +12.345ms info  [task 0] message key=value\n",
    )
    .action(async (run: string | undefined, options: RawLogsOptions) => app.setExitCode(await app.actions.logs(run, options)));
}

function registerTrace(program: Command, app: App): void {
  program
    .command('trace')
    .usage('[RUN] [--export chrome|perfetto FILE] [--json]')
    .description('summarize the spans and events of the last run (or RUN), or export them for Perfetto / chrome://tracing')
    .argument('[run-and-file...]', 'RUN (a run from `logs --list`), and with --export the FILE to write')
    .option('--export <format>', 'chrome | perfetto: write FILE as Chrome Trace Event Format JSON (Perfetto loads it too)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  ukernel trace                          # per span name: count, total, p50, p90, p99, max; events\n' +
        '  ukernel trace --export perfetto trace.json   # then open it in https://ui.perfetto.dev\n',
    )
    .action(async (operands: string[], options: RawTraceOptions) => {
      const { run, file } = splitTraceOperands(app.argv, operands);
      app.setExitCode(await app.actions.trace(run, file, options));
    });
}

function registerPerf(program: Command, app: App): void {
  program
    .command('perf')
    .description('cold-start breakdown of the last run (or RUN) and span latency percentiles')
    .argument('[run]', 'a run from `logs --list` (its name or a unique prefix)')
    .option('--json', 'print one JSON object')
    .action(async (run: string | undefined, options: RawPerfOptions) => app.setExitCode(await app.actions.perf(run, options)));
}

/** Runs the CLI and resolves to the exit code; never throws. */
export async function main(argv: readonly string[] = process.argv, actions: Actions = lazyActions): Promise<number> {
  let exitCode = 0;
  const program = createProgram(actions, (code) => (exitCode = code), argv);
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
    const conflict = err.code === 'commander.conflictingOption';
    const hint = conflict ? 'The two options exclude each other: pass only one (see `ukernel <command> --help`).' : undefined;
    // Commander's own text, on one line ("unknown command 'x'\n(Did you mean y?)").
    const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    err = new UkernelError('Usage', message, hint === undefined ? {} : { hint });
  }
  if (err instanceof Interrupted) {
    if (!json) writeErr(errColors().yellow(`ukernel: ${err.message}; ${err.stopped}`));
    return err.exitCode;
  }
  // A file operation no command caught (EISDIR, EROFS, ENOSPC, …) is the environment, not a bug.
  if (isSystemError(err)) {
    const reading = ['open', 'read', 'stat', 'lstat', 'fstat', 'scandir', 'readlink', 'access'].includes(err.syscall);
    err = fileError(err, { op: reading ? 'read' : 'write', display: err.path ?? 'a file' });
  }
  if (err instanceof UkernelError) {
    // Sanitized and cut: messages quote project files, paths and VMM output.
    const shown = err.shown();
    if (json) {
      writeOut(JSON.stringify(err.toJSON()));
    } else {
      const c = errColors();
      writeErr(`${c.red(c.bold(`error ${shown.code}:`))} ${shown.message}`);
      for (const line of shown.details) writeErr(c.dim(`  ${line}`));
      writeErr(`${c.cyan('hint:')} ${shown.hint}`);
    }
    return err.exitCode;
  }
  const internal = ErrorCatalog.Internal;
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  for (const line of stack.split('\n').slice(0, ERROR_DETAILS_MAX)) writeErr(terminalText(line, ERROR_MESSAGE_CHARS_MAX));
  writeErr(`ukernel ${VERSION}: internal error, please report (${internal.code})`);
  if (json) {
    const message = terminalText(err instanceof Error ? err.message : String(err), ERROR_MESSAGE_CHARS_MAX);
    writeOut(JSON.stringify({ error: { code: internal.code, message, hint: internal.hint } }));
  }
  return internal.exitCode;
}
