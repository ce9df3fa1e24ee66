// Every limit, timeout and default of the CLI lives here, with its unit in the name. Limits
// shared with the kernel are generated from abi/contracts.json and abi/ukernel.abi.json (see
// docs/contracts.md) and re-exported here.
import { ABI_CONSTANTS } from './abi/abi.js';
import {
  CMDLINE_BYTES_MAX,
  CONSOLE_RECORD_LINE_BYTES_MAX,
  EVENTS_SECTOR_BYTES as EVENTS_DEVICE_SECTOR_BYTES,
  WORKLOAD_ENV_FILE_BYTES_MAX,
} from './abi/contracts.js';

/** No `@uk:boot` record within this bound → the VMM is killed and the run fails. */
export const BOOT_TIMEOUT_KVM_MS = 10_000;
export const BOOT_TIMEOUT_TCG_MS = 60_000;

/** SIGTERM → wait this long → SIGKILL. */
export const KILL_GRACE_MS = 3_000;
/** After SIGKILL, how long we wait for the kernel to report the child gone. */
export const KILL_REAP_MS = 2_000;
/** After `@uk:exit`, how long the VMM may take to exit on its own before we stop it. */
export const EXIT_AFTER_RECORD_MS = 3_000;
/** After the VMM exits, how long we wait for its stdout/stderr pipes to drain. */
export const PIPE_DRAIN_MS = 1_000;

/** Console lines longer than this are cut (with a visible marker) before echo. */
export const CONSOLE_LINE_MAX_BYTES = 4096;
/** `@uk:` record lines longer than this are malformed (docs/console-protocol.md). */
export const RECORD_LINE_MAX_BYTES = CONSOLE_RECORD_LINE_BYTES_MAX;
/** Fields per record; a 512-byte line cannot hold many more anyway. */
export const RECORD_FIELDS_MAX = 64;
/** Tail of the VMM's own stderr kept for error messages. */
export const VMM_STDERR_TAIL_BYTES = 8192;
export const VMM_STDERR_TAIL_LINES = 20;
/** How much of the VMM's own log file (Firecracker's logger) is kept for error reports. */
export const VMM_LOG_TAIL_BYTES = 8192;
/** The session reads the console log and the events device at least this often while the VM
 *  runs (inotify usually wakes it sooner). */
export const SESSION_POLL_MS = 20;
/** Serial text stamped later than what the events device has shown waits at most this long for
 *  the device to catch up (live output in guest-time order). */
export const SERIAL_HOLD_MS = 250;
/** Most console-log bytes read in one go. */
export const CONSOLE_READ_BYTES_MAX = 64 * 1024;

/** Sanity bounds for numbers reported by the (untrusted) guest. */
export const PHASE_NS_MAX = 3_600_000_000_000; // one hour
export const TSC_KHZ_MAX = 100_000_000; // 100 GHz
export const KVMCLOCK_NS_MAX = 3_600_000_000_000;

export const MEMORY_MIB_DEFAULT = 128;
export const MEMORY_MIB_MIN = 16;
export const MEMORY_MIB_MAX = 3072;
export const VCPU_DEFAULT = 1;
export const VCPU_MIN = 1;
export const VCPU_MAX = 32;
/** `--timeout` upper bound: one day. */
export const RUN_TIMEOUT_S_MAX = 86_400;

export const CONSOLE_LOG_PATH = 'logs/console.log';

// ---- Projects (ukernel.toml) ---------------------------------------------------------------

