// Error catalog (Astro-style): every error the CLI reports on purpose has a stable
// code, a title, a default hint and an exit code. Codes never change meaning.
//   UK1xx  bad input, usage or host environment  → exit 2
//   UK2xx  the VM/VMM did not behave              → exit 124 (timeouts) / 125
//   UK9xx  internal                                → exit 125
import { dirname } from 'node:path';
import {
  ERROR_DETAIL_CHARS_MAX,
  ERROR_DETAILS_MAX,
  ERROR_MESSAGE_CHARS_MAX,
  EXIT_TIMEOUT,
  EXIT_USAGE,
  EXIT_VMM,
} from './constants.js';
import { terminalText } from './console/sanitize.js';

export interface ErrorData {
  code: string;
  title: string;
  hint: string;
  exitCode: number;
}

export const ErrorCatalog = {
  Usage: {
    code: 'UK100',
    title: 'Invalid command line',
    hint: 'Run `ukernel --help` or `ukernel <command> --help`.',
    exitCode: EXIT_USAGE,
  },
  InvalidOption: {
    code: 'UK101',
    title: 'Invalid option value',
    hint: 'Run `ukernel run --help` for the accepted values.',
    exitCode: EXIT_USAGE,
  },
  KernelNotFound: {
    code: 'UK102',
    title: 'Kernel file not found',
    hint: 'Build the kernel first, or pass the path of an existing kernel ELF to --kernel.',
    exitCode: EXIT_USAGE,
  },
  KernelUnreadable: {
    code: 'UK103',
    title: 'Kernel file not readable',
    hint: 'Check the file permissions and that --kernel points at a regular file.',
    exitCode: EXIT_USAGE,
  },
  KernelNotElf64: {
    code: 'UK104',
    title: 'Kernel is not an x86-64 ELF64 image',
    hint: 'Pass the kernel ELF produced by the kernel build, not a bzImage, raw binary or 32-bit ELF.',
    exitCode: EXIT_USAGE,
  },
  KvmUnavailable: {
    code: 'UK105',
    title: 'KVM is not usable',
    hint: 'Check `ls -l /dev/kvm` and that your user is in the `kvm` group, or use `--accel tcg` (QEMU only).',
    exitCode: EXIT_USAGE,
  },
  QemuNotFound: {
    code: 'UK106',
    title: 'QEMU not found',
    hint: 'sudo apt-get install qemu-system-x86 (or run scripts/bootstrap.sh); set UKERNEL_QEMU to use another binary.',
    exitCode: EXIT_USAGE,
  },
  FirecrackerNotFound: {
    code: 'UK107',
    title: 'Firecracker not found',
    hint: 'Install Firecracker >= 1.12 (or set UKERNEL_FIRECRACKER), or use `--vmm qemu`.',
    exitCode: EXIT_USAGE,
  },
  FirecrackerNeedsKvm: {
    code: 'UK108',
    title: 'Firecracker requires KVM',
    hint: 'Drop `--accel tcg`, or use `--vmm qemu --accel tcg`.',
    exitCode: EXIT_USAGE,
  },
  OutputUnwritable: {
    code: 'UK109',
    title: 'Cannot write run output',
    hint: 'Run ukernel from a writable directory (it writes logs/ and build/ under the current directory).',
    exitCode: EXIT_USAGE,
  },
  ProjectNotFound: {
    code: 'UK110',
    title: 'No ukernel.toml here',
    hint: 'Run `ukernel init --name NAME` to create a project, or cd into one.',
    exitCode: EXIT_USAGE,
  },
  ConfigSyntax: {
    code: 'UK111',
    title: 'ukernel.toml is not valid TOML',
    hint: 'Fix the syntax at the position shown (TOML reference: https://toml.io/en/v1.0.0).',
    exitCode: EXIT_USAGE,
  },
  ConfigInvalid: {
    code: 'UK112',
    title: 'ukernel.toml has an invalid or unknown key',
    hint: 'See the README (ukernel.toml) or schema/ukernel.schema.json for the keys and values.',
    exitCode: EXIT_USAGE,
  },
  InitConflict: {
    code: 'UK113',
    title: 'ukernel init would overwrite files',
    hint: 'Run it in an empty directory, or pass --force to overwrite.',
    exitCode: EXIT_USAGE,
  },
  TemplateUnknown: {
    code: 'UK114',
    title: 'No such language or template',
    hint: 'Use `--lang native --template worker|http` or `--lang python --template worker`.',
    exitCode: EXIT_USAGE,
  },
  EntryNotFound: {
    code: 'UK115',
    title: 'Workload entry file not found',
    hint: 'Create it, or point [project] entry in ukernel.toml at the workload source.',
    exitCode: EXIT_USAGE,
  },
  ToolchainMissing: {
    code: 'UK116',
    title: 'Pinned Zig not found',
    hint: 'Run `bash scripts/bootstrap.sh` in the ukernel checkout, or set UKERNEL_ZIG to a zig of the pinned version.',
    exitCode: EXIT_USAGE,
  },
  SdkNotFound: {
    code: 'UK117',
    title: 'ukernel Zig SDK not found',
    hint: 'The SDK is sdk/zig (start.zig and ukernel.zig) in the ukernel checkout; set UKERNEL_SDK to another SDK directory.',
    exitCode: EXIT_USAGE,
  },
  BuildFailed: {
    code: 'UK118',
    title: 'Workload build failed',
    hint: 'Fix the compiler errors shown above, then run `ukernel build` again.',
    exitCode: EXIT_USAGE,
  },
  WorkloadInvalid: {
    code: 'UK119',
    title: 'Workload binary is not a static x86-64 PIE',
    hint: 'The workload must be built by `ukernel build` (ELF64, x86-64, ET_DYN, with an entry point).',
    exitCode: EXIT_USAGE,
  },
  BundleInvalid: {
    code: 'UK120',
    title: 'Workload bundle missing or invalid',
    hint: 'Run `ukernel build` to (re)create build/bundle.tgz.',
    exitCode: EXIT_USAGE,
  },
  LockInvalid: {
    code: 'UK121',
    title: 'env/ukernel.lock is not a valid lock',
    hint: 'Regenerate it with `ukernel env lock` (docs/environments.md), or delete env/ukernel.lock to build without one.',
    exitCode: EXIT_USAGE,
  },
  ImageTooLarge: {
    code: 'UK122',
    title: 'Image larger than 1 GiB',
    hint: 'Shrink the workload bundle; images are limited to 1 GiB (docs/image-format.md).',
    exitCode: EXIT_USAGE,
  },
  ImageNotFound: {
    code: 'UK123',
    title: 'Image not found',
    hint: 'Create it with `ukernel pack`, or check the path.',
    exitCode: EXIT_USAGE,
  },
  ImageForeign: {
    code: 'UK124',
    title: 'Not a ukernel image',
    hint: 'Pass an image made by `ukernel pack` (it starts with the magic "UKIMAGE").',
    exitCode: EXIT_USAGE,
  },
  ImageCorrupt: {
    code: 'UK125',
    title: 'Image is corrupt or truncated',
    hint: 'Rebuild it with `ukernel pack`.',
    exitCode: EXIT_USAGE,
  },
  ImageIncompatible: {
    code: 'UK126',
    title: 'Image needs a different ukernel',
    hint: 'Rebuild the image with this ukernel (`ukernel build && ukernel pack`), or use the ukernel it was made for.',
    exitCode: EXIT_USAGE,
  },
  NetworkUnavailable: {
    code: 'UK127',
    title: 'This network mode is not available here',
    hint: 'Firecracker has only tap networking: use `--net tap:IFACE --ip A.B.C.D/N`, or `--vmm qemu` for `--net user`.',
    exitCode: EXIT_USAGE,
  },
  PublishInvalid: {
    code: 'UK129',
    title: 'Invalid port mapping',
    hint: 'Write [HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp] with ports in 1..65535 and an IPv4 host address, e.g. `--publish 8080:80` or `-p 127.0.0.1:5353:53/udp`.',
    exitCode: EXIT_USAGE,
  },
  AddressInvalid: {
    code: 'UK130',
    title: 'Invalid guest network address',
    hint: 'Write --ip as A.B.C.D/PREFIX (e.g. 172.16.0.2/30) or dhcp, --gateway as A.B.C.D inside that subnet, --dns as A.B.C.D[:PORT].',
    exitCode: EXIT_USAGE,
  },
  PortConflict: {
    code: 'UK131',
    title: 'Host port published twice',
    hint: 'Give each published host port (per protocol and address) once.',
    exitCode: EXIT_USAGE,
  },
  PortInUse: {
    code: 'UK132',
    title: 'Host port already in use',
    hint: 'Stop what holds it (`ss -ltnup` shows it), or publish another host port, e.g. `-p 8081:80`.',
    exitCode: EXIT_USAGE,
  },
  PortPrivileged: {
    code: 'UK133',
    title: 'Privileged host port',
    hint: 'Publish a host port at or above net.ipv4.ip_unprivileged_port_start (usually 1024), e.g. `-p 8080:80`, or run as root.',
    exitCode: EXIT_USAGE,
  },
  TapNotFound: {
    code: 'UK134',
    title: 'Tap interface not found',
    hint: 'Create it first: `sudo ip tuntap add dev IFACE mode tap user $USER && sudo ip link set IFACE up` (docs/networking.md).',
    exitCode: EXIT_USAGE,
  },
  TapInvalid: {
    code: 'UK135',
    title: 'Not a tap interface',
    hint: 'Name a TAP device (`ip tuntap add dev IFACE mode tap`), not a TUN device, bridge, veth or physical NIC.',
    exitCode: EXIT_USAGE,
  },
  TapBusy: {
    code: 'UK136',
    title: 'Tap interface busy',
    hint: 'Another VM or program holds the interface: stop it, or create another tap for this run.',
    exitCode: EXIT_USAGE,
  },
  TapNotPermitted: {
    code: 'UK137',
    title: 'Not permitted to use the tap interface',
    hint: 'Create the tap for your user (`sudo ip tuntap add dev IFACE mode tap user $USER`) and check that /dev/net/tun is read-write for you, or run as root.',
    exitCode: EXIT_USAGE,
  },
  AddressMissing: {
    code: 'UK138',
    title: 'Tap networking needs a guest address',
    hint: 'A tap has no DHCP server unless you run one: give `--ip A.B.C.D/PREFIX` (and `--gateway`), or [run] ip in ukernel.toml; `--ip dhcp` if your network serves DHCP.',
    exitCode: EXIT_USAGE,
  },
  PublishNeedsUserNet: {
    code: 'UK139',
    title: 'Port publishing needs user networking',
    hint: 'Publishing is done by QEMU user networking: use `--net user` (or drop --net); on a tap the guest is reached at its own address.',
    exitCode: EXIT_USAGE,
  },
  HostAddressUnavailable: {
    code: 'UK141',
    title: 'Host address not on this machine',
    hint: 'Publish on 127.0.0.1 (the default), 0.0.0.0 (every address), or an address of this host (`ip -4 addr`).',
    exitCode: EXIT_USAGE,
  },
  CmdlineTooLong: {
    code: 'UK140',
    title: 'Kernel command line too long',
    hint: 'Pass fewer or shorter workload arguments or --cmdline tokens.',
    exitCode: EXIT_USAGE,
  },
  RunLogNotFound: {
    code: 'UK128',
    title: 'No such run log',
    hint: 'Run `ukernel logs --list` to see the recorded runs.',
    exitCode: EXIT_USAGE,
  },
  // File-system failures (errno → code in fsutil.ts fsError): the real cause and what to do.
  PathIsDirectory: {
    code: 'UK150',
    title: 'A directory stands where a file belongs',
    hint: 'Remove or rename the directory, or point ukernel at a file.',
    exitCode: EXIT_USAGE,
  },
  PathNotDirectory: {
    code: 'UK151',
    title: 'A file stands where a directory belongs',
    hint: 'A part of the path is a file, not a directory: remove or rename that file.',
    exitCode: EXIT_USAGE,
  },
  PermissionDenied: {
    code: 'UK152',
    title: 'Permission denied',
    hint: 'Check the permissions of the file and its directory (ls -ld), or run ukernel as a user who may use them.',
    exitCode: EXIT_USAGE,
  },
  ReadOnlyFileSystem: {
    code: 'UK153',
    title: 'Read-only file system',
    hint: 'Copy the project to a writable place, or remount the file system read-write.',
    exitCode: EXIT_USAGE,
  },
  DiskFull: {
    code: 'UK154',
    title: 'No space left on the file system',
    hint: 'Free some space (df -h shows how much is left), then run the command again.',
    exitCode: EXIT_USAGE,
  },
  TooManyOpenFiles: {
    code: 'UK155',
    title: 'Too many open files',
    hint: 'Raise the open-file limit (ulimit -n) or close other programs, then run the command again.',
    exitCode: EXIT_USAGE,
  },
  DirectoryNotFound: {
    code: 'UK156',
    title: 'Directory does not exist',
    hint: 'Create the directory first (mkdir -p DIR), or choose a path in an existing directory.',
    exitCode: EXIT_USAGE,
  },
  FileUnreadable: {
    code: 'UK157',
    title: 'Cannot read a file',
    hint: 'Check that the path names a regular, readable file.',
    exitCode: EXIT_USAGE,
  },
  KernelNotPvh: {
    code: 'UK158',
    title: 'Kernel ELF has no PVH entry point',
    hint: 'Pass the kernel built by scripts/build-kernel.sh (kernel/zig-out/bin/ukernel.elf): it carries the Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY) that QEMU microvm and Firecracker boot.',
    exitCode: EXIT_USAGE,
  },
  PythonSyntax: {
    code: 'UK159',
    title: 'Python syntax error in the project',
    hint: 'Fix the line shown (file:line:column), then run `ukernel build` again.',
    exitCode: EXIT_USAGE,
  },
  AdapterBuildFailed: {
    code: 'UK160',
    title: 'The adapter runtime could not be built',
    hint: 'The lines above say which step failed (docs/python.md, "The adapter runtime"); fix it and run `ukernel build` again: finished steps are cached.',
    exitCode: EXIT_USAGE,
  },
  AdapterMissing: {
    code: 'UK161',
    title: 'The adapter runtime is incomplete',
    hint: 'Use a ukernel checkout with adapters/python (docs/python.md), or point UKERNEL_PYTHON_RUNTIME at a built runtime directory.',
    exitCode: EXIT_USAGE,
  },
  PythonTestsMissing: {
    code: 'UK162',
    title: "A Python test package named in ukernel.toml is not in the runtime's standard library",
    hint: 'Name packages, modules or data directories under Lib/test of CPython 3.13 in [build] python_stdlib_tests (e.g. "test.support", "test.test_math", "test.mathdata"), or remove the key.',
    exitCode: EXIT_USAGE,
  },
  LockStale: {
    code: 'UK170',
    title: 'env/ukernel.lock does not match the environment',
    hint: 'Run `ukernel env lock` to lock what the project uses now (and commit env/ukernel.lock), or restore what drifted.',
    exitCode: EXIT_USAGE,
  },
  LockMissing: {
    code: 'UK171',
    title: 'No env/ukernel.lock (a locked build needs one)',
    hint: 'Run `ukernel env lock` and commit env/ukernel.lock, or build without --locked.',
    exitCode: EXIT_USAGE,
  },
  LockFormatNewer: {
    code: 'UK172',
    title: 'env/ukernel.lock is from a newer ukernel',
    hint: "Use the ukernel that wrote the lock (or a newer one), or run `ukernel env lock` to rewrite it in this ukernel's format.",
    exitCode: EXIT_USAGE,
  },
  EnvUnsupported: {
    code: 'UK173',
    title: 'This environment change is not available',
    hint: 'See docs/environments.md for what a project of this language can lock.',
    exitCode: EXIT_USAGE,
  },
  PackageNotFound: {
    code: 'UK174',
    title: 'No such Python package or version on PyPI',
    hint: 'Check the name and version on https://pypi.org (`ukernel env add NAME` takes the newest), then run the command again.',
    exitCode: EXIT_USAGE,
  },
  PackageNotPure: {
    code: 'UK175',
    title: 'A Python package needs compiled extensions',
    hint: 'The guest loads no extension modules: use a pure-Python package (a py3-none-any wheel) instead (docs/environments.md).',
    exitCode: EXIT_USAGE,
  },
  PackageFetchFailed: {
    code: 'UK176',
    title: 'Resolving or downloading Python packages failed',
    hint: 'Check the network (https://pypi.org and https://files.pythonhosted.org must be reachable) and run the command again; ukernel.toml and env/ukernel.lock are unchanged.',
    exitCode: EXIT_USAGE,
  },
  WheelHashMismatch: {
    code: 'UK177',
    title: 'A wheel does not have the sha256 env/ukernel.lock pins',
    hint: 'If env/ukernel.lock was edited by hand, restore it (git checkout env/ukernel.lock) or run `ukernel env lock` after removing the entry from [env] packages and adding it again.',
    exitCode: EXIT_USAGE,
  },
  SystemUnknown: {
    code: 'UK178',
    title: 'No such system library in the catalog',
    hint: 'Name one of the catalog (`ukernel env add --system NAME`; docs/environments.md, "System libraries").',
    exitCode: EXIT_USAGE,
  },
  VmmSpawnFailed: {
    code: 'UK200',
    title: 'VMM failed to start',
    hint: 'Check that the VMM binary runs: try it with --version.',
    exitCode: EXIT_VMM,
  },
  VmmFailed: {
    code: 'UK201',
    title: 'VMM failed',
    hint: 'See the VMM output above and the guest console in logs/console.log.',
    exitCode: EXIT_VMM,
  },
  GuestNoStatus: {
    code: 'UK202',
    title: 'Guest stopped without reporting a status',
    hint: 'The guest reset or triple-faulted before printing `@uk:exit`; see logs/console.log.',
    exitCode: EXIT_VMM,
  },
  BootTimeout: {
    code: 'UK203',
    title: 'Kernel did not report boot in time',
    hint: 'The kernel must print `@uk:boot` first thing after entry; see logs/console.log for what it did print.',
    exitCode: EXIT_TIMEOUT,
  },
  RunTimeout: {
    code: 'UK204',
    title: 'Run exceeded --timeout',
    hint: 'Raise --timeout, or see logs/console.log for where the guest got stuck.',
    exitCode: EXIT_TIMEOUT,
  },
  WorkloadNotStarted: {
    code: 'UK205',
    title: 'The workload never started',
    hint: "The kernel booted but did not start the image's workload; see the console above and `ukernel logs`.",
    exitCode: EXIT_VMM,
  },
  EventsWriteFailed: {
    code: 'UK206',
    title: 'The guest could not write its events device',
    hint: 'Free space on the disk holding logs/ (or check it for I/O errors), then run again.',
    exitCode: EXIT_VMM,
  },
  Internal: {
    code: 'UK900',
    title: 'Internal error',
    hint: 'This is a bug in ukernel; please report it with the output above.',
    exitCode: EXIT_VMM,
  },
} as const satisfies Record<string, ErrorData>;

