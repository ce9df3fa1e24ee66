// Firecracker backend: `--config-file` JSON (pure) and the argv to boot it without the API.
// writeFileAtomic moved to fsutil.ts; re-exported for existing callers.
export { writeFileAtomic } from '../fsutil.js';
import { type FirecrackerNetworkInterface, firecrackerNetworkInterfaces, type NetworkSettings } from './network.js';

export interface FirecrackerOptions {
  kernel: string;
  memoryMib: number;
  vcpus: number;
  cmdline: string;
  /** The ukernel image, attached read-only as a virtio-blk disk (not the root device). */
  image?: { path: string };
  /** The run's events device (docs/observability.md): a second, writable drive. */
  events?: string;
  /** A tap NIC (`network-interfaces`), when the run has one; Firecracker has no user networking. */
  network?: NetworkSettings;
}

export interface FirecrackerDrive {
  drive_id: string;
  path_on_host: string;
  is_root_device: boolean;
  is_read_only: boolean;
}

/** Schema: Firecracker `VmmConfig` (kebab-case top level; `drives` has no default). */
export interface FirecrackerConfig {
  'boot-source': { kernel_image_path: string; boot_args: string };
  drives: FirecrackerDrive[];
  'machine-config': { vcpu_count: number; mem_size_mib: number };
  /** Present only with a tap (an empty list is valid too, but keeps configs of plain runs as they were). */
  'network-interfaces'?: FirecrackerNetworkInterface[];
}

export function firecrackerConfig(opts: FirecrackerOptions): FirecrackerConfig {
  return {
    // boot_args is always set: when omitted Firecracker substitutes Linux defaults.
    'boot-source': { kernel_image_path: opts.kernel, boot_args: opts.cmdline },
    drives: [
      ...(opts.image === undefined
        ? []
        : [{ drive_id: 'image', path_on_host: opts.image.path, is_root_device: false, is_read_only: true }]),
      ...(opts.events === undefined
        ? []
        : [{ drive_id: 'events', path_on_host: opts.events, is_root_device: false, is_read_only: false }]),
    ],
    'machine-config': { vcpu_count: opts.vcpus, mem_size_mib: opts.memoryMib },
    ...(opts.network !== undefined && opts.network.mode.kind === 'tap'
      ? { 'network-interfaces': firecrackerNetworkInterfaces(opts.network) }
      : {}),
  };
}

/**
 * Firecracker's own log goes to `logPath`, never to its stdout, which is the guest's serial
 * console. It must be given on the command line: the config file's `logger` takes effect only
 * after Firecracker has logged its first line (src/firecracker/src/main.rs).
 */
export function firecrackerArgs(configPath: string, logPath: string): string[] {
  return ['--no-api', '--config-file', configPath, '--log-path', logPath, '--level', 'Info', '--show-level'];
}