export const PROJECT_FILE = 'ukernel.toml';
export const PROJECT_NAME_BYTES_MAX = 63;
/** How many parent directories are searched for ukernel.toml. */
export const PROJECT_SEARCH_DEPTH_MAX = 64;
/** ukernel.toml larger than this is refused (it is a few hundred bytes in practice). */
export const PROJECT_FILE_BYTES_MAX = 1 << 20;
/** Unknown keys within this edit distance of a known one get a "did you mean". */
export const SUGGEST_DISTANCE_MAX = 2;
export const ENTRY_DEFAULT = 'src/main.zig';
export const ENV_FILE = 'env/ukernel.env';
export const LOCK_FILE = 'env/ukernel.lock';
export const LOCK_FILE_BYTES_MAX = 16 << 20;
/** The lock format this ukernel writes and reads (docs/environments.md); a newer one is refused. */
export const LOCK_FORMAT_VERSION = 1;
/** Entries of a lock list (adapter sources, dependencies, system libraries); more is refused. */
export const LOCK_LIST_ENTRIES_MAX = 1_000;
/** Drifted entries listed by `env lock --check` and build errors; the rest are counted. */
export const LOCK_DRIFT_LISTED_MAX = 12;
/** A lock value longer than this is cut in `inspect`'s text (a URL; an image is untrusted). */
export const LOCK_VALUE_CHARS_MAX = 200;
/** `[env] packages` entries in ukernel.toml (what the user asks for). */
export const ENV_PACKAGES_MAX = 256;
/** `[env] system` entries in ukernel.toml (system libraries of the catalog, scripts/toolchain.env). */
export const ENV_SYSTEM_MAX = 16;
/** `ukernel env add` resolves with pip (`python3 -m pip install --dry-run --report`): bounded. */
export const PIP_RESOLVE_TIMEOUT_MS = 180_000;
/** pip's own per-connection timeout (`--timeout`, seconds) and retries. */
export const PIP_SOCKET_TIMEOUT_S = 20;
export const PIP_RETRIES = 2;
/** The oldest pip that has `install --dry-run --report` (pip 22.2). */
export const PIP_VERSION_MIN = [22, 2] as const;
/** PyPI's JSON API, asked why a resolution failed (unknown package, version, compiled-only). */
export const PYPI_JSON_URL = 'https://pypi.org/pypi';
export const PYPI_QUERY_TIMEOUT_MS = 30_000;
/** One wheel's download (from the URL the lock pins) ends within this, and is at most this big. */
export const WHEEL_FETCH_TIMEOUT_MS = 180_000;
export const WHEEL_BYTES_MAX = 128 << 20;
/** A requirements file (`env add -r FILE`) larger than this is refused. */
export const REQUIREMENTS_FILE_BYTES_MAX = 1 << 20;
/** Where the locked wheels are unpacked in a Python image (adapters/python/main.c puts it on sys.path). */
export const PYTHON_SITE_PACKAGES_PATH = 'lib/site-packages';
/** The kernel's version: `pub const kernel_version = "X.Y.Z"` in this file of the checkout. */
export const KERNEL_VERSION_FILE = 'kernel/src/constants.zig';
/** The kernel reads etc/ukernel.env up to this size. */
export const ENV_FILE_BYTES_MAX = WORKLOAD_ENV_FILE_BYTES_MAX;

// ---- Build (ukernel build) -----------------------------------------------------------------

export const BUILD_DIR = 'build';
export const WORKLOAD_BIN_PATH = 'build/bin/main';
export const BUNDLE_PATH = 'build/bundle.tgz';
/** What `ukernel build` last did: inputs hash, bundle hash, optimize mode, zig version. */
export const BUILD_RECORD_PATH = 'build/build.json';
/** What `ukernel pack` last did: inputs hash, image path and header hash, --readonly. */
export const PACK_RECORD_PATH = 'build/pack.json';
export const ZIG_CACHE_DIR = 'build/.zig-cache';
export const ZIG_GLOBAL_CACHE_DIR = 'build/.zig-cache/global';
/** A compile that takes longer than this is stopped and fails. */
export const BUILD_TIMEOUT_MS = 600_000;
/** `zig version` must answer within this bound. */
export const ZIG_VERSION_TIMEOUT_MS = 10_000;
/** Files under src/ and sdk/ hashed for the rebuild check; more is refused, not ignored. */
export const SOURCE_FILES_MAX = 10_000;
export const SOURCE_DIR_DEPTH_MAX = 16;
/** Symlinks followed (to files or directories, anywhere) while hashing them; more is refused. */
export const SOURCE_SYMLINKS_MAX = 1_000;
/** Bundle layout: the workload ELF and its environment file, at fixed paths and modes. */
export const BUNDLE_ENTRY_PATH = 'bin/main';
export const BUNDLE_ENV_PATH = 'etc/ukernel.env';
/** tar mtime when SOURCE_DATE_EPOCH is unset or 0 (npm's choice: zip tools mistrust epoch 0). */
export const BUNDLE_MTIME_DEFAULT = '1985-10-26T08:15:00.000Z';
export const BUNDLE_GZIP_LEVEL = 9;
/**
 * A Python project's bundle (17 MB of tar, mostly the stdlib zip): level 9 took 4.3 s and level
 * 6 1.0 s for 0.5 % more bytes (node zlib, this machine), and the bundle is a build step's output.
 */