export type ErrorName = keyof typeof ErrorCatalog;

/** An expected failure: what went wrong and where (message), how to fix it (hint). */
export class UkernelError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly exitCode: number;
  /** Extra lines shown after the message (e.g. the VMM's stderr tail). */
  readonly details: readonly string[];

  constructor(name: ErrorName, message: string, options: { hint?: string; details?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const data: ErrorData = ErrorCatalog[name];
    this.name = 'UkernelError';
    this.code = data.code;
    this.hint = options.hint ?? data.hint;
    this.exitCode = data.exitCode;
    this.details = options.details ?? [];
  }

  /** Whether this is the catalog's error `name` (match by symbol, never by a 'UK…' string). */
  is(name: ErrorName): boolean {
    return this.code === ErrorCatalog[name].code;
  }

  /**
   * The error as it may be shown: message, hint and detail lines sanitized like guest output
   * (they can quote project files, paths and VMM output) and cut to ERROR_*_MAX.
   */
  shown(): { code: string; message: string; hint: string; details: string[] } {
    const details = this.details.slice(0, ERROR_DETAILS_MAX).map((line) => terminalText(line, ERROR_DETAIL_CHARS_MAX));
    const more = this.details.length - details.length;
    if (more > 0) details.push(`… ${more} more line(s)`);
    return {
      code: this.code,
      message: terminalText(this.message, ERROR_MESSAGE_CHARS_MAX),
      hint: terminalText(this.hint, ERROR_MESSAGE_CHARS_MAX),
      details,
    };
  }

  toJSON(): { error: { code: string; message: string; hint: string; details?: string[] } } {
    const { details, ...error } = this.shown();
    return { error: details.length > 0 ? { ...error, details } : error };
  }
}

