// The system-library catalog of `ukernel env add --system NAME` (docs/environments.md, "System
// libraries"): C libraries adapters/python/system.sh builds into the Python runtime from pinned
// Debian source packages. The catalog is scripts/toolchain.env's SYSTEM_* lines (the one source
// of truth, which build.sh reads too); this module reads it and maps what users type to names.
import { UkernelError } from '../errors.js';
import { byName } from '../image/manifest.js';

/** One library of the catalog, with the pins of its Debian source package. */
export interface SystemLibrary {
  /** The catalog name, as `[env] system` and the lock hold it (e.g. "openssl"). */
  name: string;
  /** Other names `env add --system` takes for it (e.g. "libssl"). */
  aliases: string[];
  /** The CPython modules it enables (e.g. ["_hashlib", "_ssl"]). */
  modules: string[];
  about: string;
  /** The Debian source package and its pins (<PACKAGE>_DEBIAN_VERSION, _ORIG_SHA256). */
  package: string;
  debianVersion: string;
  sourceSha256: string;
}

const words = (text: string | undefined): string[] => (text ?? '').split(/\s+/).filter((w) => w !== '');

/** The pins' prefix of a source package, as scripts/fetch-source.sh forms it (python3.13 -> PYTHON3_13). */
function pinPrefix(pkg: string): string {
  return pkg.toUpperCase().replace(/[.-]/g, '_');
}

/**
 * The catalog from scripts/toolchain.env's pins (toolchain.ts parseToolchainEnv), in its order.
 * A name whose pins are incomplete is ToolchainMissing: the checkout is broken, not the project.
 */
export function systemCatalog(pins: Readonly<Record<string, string>>): SystemLibrary[] {
  return words(pins.SYSTEM_CATALOG).map((name) => {
    const field = (key: string): string => pins[`SYSTEM_${name.toUpperCase()}_${key}`] ?? '';
    const pkg = field('PACKAGE');
    const prefix = pinPrefix(pkg);
    const debianVersion = pins[`${prefix}_DEBIAN_VERSION`] ?? '';
    const sourceSha256 = pins[`${prefix}_ORIG_SHA256`] ?? '';
    if (pkg === '' || debianVersion === '' || !/^[0-9a-f]{64}$/.test(sourceSha256)) {
      throw new UkernelError('ToolchainMissing', `scripts/toolchain.env: the system library "${name}" has no complete pins`, {
        hint: `Give it SYSTEM_${name.toUpperCase()}_PACKAGE and that package's _DEBIAN_VERSION and _ORIG_SHA256 lines.`,
      });
    }
    return {
      name,
      aliases: words(field('ALIASES')),
      modules: words(field('MODULES')),
      about: field('ABOUT'),
      package: pkg,
      debianVersion,
      sourceSha256,
    };
  });
}

/** The catalog as one line of an error: `openssl (also libssl, ssl); sqlite (also sqlite3, libsqlite3)`. */
export function catalogText(catalog: readonly SystemLibrary[]): string {
  return catalog.map((lib) => (lib.aliases.length === 0 ? lib.name : `${lib.name} (also ${lib.aliases.join(', ')})`)).join('; ');
}

/**
 * The library `input` names (its catalog name or an alias, case aside), or SystemUnknown
 * (UK178) saying where the name came from (`where`, e.g. "env add --system") and listing the
 * catalog.
 */
export function systemLibrary(catalog: readonly SystemLibrary[], input: string, where: string): SystemLibrary {
  const wanted = input.trim().toLowerCase();
  const found = catalog.find((lib) => lib.name === wanted || lib.aliases.includes(wanted));
  if (found !== undefined) return found;
  const shown = JSON.stringify(input.length > 64 ? `${input.slice(0, 64)}…` : input);
  throw new UkernelError('SystemUnknown', `${where}: ${shown} is not a system library ukernel can build`, {
    hint: `The catalog: ${catalogText(catalog)}. Run \`ukernel env add --system NAME\` with one of them (docs/environments.md, "System libraries").`,
  });
}

/** `[env] system` of a project, each checked against the catalog, sorted by name. */
export function projectSystem(
  catalog: readonly SystemLibrary[],
  names: readonly string[] | undefined,
  where: string,
): SystemLibrary[] {
  const libs = (names ?? []).map((name) => {
    const lib = systemLibrary(catalog, name, where);
    if (lib.name !== name) {
      throw new UkernelError('SystemUnknown', `${where}: "${name}" is another name for "${lib.name}"`, {
        hint: `Write "${lib.name}" in place of "${name}" in [env] system: ukernel.toml holds catalog names (those \`ukernel env add --system\` writes).`,
      });
    }
    return lib;
  });
  return libs.sort(byName);
}
