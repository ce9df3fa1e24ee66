// The guest kernel command line. One place to add tokens the CLI itself wants to pass
// (e.g. a test mode later); user tokens from --cmdline come last so they can override.

export interface CmdlineOptions {
  /** `--cmdline` as given; may be empty. */
  extra: string;
  /** Tokens added by the CLI, before the user's. */
  tokens?: readonly string[];
}

export function kernelCmdline({ extra, tokens = [] }: CmdlineOptions): string {
  return [...tokens, extra.trim()].filter((t) => t !== '').join(' ');
}