/** Whether `err` is a UkernelError (of the catalog's `name` when given). */
export function isUkernelError(err: unknown, name?: ErrorName): err is UkernelError {
  return err instanceof UkernelError && (name === undefined || err.is(name));
}

/**
 * The command was stopped by SIGINT/SIGTERM after cleaning up (the VM stopped, or the build's
 * compiler stopped and its temp files removed). Not an error. `stopped` says what was stopped.
 */
export class Interrupted extends Error {
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM',
    readonly exitCode: number,
    readonly stopped: string = 'VM stopped',
  ) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

// ---- errno → catalog: the ONE place that turns a failed file operation into an error ------

/** What was being done when a file operation failed, for fileError. */
export interface FileErrorContext {
  /** The operation, as a verb: "read", "write", "create", "open". */
  op: string;
  /** The path as messages name it (relative to the cwd when below it). */
  display: string;
  /** Code for causes without one of their own; default FileUnreadable (read/open) or OutputUnwritable. */
  fallback?: ErrorName;
  /** Appended to the hint, e.g. which option or file chose the path. */
  hint?: string;
}

/** errno → [catalog entry, cause in words]. Sources: errno(3), open(2), rename(2), mkdir(2). */
const ERRNO_CAUSES: Readonly<Record<string, readonly [ErrorName, string]>> = {
  EISDIR: ['PathIsDirectory', 'it is a directory'],
  ENOTDIR: ['PathNotDirectory', 'a part of the path is a file, not a directory'],
  EACCES: ['PermissionDenied', 'permission denied'],
  EPERM: ['PermissionDenied', 'operation not permitted'],
  EROFS: ['ReadOnlyFileSystem', 'read-only file system'],
  ENOSPC: ['DiskFull', 'no space left on the device'],
  EDQUOT: ['DiskFull', 'disk quota exceeded'],
  EMFILE: ['TooManyOpenFiles', 'too many open files in this process'],
  ENFILE: ['TooManyOpenFiles', 'too many open files in the system'],
};

