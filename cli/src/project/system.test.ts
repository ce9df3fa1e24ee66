import { describe, expect, it } from 'vitest';
import { isUkernelError, type UkernelError } from '../errors.js';
import { readToolchainPins, ukernelRoot } from '../toolchain.js';
import { catalogText, projectSystem, systemCatalog, systemLibrary } from './system.js';

function thrown(fn: () => unknown): UkernelError {
  try {
    fn();
  } catch (err) {
    if (isUkernelError(err)) return err;
    throw err;
  }
  throw new Error('expected a UkernelError');
}

describe('the system-library catalog (scripts/toolchain.env)', () => {
  const pins = readToolchainPins(ukernelRoot()).all;
  const catalog = systemCatalog(pins);

  it('lists openssl and sqlite with their Debian source pins and the modules they enable', () => {
    expect(catalog.map((lib) => lib.name)).toEqual(['openssl', 'sqlite']);
    const openssl = catalog[0]!;
    expect(openssl).toMatchObject({ package: 'openssl', modules: ['_hashlib', '_ssl'], aliases: ['libssl', 'ssl'] });
    expect(openssl.debianVersion).toBe(pins.OPENSSL_DEBIAN_VERSION);
    expect(openssl.sourceSha256).toBe(pins.OPENSSL_ORIG_SHA256);
    expect(catalog[1]).toMatchObject({ package: 'sqlite3', modules: ['_sqlite3'] });
    expect(catalog[1]!.sourceSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('maps aliases and case to catalog names, and refuses anything else listing the catalog', () => {
    expect(systemLibrary(catalog, 'libssl', 'env add --system').name).toBe('openssl');
    expect(systemLibrary(catalog, 'SQLite3', 'env add --system').name).toBe('sqlite');
    const err = thrown(() => systemLibrary(catalog, 'libxml2', 'env add --system'));
    expect(err.shown().code).toBe('UK178');
    expect(err.message).toBe('env add --system: "libxml2" is not a system library ukernel can build');
    expect(err.shown().hint).toContain(`The catalog: ${catalogText(catalog)}.`);
    expect(catalogText(catalog)).toBe('openssl (also libssl, ssl); sqlite (also sqlite3, libsqlite3)');
  });

  it("checks a project's [env] system: catalog names only, sorted", () => {
    expect(projectSystem(catalog, ['sqlite', 'openssl'], 'ukernel.toml [env] system').map((l) => l.name)).toEqual([
      'openssl',
      'sqlite',
    ]);
    expect(projectSystem(catalog, undefined, 'x')).toEqual([]);
    const alias = thrown(() => projectSystem(catalog, ['libssl'], 'ukernel.toml [env] system'));
    expect(alias.message).toBe('ukernel.toml [env] system: "libssl" is another name for "openssl"');
    expect(thrown(() => projectSystem(catalog, ['zstd'], 'ukernel.toml [env] system')).shown().code).toBe('UK178');
  });

  it('refuses a catalog entry without complete pins (a broken checkout)', () => {
    const broken = { ...pins, SYSTEM_CATALOG: 'openssl zstd' };
    const err = thrown(() => systemCatalog(broken));
    expect(err.message).toContain('the system library "zstd" has no complete pins');
  });
});
