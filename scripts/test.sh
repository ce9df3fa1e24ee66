#!/usr/bin/env bash
# The whole test suite: kernel host unit tests (zig build test), the POSIX layer's host unit tests
# (adapters/posix), the kernel tidy gate (zig build tidy), CLI unit tests and end-to-end tests
# that boot the real kernel under QEMU with KVM (when usable) and TCG (vitest), and the
# TypeScript tidy checks (tsc --noEmit, Biome).
# Ends with one line: "N passed, N failed[, N skipped]".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/bootstrap.sh" || exit 2
"$root/scripts/build-kernel.sh" || { echo "0 passed, 1 failed"; exit 1; }
if [ -x tests/fc_shim/build.sh ]; then tests/fc_shim/build.sh >/dev/null || { echo "0 passed, 1 failed"; exit 1; }; fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

echo "== kernel unit tests (zig build test)"
"$root/scripts/build-kernel.sh" test --summary all 2>&1 | tee "$results/zig.txt"
zig_status=${PIPESTATUS[0]}

# The POSIX layer of C adapters (adapters/posix): its host unit tests and zig fmt --check.
echo "== POSIX layer unit tests (adapters/posix/build.sh test tidy)"
"$root/adapters/posix/build.sh" test tidy --summary all 2>&1 | tee "$results/posix.txt"
posix_status=${PIPESTATUS[0]}

# The kernel tidy gate: zig fmt --check over all Zig (kernel, sdk, tests/workloads, bench,
# examples), and kernel/tools/tidy.zig (format, line and function length, unused imports, dead
# declarations, imports inside functions, the layer rule). Its tests count like the others; a
# failed zig fmt --check counts as one failure.
echo "== kernel tidy gate (zig build tidy)"
"$root/scripts/build-kernel.sh" tidy --summary all 2>&1 | tee "$results/tidy.txt"
tidy_status=${PIPESTATUS[0]}

echo "== CLI unit and end-to-end tests (vitest)"
npx vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json"
vitest_status=$?

# == TypeScript tidy: the type check and Biome (formatter + linter, biome.jsonc). Each check
# counts as one test: "$results/gate-NAME.status" holds its exit status for the summary below.
echo "== TypeScript tidy: tsc --noEmit"
npx tsc --noEmit -p .
echo $? >"$results/gate-tsc.status"
echo "== TypeScript tidy: biome ci (format and lint; fix with: npx biome check --write .)"
npx biome ci --error-on-warnings --reporter=summary .
echo $? >"$results/gate-biome.status"

node - "$results" "$zig_status" "$vitest_status" "$tidy_status" "$posix_status" <<'JS'
const fs = require('node:fs');
const [dir, zigStatus, vitestStatus, tidyStatus, posixStatus] = process.argv.slice(2);
let passed = 0, failed = 0, skipped = 0;
const zig = fs.readFileSync(`${dir}/zig.txt`, 'utf8');
const m = zig.match(/(\d+)\/(\d+) tests passed/);
if (m) { passed += +m[1]; failed += +m[2] - +m[1]; } else if (zigStatus !== '0') failed += 1;
const sk = zig.match(/(\d+) skipped/); if (sk) skipped += +sk[1];
const tidy = fs.readFileSync(`${dir}/tidy.txt`, 'utf8');
const t = tidy.match(/(\d+)\/(\d+) tests passed/);
if (t) { passed += +t[1]; failed += +t[2] - +t[1]; }
if (tidyStatus !== '0' && (!t || t[1] === t[2])) failed += 1; // zig fmt --check (or the build)
const posix = fs.readFileSync(`${dir}/posix.txt`, 'utf8');
const p = posix.match(/(\d+)\/(\d+) tests passed/);
if (p) { passed += +p[1]; failed += +p[2] - +p[1]; }
if (posixStatus !== '0' && (!p || p[1] === p[2])) failed += 1; // zig fmt --check (or the build)
try {
  const v = JSON.parse(fs.readFileSync(`${dir}/vitest.json`, 'utf8'));
  passed += v.numPassedTests; failed += v.numFailedTests; skipped += v.numPendingTests + (v.numTodoTests ?? 0);
  if (vitestStatus !== '0' && v.numFailedTests === 0) failed += 1; // a suite failed to load
} catch { failed += 1; }
for (const file of fs.readdirSync(dir).filter((f) => /^gate-.*\.status$/.test(f))) {
  if (fs.readFileSync(`${dir}/${file}`, 'utf8').trim() === '0') passed += 1;
  else failed += 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || zigStatus !== '0' || vitestStatus !== '0' || tidyStatus !== '0' || posixStatus !== '0' ? 1 : 0);
JS