export const PYTHON_BUNDLE_GZIP_LEVEL = 6;
/** A bundle (compressed or not) larger than this is refused. */
export const BUNDLE_BYTES_MAX = 1 << 30;

// ---- Python projects (docs/python.md) ------------------------------------------------------

/** `[project] entry` of a Python project when ukernel.toml leaves it out. */
export const PYTHON_ENTRY_DEFAULT = 'src/main.py';
/** `[env] base` and the adapter's name (image header, manifest, build/adapter/<this>). */
export const PYTHON_BASE = 'python-3.13';
/** The adapter runtime's recipe, relative to the ukernel checkout (py-design.md). */
export const PYTHON_ADAPTER_BUILD_SCRIPT = 'adapters/python/build.sh';
/** The final link of bin/python, relative to the ukernel checkout (py-design.md). */
export const PYTHON_ADAPTER_LINK_SCRIPT = 'adapters/python/link.sh';
/** What the adapter is made of (build.sh, link.sh, main.c, the POSIX layer): a change links again. */
export const PYTHON_ADAPTERS_DIR = 'adapters';
/** The C SDK's headers, which the final link compiles main.c and _ukernel.c against. */
export const SDK_C_DIR = 'sdk/c';
/** The `ukernel` Python package, zipped with the standard library when present. */
export const PYTHON_UKERNEL_PACKAGE_DIR = 'adapters/python/ukernel';
/** The adapter's start-up module (asyncio resolves names without a thread), zipped with the
 * standard library as the top-level module `_ukernel_asyncio` when present. */
export const PYTHON_ASYNCIO_MODULE = 'adapters/python/_ukernel_asyncio.py';
/** What the CLI runs with the host python3.13 (syntax check, .pyc, the stdlib zip). */
export const PYTHON_TOOL_SCRIPT = 'cli/python/uk_pytool.py';
/** The first build of the runtime (CPython, musl, zlib from source) takes minutes; past this it is stopped. */
export const PYTHON_ADAPTER_BUILD_TIMEOUT_MS = 3_600_000;
/** The final link, the syntax check and the stdlib zip each end within this bound. */
export const PYTHON_STEP_TIMEOUT_MS = 300_000;
/** Rootfs layout of a Python image (py-design.md). */
export const PYTHON_BIN_PATH = 'bin/python';
export const PYTHON_STDLIB_ZIP_PATH = 'lib/python313.zip';
export const PYTHON_ENTRY_FILE_PATH = 'etc/ukernel/python-entry';
/** Where `ukernel build` leaves the linked adapter and the name of its runtime. */
export const PYTHON_ADAPTER_OUT_DIR = `build/adapter/${PYTHON_BASE}`;
/** Files under src/ of a Python project copied into the image; more is refused. */
export const PYTHON_SOURCE_FILES_MAX = 5_000;
/** Where `[build] python_stdlib_tests` puts CPython's test packages in the image (real files,
 *  because the tests read data files beside them); the adapter adds it to sys.path. */
export const PYTHON_STDLIB_TESTS_PATH = 'lib/python3.13';
/** Names `[build] python_stdlib_tests` may list. */
export const PYTHON_STDLIB_TESTS_MAX = 64;
/** Where the checkout keeps the verified CPython source (the tests' source when the runtime has
 *  no Lib/test): scripts/fetch-source.sh PACKAGE prints the tree's path. */
