import { describe, expect, it } from 'vitest';
import { systemCatalog } from './project/system.js';
import { failureHints } from './run-hints.js';
import { readToolchainPins, ukernelRoot } from './toolchain.js';

const catalog = systemCatalog(readToolchainPins(ukernelRoot()).all);

describe('hints after a failed run', () => {
  it('names the system library a missing module comes from', () => {
    const tail = `Traceback (most recent call last):\n  File "/src/main.py", line 1, in <module>\nModuleNotFoundError: No module named '_sqlite3'\n`;
    expect(failureHints(tail, catalog, 128)).toEqual([
      'the workload needs _sqlite3, which this image does not have: run `ukernel env add --system sqlite` (SQLite 3.46: the sqlite3 module; docs/environments.md, "System libraries")',
    ]);
    const urllib3 = `    raise TypeError("Can't create an SSLContext object without an ssl module")\nTypeError: Can't create an SSLContext object without an ssl module\n`;
    expect(failureHints(urllib3, catalog, 128)[0]).toContain('`ukernel env add --system openssl`');
    expect(failureHints("No module named '_hashlib'\nNo module named '_ssl'\n", catalog, 128)).toHaveLength(1);
  });

  it('suggests more memory after a MemoryError, within the limit', () => {
    expect(failureHints('Traceback ...\nMemoryError\n', catalog, 48)).toEqual([
      'the workload ran out of memory at --memory 48 MiB: try `ukernel run --memory 96` (or [run] memory_mb in ukernel.toml)',
    ]);
    expect(failureHints('MemoryError\n', catalog, 3072)).toEqual([]);
    expect(failureHints('caught MemoryError fine\nValueError: x\n', catalog, 48)).toEqual([]);
  });
});