/** Causes in words for errnos that share the fallback code. */
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error (a failing disk or a network file system?)',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'file is busy',
  EEXIST: 'file exists',
  EFBIG: 'file too large',
  EAGAIN: 'resource temporarily unavailable',
  EXDEV: 'rename across file systems',
  EINVAL: 'invalid argument (does the file system support this?)',
};

function hintFor(name: ErrorName, display: string): string | undefined {
  const dir = dirname(display);
  switch (name) {
    case 'PathIsDirectory':
      return `${display} is a directory: remove or rename it, or use the path of a file.`;
    case 'PathNotDirectory':
      return `A part of ${display} is a file where a directory belongs: remove or rename that file.`;
    case 'PermissionDenied':
      return `Check the permissions of ${display} and of ${dir} (ls -ld), or run ukernel as a user who may use them.`;
    case 'ReadOnlyFileSystem':
      return `${dir} is on a read-only file system: work in a writable copy of the project, or remount it read-write.`;
    case 'DiskFull':
      return `The file system holding ${dir} is full: free some space (df -h ${dir}), then run the command again.`;
    case 'DirectoryNotFound':
      return `${dir} does not exist: create it first (mkdir -p ${dir}), or choose a path in an existing directory.`;
    default:
      return undefined;
  }
}

/**
 * A catalog error for a failed file operation: the cause from its errno (EISDIR, ENOTDIR,
 * EACCES/EPERM, EROFS, ENOSPC/EDQUOT, EMFILE/ENFILE each have a code; ENOENT while writing is
 * a missing directory), the path, and a hint that fits the cause. A UkernelError passes through.
 */