export const FETCH_SOURCE_SCRIPT = 'scripts/fetch-source.sh';
/** Syntax errors listed in one report (the first is the message, the rest details). */
export const PYTHON_SYNTAX_ERRORS_LISTED_MAX = 20;

// ---- Images (docs/image-format.md) ---------------------------------------------------------

export const IMAGE_DIR = 'dist';
/** Kernel limits the image must respect: its size, the rootfs index block, one workload file,
 *  workload arguments (argv[0] included) and environment entries. */
export {
  IMAGE_BYTES_MAX,
  ROOTFS_INDEX_BYTES_MAX,
  WORKLOAD_ARGS_MAX,
  WORKLOAD_ENV_MAX,
  WORKLOAD_FILE_BYTES_MAX,
} from './abi/contracts.js';
/** The manifest is a few hundred bytes; a lock can make it larger, but not this large. */
export const MANIFEST_BYTES_MAX = 32 << 20;
/** Chunk size for hashing sections straight from the file. */
export const IMAGE_READ_CHUNK_BYTES = 1 << 20;
export const KERNEL_ELF_PATH = 'kernel/zig-out/bin/ukernel.elf';
/** The Zig SDK: start.zig is every workload's root module, ukernel.zig the `ukernel` module. */
export const SDK_DIR = 'sdk/zig';
export const SDK_ROOT_FILE = 'start.zig';
export const SDK_MODULE_FILE = 'ukernel.zig';
export const TOOLCHAIN_FILE = 'scripts/toolchain.env';

// ---- Runs and logs -------------------------------------------------------------------------

export const LOGS_DIR = 'logs';
export const RUN_LOGS_DIR = 'logs/runs';
/** The one running marker of older versions (before per-run markers): removed when seen. */
export const RUNNING_MARKER_LEGACY_PATH = 'logs/.running';
/** Older runs beyond this many are deleted when a run starts (never one still going). */
export const RUN_LOGS_KEPT_MAX = 100;
/** `logs --follow` polls the log this often. */
export const FOLLOW_POLL_MS = 100;
/** Console logs are read (by `logs`, `trace`, `perf`) in chunks of this size. */
export const LOG_READ_CHUNK_BYTES = 64 * 1024;
/** The end of a run's guest output kept for the hints after a failed run (run-hints.ts). */
export const OUTPUT_TAIL_CHARS_MAX = 8192;
/** `logs --list` reads at most this much of the end of each log to find the exit status. */
export const LOG_TAIL_SCAN_BYTES = 64 * 1024;
// ---- Logs and traces: the events device (docs/observability.md) -----------------------------

/** Size of each run's events file (sparse: only what the guest writes takes disk space). */
export const EVENTS_CAPACITY_BYTES = 256 << 20;
/** A header claiming more than this (or a file larger than this) is read only this far. */
export const EVENTS_CAPACITY_BYTES_MAX = 1 << 30;
export const EVENTS_SECTOR_BYTES = EVENTS_DEVICE_SECTOR_BYTES;
/** Records decoded from one run, all sources together; the rest is reported, not read. */
export const EVENTS_RECORDS_MAX = 1_000_000;
/** The guest's limits (the ABI's): longer names, messages or more fields are invalid records. */
export const EVENT_NAME_BYTES_MAX = ABI_CONSTANTS.name_bytes_max;
export const LOG_MESSAGE_BYTES_MAX = ABI_CONSTANTS.write_bytes_max;
export const LOG_FIELDS_MAX = ABI_CONSTANTS.log_fields_max;
/** Guest timestamps beyond this (about 104 days) are invalid: they would lose precision. */
export const EVENT_T_NS_MAX = Number.MAX_SAFE_INTEGER;
/** Log messages and field values are cut to this many bytes before they reach a terminal. */
export const LOG_TEXT_DISPLAY_BYTES_MAX = 4096;
/** Damaged blocks, sequence gaps, invalid records: at most this many are described one by one. */
export const EVENTS_ISSUES_LISTED_MAX = 20;
/** Each run's report (the `run --json` object), beside its log. */
export const RUN_REPORT_SUFFIX = '.json';
export const RUN_EVENTS_SUFFIX = '.events';
export const RUN_LOG_SUFFIX = '.log';
/** The VMM's own log (Firecracker's logger), beside the console log. */
export const RUN_VMM_LOG_SUFFIX = '.vmm.log';
/** A run whose files lost writes, on a filesystem with less free space than this, is reported
 *  as "disk full" (UK206) rather than as a VMM failure. */
