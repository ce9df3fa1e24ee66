// Long-running children and clean-up for bench/net: every VM, server and network namespace the
// benchmark starts is registered here and torn down on normal exit, on an error, and on
// Ctrl-C/SIGTERM (synchronously, so nothing outlives the benchmark).
import { spawn, spawnSync } from 'node:child_process';

/** Grace between SIGTERM and SIGKILL when a child is stopped, in ms. */
const STOP_GRACE_MS = 3000;
/** A bounded one-shot command (ip, apt-get …) may take at most this long by default, in ms. */
const COMMAND_TIMEOUT_MS = 60_000;

/** BENCH_NET_DEBUG=1 copies every child's output to stderr as it comes. */
const DEBUG = process.env.BENCH_NET_DEBUG === '1';
const children = new Set();
const finalizers = [];
let installed = false;

/** Runs every finalizer (last registered first) and kills every child still running. Sync. */
export function cleanupAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) killGroup(child);
  }
  children.clear();
  while (finalizers.length > 0) {
    const finalize = finalizers.pop();
    try {
      finalize();
    } catch (err) {
      process.stderr.write(`bench/net: clean-up step failed: ${err.message}\n`);
    }
  }
}

/** Installs the exit and signal handlers once: clean up, then exit 130/143 on a signal. */
export function installCleanup() {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupAll);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ]) {
    process.on(signal, () => {
      process.stderr.write(`\nbench/net: ${signal}: stopping VMs and servers, removing namespaces\n`);
      cleanupAll();
      process.exit(code);
    });
  }
}

/** Registers a synchronous clean-up step (removing a namespace, a temporary directory). */
export function onCleanup(finalize) {
  finalizers.push(finalize);
}

/**
 * Starts a long-running child (a VMM, `ukernel run`, a server). Its stdout and stderr are kept
 * (the last `keepBytes` of each) for messages. Resolves nothing: use `stop` to end it.
 * Returns { child, output(): string, exited: Promise<{code, signal}> }.
 */
export function startChild(file, args, { cwd, env, keepBytes = 64 * 1024 } = {}) {
  // A process group of its own, so that what it starts (`ukernel run`'s QEMU) goes with it when
  // it has to be killed.
  const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let out = '';
  const keep = (chunk) => {
    if (DEBUG) process.stderr.write(`[${file}] ${chunk}`);
    out += chunk;
    if (out.length > keepBytes * 2) out = out.slice(-keepBytes);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.on('error', (err) => {
      keep(`\n[spawn error: ${err.message}]\n`);
      children.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, output: () => out, exited, label: `${file} ${args.slice(0, 3).join(' ')}` };
}

/** SIGKILL to the process group a child from startChild leads (its pid), else to the child. */
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * Stops a child from startChild: SIGTERM (or `signal`) to it alone, so that `ukernel run` stops
 * its VM itself; SIGKILL to its whole process group after STOP_GRACE_MS.
 */
export async function stop(handle, signal = 'SIGTERM') {
  const { child, exited } = handle;
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill(signal);
  const timer = setTimeout(() => {
    process.stderr.write(`bench/net: ${handle.label} ignored ${signal} for ${STOP_GRACE_MS} ms; killing it\n`);
    killGroup(child);
  }, STOP_GRACE_MS);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

/**
 * Runs a short command synchronously with a bound; returns { code, stdout, stderr }. `check`
 * throws with the command's stderr when it exits non-zero or times out.
 */
export function command(file, args, { check = true, timeoutMs = COMMAND_TIMEOUT_MS, env, input, cwd } = {}) {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: timeoutMs, env, input, cwd, maxBuffer: 64 << 20 });
  if (result.error?.code === 'ETIMEDOUT') throw new Error(`${file} ${args.join(' ')} did not finish within ${timeoutMs} ms`);
  if (result.error) throw new Error(`${file}: ${result.error.message}`);
  if (check && result.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.status}: ${(result.stderr || result.stdout).trim().slice(-800)}`);
  }
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