export function fileError(err: unknown, ctx: FileErrorContext): UkernelError {
  if (err instanceof UkernelError) return err;
  const errno = typeof (err as NodeJS.ErrnoException)?.code === 'string' ? (err as NodeJS.ErrnoException).code! : null;
  const reading = ctx.op === 'read' || ctx.op === 'open';
  let name: ErrorName = ctx.fallback ?? (reading ? 'FileUnreadable' : 'OutputUnwritable');
  let cause = errno === null ? String((err as Error)?.message ?? err) : (ERRNO_WORDS[errno] ?? errno);
  const known = errno === null ? undefined : ERRNO_CAUSES[errno];
  if (known !== undefined) [name, cause] = known;
  else if (errno === 'ENOENT' && !reading) [name, cause] = ['DirectoryNotFound', 'its directory does not exist'];
  const message = `cannot ${ctx.op} ${ctx.display}: ${cause}${errno !== null ? ` (${errno})` : ''}`;
  const base = hintFor(name, ctx.display) ?? ErrorCatalog[name].hint;
  return new UkernelError(name, message, { hint: ctx.hint === undefined ? base : `${base} ${ctx.hint}`, cause: err });
}

/** An error carrying errno `code`, for causes found by stat rather than by a failed call. */
export function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** A Node system error (errno code and syscall) that escaped every handler: a file error, not a bug. */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { syscall: string } {
  const e = err as NodeJS.ErrnoException | null;
  return e instanceof Error && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) && typeof e.syscall === 'string';
}