export const DISK_FULL_BYTES = 1 << 20;
/** Firecracker's `--config-file` for the run (per run: concurrent runs differ in their events file). */
export const RUN_VM_CONFIG_SUFFIX = '.firecracker.json';
/** Present while a run goes on: `{ "pid", "start_ticks", "boot_id", "log" }` (runlog.ts). */
export const RUN_MARKER_SUFFIX = '.running';
/** A marker larger than this is not one `ukernel run` wrote. */
export const RUN_MARKER_BYTES_MAX = 4096;
/** `trace`/`perf` tables: span or event names listed (the busiest first); the rest are summed up. */
export const TRACE_NAMES_LISTED_MAX = 200;
/** Run reports larger than this are not a report `ukernel run` wrote. */
export const RUN_REPORT_BYTES_MAX = 1 << 20;

/** The kernel command line, with every token the VMM adds, on Firecracker: 2048 bytes with its
 *  NUL (Firecracker src/vmm/src/arch/x86_64/layout.rs, CMDLINE_MAX_SIZE). */
export const CMDLINE_BYTES_MAX_FIRECRACKER = 2047;
/** On QEMU the kernel's own limit binds (its cmdline_bytes_max includes the NUL). */
export const CMDLINE_BYTES_MAX_KERNEL = CMDLINE_BYTES_MAX - 1;
/** The longest token a VMM appends per virtio-mmio device, with its separating space:
 *  Firecracker ` virtio_mmio.device=4K@0xc0001000:5`, QEMU ` virtio_mmio.device=512@0xfeb00e00:12`
 *  (8 hex digits, a GSI of up to 3 digits). */
export const CMDLINE_DEVICE_TOKEN_BYTES_MAX = ' virtio_mmio.device=4096@0x00000000:000'.length;
/** Firecracker also appends ` pci=off` (src/vmm/src/builder.rs). */
export const CMDLINE_FIRECRACKER_EXTRA = ' pci=off';

// ---- Networking (`run --net`, `--publish`; docs/networking.md) -------------------------

/** Host address a `--publish` mapping binds when it names none (docker binds 0.0.0.0; we don't). */
export const PUBLISH_HOST_IP_DEFAULT = '127.0.0.1';
/** Most `--publish` mappings of one run (each becomes a slirp hostfwd rule and a host socket). */
export const PUBLISH_MAX = 64;
/** A host port bind probe (bind, then close at once) that takes longer than this fails the run. */
export const PORT_PROBE_TIMEOUT_MS = 2_000;
/** The publish proxy (cli/src/vmm/publish-proxy.ts), one per TCP mapping: its listen backlog on
 *  the published socket (Node's default, 511: Linux caps it at net.core.somaxconn). */
export const PUBLISH_LISTEN_BACKLOG = 511;
/** Connects to slirp's hostfwd socket in flight at once, per mapping. slirp listens with a
 *  backlog of 1 (measured: `ss -ltn` Send-Q 1), so Linux queues two connections for its accept
 *  and drops the SYNs past them. */
export const PUBLISH_CONNECTS_IN_FLIGHT_MAX = 2;
/** A completed connect keeps its slot this long: slirp accepts in QEMU's main loop, one per
 *  iteration, a few ms behind the loopback handshake. Measured, 200 clients at once through the
 *  probe's http server: 0 ms: 25 connects of 100 made again; 1 ms: 6 of 200; 2 ms: none, all 200
 *  answered in 0.33 s (tests/e2e/net-proxy.test.ts has the burst). */
