#!/usr/bin/env node
// Writes schema/ukernel.schema.json (the JSON Schema of ukernel.toml, for editors) from the zod
// schema in cli/src/project/config.ts, via the built CLI library. A unit test
// (cli/src/project/config.test.ts, "schema/ukernel.schema.json") fails when the committed file is stale.
//
// usage: node cli/build.mjs && node scripts/generate-schema.mjs [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { renderJsonSchema, parseToolchainEnv } = await import(join(root, 'cli/dist/lib.js'));
const pins = parseToolchainEnv(readFileSync(join(root, 'scripts/toolchain.env'), 'utf8'));
const path = join(root, 'schema/ukernel.schema.json');
const schema = renderJsonSchema(pins.ZIG_VERSION);
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // Missing: stale.
  }
  if (current !== schema) {
    process.stderr.write('schema/ukernel.schema.json is stale: run `node cli/build.mjs && node scripts/generate-schema.mjs`\n');
    process.exit(1);
  }
} else {
  writeFileSync(path, schema);
  process.stdout.write('wrote schema/ukernel.schema.json\n');
}
