// Every limit, timeout and default of the CLI lives here, with its unit in the name.

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
export const RECORD_LINE_MAX_BYTES = 512;
/** Fields per record; a 512-byte line cannot hold many more anyway. */
export const RECORD_FIELDS_MAX = 64;
/** Tail of the VMM's own stderr kept for error messages. */
export const VMM_STDERR_TAIL_BYTES = 8192;
export const VMM_STDERR_TAIL_LINES = 20;

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
export const FIRECRACKER_CONFIG_PATH = 'build/firecracker/vm-config.json';

export const QEMU_BINARY = 'qemu-system-x86_64';
export const FIRECRACKER_BINARY = 'firecracker';
export const KVM_DEVICE = '/dev/kvm';

/** Exit codes owned by the CLI (the guest status passes through unchanged). */
export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 124;
export const EXIT_VMM = 125;
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;