export const PUBLISH_ACCEPT_SETTLE_MS = 2;
/** A loopback connect to slirp that has not completed in this long lost its SYN (the queue was
 *  full after all): it is dropped and made again, rather than waiting for the 1 s retransmit. */
export const PUBLISH_CONNECT_ATTEMPT_MS = 50;
/** Nothing listens on the internal port (QEMU not up yet): the next connect after this long. */
export const PUBLISH_REFUSED_RETRY_MS = 50;
/** Clients waiting for a connect to slirp, per mapping; past it new clients are reset. */
export const PUBLISH_WAITING_MAX = 1_024;
/** Clients held at once (waiting or forwarded), per mapping; past it new clients are reset. */
export const PUBLISH_CLIENTS_MAX = 8_192;
/** A client that could not be forwarded within this long is reset (slirp unreachable). */
export const PUBLISH_WAIT_MS = 30_000;
/** Closing the proxy (every socket destroyed) waits at most this long for its listeners. */
export const PUBLISH_CLOSE_MS = 2_000;
/** Where the proxy reaches slirp's hostfwd socket (an internal port the CLI picks). */
export const PUBLISH_UPSTREAM_HOST = '127.0.0.1';
/** Linux interface names: IFNAMSIZ (16) with the NUL (include/uapi/linux/if.h). */
export const NET_IFACE_BYTES_MAX = 15;
/** Lowest port a process without CAP_NET_BIND_SERVICE may bind, and where Linux says so. */
export const PORT_UNPRIVILEGED_START_DEFAULT = 1024;
export const PORT_UNPRIVILEGED_START_PATH = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
export const SYSFS_NET_DIR = '/sys/class/net';
export const TUN_DEVICE = '/dev/net/tun';
/** `tun_flags` bits (include/uapi/linux/if_tun.h): IFF_TUN is layer 3, IFF_TAP layer 2. */
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
/** Capability bits in /proc/self/status CapEff (include/uapi/linux/capability.h). */
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_ADMIN = 12;
/** QEMU user networking (libslirp defaults): the guest's DHCP address and the host as seen from it. */
export const SLIRP_GUEST_IP = '10.0.2.15';
export const SLIRP_HOST_IP = '10.0.2.2';

export const QEMU_BINARY = 'qemu-system-x86_64';
export const FIRECRACKER_BINARY = 'firecracker';
export const KVM_DEVICE = '/dev/kvm';

/** Exit codes owned by the CLI (the guest status passes through unchanged). */
export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 124;
export const EXIT_VMM = 125;
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

// ---- Error output and progress (hostile project files, odd file systems, long steps) --------

/** An error message longer than this is cut (with a marker) before it reaches the terminal. */
export const ERROR_MESSAGE_CHARS_MAX = 1000;
/** Each detail line of an error (a TOML excerpt line, a VMM stderr line) is cut to this. */
export const ERROR_DETAIL_CHARS_MAX = 240;
/** At most this many detail lines are shown; the rest are counted. */
export const ERROR_DETAILS_MAX = 40;
/** A line of a project file quoted in an error shows this many characters around the column. */
export const EXCERPT_LINE_CHARS_MAX = 120;
/** A kernel ELF with more program headers than this is not one the kernel build makes. */
export const KERNEL_PHDRS_MAX = 64;
/** PT_NOTE segments of a kernel ELF are read up to this many bytes in all. */
export const KERNEL_NOTES_BYTES_MAX = 64 * 1024;
/** Temp files (`.NAME.PID.tmp`, Zig's cache tmp/) older than this cannot belong to a live build. */
export const STALE_TEMP_AGE_MS = BUILD_TIMEOUT_MS;
/** Zig gets SIGTERM when the build is interrupted, then SIGKILL after this long. */
export const CHILD_STOP_GRACE_MS = 2_000;
/** How far behind Date.now() a file time may be (Linux stamps files with its coarse clock, one
 * tick: 1–10 ms): the margin when a cleanup picks the files made since a moment. */
export const FILE_TIME_SLACK_MS = 50;
/** A live progress line is redrawn this often (TTY only). */
export const PROGRESS_INTERVAL_MS = 100;
