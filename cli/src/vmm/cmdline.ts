// The guest kernel command line. One place to add tokens the CLI itself wants to pass
// (e.g. a test mode later); user tokens from --cmdline come next so they can override; workload
// arguments go last, after a lone `--` (the kernel hands them to the workload as argv[1..]).

export interface CmdlineOptions {
  /** `--cmdline` as given; may be empty. */
  extra: string;
  /** Tokens added by the CLI, before the user's. */
  tokens?: readonly string[];
  /** Workload arguments (already checked: no spaces or control characters). */
  workload?: readonly string[];
}

export function kernelCmdline({ extra, tokens = [], workload = [] }: CmdlineOptions): string {
  const parts = [...tokens, extra.trim()];
  if (workload.length > 0) parts.push('--', ...workload);
  return parts.filter((t) => t !== '').join(' ');
}
