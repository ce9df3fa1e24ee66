// `ukernel init` in a temp directory: the files, the blueprint-style output, and refusals.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProjectConfig } from '../project/config.js';
import { ukernelRoot } from '../toolchain.js';
import { init } from './init.js';

const base = mkdtempSync(join(tmpdir(), 'uk-init-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let count = 0;
function fresh(name = `p${count++}`): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function initIn(cwd: string, options: Parameters<typeof init>[0]): Promise<string[]> {
  const said: string[] = [];
  await init(options, { cwd, say: (line) => said.push(line), zigVersion: '0.15.2' });
  return said;
}

describe('ukernel init', () => {
  it('creates the four files, says so, and the project validates', async () => {
    const dir = fresh();
    expect(await initIn(dir, { name: 'demo', lang: 'native', template: 'worker' })).toEqual([
      'Created ukernel.toml',
      'Created src/main.zig',
      'Created env/ukernel.env',
      'Created .gitignore',
    ]);
    const config = parseProjectConfig(readFileSync(join(dir, 'ukernel.toml'), 'utf8'), 'ukernel.toml', '0.15.2');
    expect(config).toEqual({
      project: { name: 'demo', language: 'native', entry: 'src/main.zig' },
      env: { base: 'zig-0.15.2' },
      build: { adapter: 'native' },
      run: { vcpu: 1, memory_mb: 128, net: 'none' },
    });
    const main = readFileSync(join(dir, 'src/main.zig'), 'utf8');
    expect(main).toContain('pub fn main(context: ukernel.Context) !u8 {');
    expect(main).toContain('ukernel.print("hello from {s}: {d} argument(s)\\n", .{ "demo", context.args.len });');
    expect(readFileSync(join(dir, 'env/ukernel.env'), 'utf8')).toMatch(/^# .*\nUKERNEL_PROJECT=demo\n$/s);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toMatch(/^build\/$/m);
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', 'env', 'src', 'ukernel.toml']); // no temp files left
  });

  it('--template http writes the HTTP server with user networking and port 8080 published', async () => {
    const dir = fresh();
    expect(await initIn(dir, { name: 'web', lang: 'native', template: 'http' })).toEqual([
      'Created ukernel.toml',
      'Created src/main.zig',
      'Created env/ukernel.env',
      'Created .gitignore',
    ]);
    expect(parseToml(readFileSync(join(dir, 'ukernel.toml'), 'utf8'))).toEqual({
      project: { name: 'web', language: 'native', entry: 'src/main.zig' },
      env: { base: 'zig-0.15.2' },
      build: { adapter: 'native' },
      run: { vcpu: 1, memory_mb: 128, net: 'user', publish: ['8080:80'] },
    });
    // The committed example, with the project's name in place of PROJECT_NAME.
    const main = readFileSync(join(dir, 'src/main.zig'), 'utf8');
    const example = readFileSync(join(ukernelRoot(), 'examples/http-server/src/main.zig'), 'utf8');
    expect(main).toBe(example.replaceAll('PROJECT_NAME', 'web'));
    expect(main).toContain('ukernel.print("web: listening on http://0.0.0.0:{d}/\\n", .{port});');
    expect(main).not.toContain('PROJECT_NAME');
    expect(readFileSync(join(dir, 'env/ukernel.env'), 'utf8')).toMatch(
      /\nUKERNEL_PROJECT=web\n(?:#[^\n]*\n)*HTTP_PORT=80\n(?:#[^\n]*\n)*$/,
    );
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', 'env', 'src', 'ukernel.toml']);
  });

  it('--lang python --template worker writes the asyncio pipeline; the project validates as Python', async () => {
    const dir = fresh();
    expect(await initIn(dir, { name: 'pyw', lang: 'python', template: 'worker' })).toEqual([
      'Created ukernel.toml',
      'Created src/main.py',
      'Created env/ukernel.env',
      'Created .gitignore',
    ]);
    const config = parseProjectConfig(readFileSync(join(dir, 'ukernel.toml'), 'utf8'), 'ukernel.toml', '0.15.2');
    expect(config).toEqual({
      project: { name: 'pyw', language: 'python', entry: 'src/main.py' },
      env: { base: 'python-3.13' },
      build: { adapter: 'python' },
      run: { vcpu: 1, memory_mb: 128, net: 'none' },
    });
    // The committed example (examples/python-worker), with the project's name in place.
    const main = readFileSync(join(dir, 'src/main.py'), 'utf8');
    const example = readFileSync(join(ukernelRoot(), 'examples/python-worker/src/main.py'), 'utf8');
    expect(main).toBe(example.replaceAll('PROJECT_NAME', 'pyw'));
    expect(main).toContain('PROJECT = "pyw"');
    for (const part of [
      'import asyncio',
      'import ukernel',
      'asyncio.Queue(',
      'await asyncio.sleep(',
      'async with ukernel.Channel(',
      'await results.send(',
      'await results.recv()',
      '@ukernel.trace.span("aggregator")',
      'ukernel.trace.event("result", job_id)',
      'ukernel.trace.span("pipeline")',
    ]) {
      expect(main).toContain(part);
    }
    expect(main).toMatch(/ukernel\.log\.info\("pipeline done", /);
    expect(main).toContain('sys.exit(asyncio.run(main(sys.argv)))');
    expect(readFileSync(join(dir, 'env/ukernel.env'), 'utf8')).toMatch(/\nUKERNEL_PROJECT=pyw\n$/);
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', 'env', 'src', 'ukernel.toml']);
  });

  it('examples/python-worker is what `init --name python-worker --lang python` writes', async () => {
    const dir = fresh('python-worker');
    await initIn(dir, { lang: 'python' });
    const example = join(ukernelRoot(), 'examples/python-worker');
    expect(readFileSync(join(dir, 'ukernel.toml'), 'utf8')).toContain(readFileSync(join(example, 'ukernel.toml'), 'utf8').trim());
    const config = parseProjectConfig(readFileSync(join(example, 'ukernel.toml'), 'utf8'), 'ukernel.toml', '0.15.2');
    expect(config.project).toEqual({ name: 'python-worker', language: 'python', entry: 'src/main.py' });
  });

  it('defaults the name to the directory name', async () => {
    const dir = fresh('hello-worker');
    await initIn(dir, {});
    expect(readFileSync(join(dir, 'ukernel.toml'), 'utf8')).toContain('name = "hello-worker"');
  });

  it('refuses to overwrite, naming every existing file, and writes nothing', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src/main.zig'), 'mine');
    writeFileSync(join(dir, '.gitignore'), 'mine');
    await expect(initIn(dir, { name: 'demo' })).rejects.toMatchObject({
      code: 'UK113',
      message: 'not overwriting existing files: src/main.zig, .gitignore',
    });
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', 'src']);
    expect(readFileSync(join(dir, 'src/main.zig'), 'utf8')).toBe('mine');
    await initIn(dir, { name: 'demo', force: true });
    expect(readFileSync(join(dir, 'src/main.zig'), 'utf8')).toContain('@import("ukernel")');
  });

  it.each<[Parameters<typeof init>[0], string, RegExp]>([
    [{ name: 'Demo' }, 'UK101', /--name "Demo" is not a valid project name/],
    [{ name: '-x' }, 'UK101', /not a valid project name/],
    [{ name: 'a'.repeat(64) }, 'UK101', /not a valid project name/],
    [{ name: 'ok', lang: 'rust' }, 'UK114', /no language "rust"; available: native, python/],
    [{ name: 'ok', lang: 'python', template: 'http' }, 'UK114', /no template "http" for --lang python; available: worker/],
    [{ name: 'ok', template: 'server' }, 'UK114', /no template "server" for --lang native; available: worker, http/],
  ])('%j → %s', async (options, code, message) => {
    const dir = fresh();
    await expect(initIn(dir, options)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a directory name that is not a valid project name when --name is missing', async () => {
    await expect(initIn(fresh('My_Project'), {})).rejects.toMatchObject({
      code: 'UK101',
      message: expect.stringMatching(/the directory name "My_Project"/),
    });
  });
});
