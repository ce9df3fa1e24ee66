// Parser for `@uk:` records (docs/console-protocol.md, version 1).
// Guest output is untrusted: every field is checked against the grammar and a range
// before it is used. Anything that does not fit is "malformed" and shown as text.
import {
  EVENT_NAME_BYTES_MAX,
  EVENT_T_NS_MAX,
  KVMCLOCK_NS_MAX,
  PHASE_NS_MAX,
  RECORD_FIELDS_MAX,
  RECORD_LINE_MAX_BYTES,
  TSC_KHZ_MAX,
} from '../constants.js';
import { CONSOLE_PROTOCOL_VERSION } from '../abi/contracts.js';
import { isIpv4 } from '../vmm/network.js';

export const RECORD_PREFIX = '@uk:';
/** Shared with the kernel: generated from abi/contracts.json. */
export const PROTOCOL_VERSION = CONSOLE_PROTOCOL_VERSION;

export interface BootRecord {
  kind: 'boot';
  proto: string;
  clock: string;
  tscKhz: number;
  /** Phase name → ns since kernel entry, in boot order; `ready` is last. */
  phasesNs: ReadonlyArray<readonly [string, number]>;
  readyNs: number;
  kvmclockNs: number | null;
}

export interface ExitRecord {
  kind: 'exit';
  status: number;
  reason: string | null;
  /** Log and trace records the kernel could not write to the events device (`events_dropped=N`);
   *  null when absent (or unreadable: the status matters more than this count). */
  eventsDropped: number | null;
  /** `events_failed=1`: a write to the events device failed (the host's disk full, or an I/O
   *  error); null when absent. */
  eventsFailed: boolean | null;
  /** `interrupts_unexpected=N`: device interrupts no driver claimed (counted, not fatal); null
   *  when absent or unreadable. */
  interruptsUnexpected: number | null;
}

/** The workload started (kernel about to call its main) or returned. */
export interface WorkloadRecord {
  kind: 'workload';
  event: 'start' | 'exit';
  /** Guest ns since kernel entry (same clock as the boot phases). */
  tNs: number;
  /** The workload's return value; `exit` only. */
  status: number | null;
  /** `start` only: how long the steps before it took (`disk_ns=…` → ["disk", ns]), in record order. */
  stepsNs: ReadonlyArray<readonly [string, number]>;
}

/**
 * A trace record sent on the console because there is no events device
 * (docs/observability.md): a span begins or ends, or an event happens.
 */
export interface TraceRecord {
  kind: 'trace';
  event: 'begin' | 'end' | 'event';
  task: number;
  /** Guest ns since kernel entry. */
  tNs: number;
  /** begin/end: the span id (never 0); event: 0n. */
  span: bigint;
  /** begin: the enclosing span, 0n for none; else 0n. */
  parent: bigint;
  /** begin/event: the name; end: ''. */
  name: string;
  /** event: its value; else 0n. */
  value: bigint;
}

/**
 * `@uk:mark v=1 t_ns=N`: the guest time of the serial text that follows. The kernel writes it when
 * it prints to the serial console while an events device is attached, so that `ukernel logs` can
 * place that text among the events device's timed output.
 */
export interface MarkRecord {
  kind: 'mark';
  tNs: number;
}

/**
 * `@uk:net`: the guest's network interface is configured (or gave up waiting for DHCP):
 * where its address came from, the address, gateway and resolver, and how long it took.
 */
export interface NetRecord {
  kind: 'net';
  mac: string;
  source: 'static' | 'dhcp' | 'none';
  /** `A.B.C.D/PREFIX`. */
  address: string;
  gateway: string;
  /** `A.B.C.D:PORT`. */
  dns: string;
  /** From the NIC's set-up to its address (guest ns). */
  configNs: number;
}

/** `@uk:netstat`: the network stack's counters at exit (frames, drops, what lwIP still holds). */
export interface NetStatsRecord {
  kind: 'netstat';
  /** Every field of the record, by its name (`rx_frames`, `pool_pbufs_used`, …). */
  counters: Readonly<Record<string, number>>;
}

export type UkRecord = BootRecord | ExitRecord | WorkloadRecord | TraceRecord | MarkRecord | NetRecord | NetStatsRecord;

export type ParseResult =
  | { type: 'record'; record: UkRecord }
  /** Well-formed, but of a kind this CLI does not know: ignore silently. */
  | { type: 'ignored'; kind: string }
  /** Starts with `@uk:` but breaks the grammar or a range: treat as console text. */
  | { type: 'malformed'; reason: string }
  /** Does not start with `@uk:`. */
  | { type: 'text' };

const KIND_RE = /^[a-z_]+$/;
const KEY_RE = /^[a-z0-9_.]+$/;
const VALUE_RE = /^[A-Za-z0-9_.:\-/]+$/;
const DECIMAL_RE = /^[0-9]{1,16}$/;
const U64_RE = /^[0-9]{1,20}$/;
const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;

/** Parse one console line (without its line terminator). */
export function parseRecordLine(line: Uint8Array): ParseResult {
  if (!startsWithPrefix(line)) return { type: 'text' };
  if (line.length > RECORD_LINE_MAX_BYTES) {
    return { type: 'malformed', reason: `longer than ${RECORD_LINE_MAX_BYTES} bytes` };
  }
  // latin1 maps bytes 1:1; the regexes below only admit ASCII, so non-ASCII fails.
  const text = Buffer.from(line.buffer, line.byteOffset, line.length).toString('latin1');
  const tokens = text.slice(RECORD_PREFIX.length).split(' ');
  const kind = tokens[0] ?? '';
  if (!KIND_RE.test(kind)) return { type: 'malformed', reason: 'bad record kind' };
  if (tokens.length < 2) return { type: 'malformed', reason: 'record has no fields' };
  if (tokens.length - 1 > RECORD_FIELDS_MAX) return { type: 'malformed', reason: 'too many fields' };

  const fields = new Map<string, string>();
  for (const token of tokens.slice(1)) {
    const eq = token.indexOf('=');
    if (eq <= 0) return { type: 'malformed', reason: `bad field "${token}"` };
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (!KEY_RE.test(key)) return { type: 'malformed', reason: `bad key "${key}"` };
    if (!VALUE_RE.test(value)) return { type: 'malformed', reason: `bad value for ${key}` };
    if (fields.has(key)) return { type: 'malformed', reason: `duplicate key ${key}` };
    fields.set(key, value);
  }

  if (fields.get('v') !== String(PROTOCOL_VERSION)) {
    return { type: 'malformed', reason: `missing or unsupported v (want v=${PROTOCOL_VERSION})` };
  }
  switch (kind) {
    case 'boot':
      return parseBoot(fields);
    case 'exit':
      return parseExit(fields);
    case 'workload':
      return parseWorkload(fields);
    case 'trace':
      return parseTrace(fields);
    case 'net':
      return parseNet(fields);
    case 'netstat':
      return parseNetStats(fields);
    case 'mark': {
      const tNs = parseDecimal(fields.get('t_ns'), 0, EVENT_T_NS_MAX);
      return tNs === null
        ? { type: 'malformed', reason: 'mark: missing or out-of-range t_ns' }
        : { type: 'record', record: { kind: 'mark', tNs } };
    }
    default:
      return { type: 'ignored', kind };
  }
}

function startsWithPrefix(line: Uint8Array): boolean {
  if (line.length < RECORD_PREFIX.length) return false;
  for (let i = 0; i < RECORD_PREFIX.length; i++) {
    if (line[i] !== RECORD_PREFIX.charCodeAt(i)) return false;
  }
  return true;
}

/** A decimal u64 (0 ..= 2^64 - 1), or null. */
export function parseU64(value: string | undefined): bigint | null {
  if (value === undefined || !U64_RE.test(value)) return null;
  const n = BigInt(value);
  return n <= U64_MAX ? n : null;
}

/** A decimal in [min, max], or null. */
export function parseDecimal(value: string | undefined, min: number, max: number): number | null {
  if (value === undefined || !DECIMAL_RE.test(value)) return null;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) return null;
  return n;
}

function parseBoot(fields: Map<string, string>): ParseResult {
  const proto = fields.get('proto');
  const clock = fields.get('clock');
  if (proto === undefined) return { type: 'malformed', reason: 'boot: missing proto' };
  if (clock === undefined) return { type: 'malformed', reason: 'boot: missing clock' };
  const tscKhz = parseDecimal(fields.get('tsc_khz'), 1, TSC_KHZ_MAX);
  if (tscKhz === null) return { type: 'malformed', reason: 'boot: missing or out-of-range tsc_khz' };

  let kvmclockNs: number | null = null;
  if (fields.has('kvmclock_ns')) {
    kvmclockNs = parseDecimal(fields.get('kvmclock_ns'), 0, KVMCLOCK_NS_MAX);
    if (kvmclockNs === null) return { type: 'malformed', reason: 'boot: out-of-range kvmclock_ns' };
  }

  const phasesNs: Array<readonly [string, number]> = [];
  for (const [key, value] of fields) {
    if (!key.startsWith('phase.')) continue;
    const name = key.slice('phase.'.length);
    if (name.length === 0) return { type: 'malformed', reason: 'boot: empty phase name' };
    const ns = parseDecimal(value, 0, PHASE_NS_MAX);
    if (ns === null) return { type: 'malformed', reason: `boot: out-of-range ${key}` };
    const previous = phasesNs[phasesNs.length - 1];
    if (previous !== undefined && ns < previous[1]) {
      return { type: 'malformed', reason: `boot: ${key} goes back in time` };
    }
    phasesNs.push([name, ns]);
  }
  const last = phasesNs[phasesNs.length - 1];
  if (last === undefined || last[0] !== 'ready') {
    return { type: 'malformed', reason: 'boot: phase.ready missing or not last' };
  }
  return {
    type: 'record',
    record: { kind: 'boot', proto, clock, tscKhz, phasesNs, readyNs: last[1], kvmclockNs },
  };
}

function parseExit(fields: Map<string, string>): ParseResult {
  const status = parseDecimal(fields.get('status'), 0, 255);
  if (status === null) return { type: 'malformed', reason: 'exit: missing or out-of-range status' };
  const eventsDropped = parseDecimal(fields.get('events_dropped'), 0, Number.MAX_SAFE_INTEGER);
  const failed = fields.get('events_failed');
  const eventsFailed = failed === '1' ? true : failed === '0' ? false : null;
  const interruptsUnexpected = parseDecimal(fields.get('interrupts_unexpected'), 0, Number.MAX_SAFE_INTEGER);
  return {
    type: 'record',
    record: { kind: 'exit', status, reason: fields.get('reason') ?? null, eventsDropped, eventsFailed, interruptsUnexpected },
  };
}

function parseWorkload(fields: Map<string, string>): ParseResult {
  const event = fields.get('event');
  if (event !== 'start' && event !== 'exit') return { type: 'malformed', reason: 'workload: event must be start or exit' };
  const tNs = parseDecimal(fields.get('t_ns'), 0, PHASE_NS_MAX);
  if (tNs === null) return { type: 'malformed', reason: 'workload: missing or out-of-range t_ns' };
  let status: number | null = null;
  if (event === 'exit') {
    status = parseDecimal(fields.get('status'), 0, 255);
    if (status === null) return { type: 'malformed', reason: 'workload: exit without a status in 0..255' };
  }
  const stepsNs: Array<readonly [string, number]> = [];
  for (const [key, value] of fields) {
    if (key === 't_ns' || !key.endsWith('_ns')) continue;
    const ns = parseDecimal(value, 0, PHASE_NS_MAX);
    if (ns === null) return { type: 'malformed', reason: `workload: out-of-range ${key}` };
    stepsNs.push([key.slice(0, -'_ns'.length), ns]);
  }
  return { type: 'record', record: { kind: 'workload', event, tNs, status, stepsNs } };
}

function parseTrace(fields: Map<string, string>): ParseResult {
  const event = fields.get('kind');
  if (event !== 'begin' && event !== 'end' && event !== 'event') {
    return { type: 'malformed', reason: 'trace: kind must be begin, end or event' };
  }
  const task = parseDecimal(fields.get('task'), 0, U32_MAX);
  if (task === null) return { type: 'malformed', reason: 'trace: missing or out-of-range task' };
  const tNs = parseDecimal(fields.get('t_ns'), 0, EVENT_T_NS_MAX);
  if (tNs === null) return { type: 'malformed', reason: 'trace: missing or out-of-range t_ns' };
  let span = 0n;
  let parent = 0n;
  let value = 0n;
  let name = '';
  if (event === 'begin' || event === 'end') {
    const parsed = parseU64(fields.get('span'));
    if (parsed === null || parsed === 0n) return { type: 'malformed', reason: `trace: ${event} without a span id in 1..2^64-1` };
    span = parsed;
  }
  if (event === 'begin') {
    const parsed = parseU64(fields.get('parent') ?? '0');
    if (parsed === null) return { type: 'malformed', reason: 'trace: out-of-range parent' };
    parent = parsed;
  }
  if (event === 'event') {
    const parsed = parseU64(fields.get('value'));
    if (parsed === null) return { type: 'malformed', reason: 'trace: event without a value in 0..2^64-1' };
    value = parsed;
  }
  if (event !== 'end') {
    name = fields.get('name') ?? '';
    if (name.length === 0 || name.length > EVENT_NAME_BYTES_MAX) {
      return { type: 'malformed', reason: `trace: ${event} needs a name of 1..${EVENT_NAME_BYTES_MAX} characters` };
    }
  }
  return { type: 'record', record: { kind: 'trace', event, task, tNs, span, parent, name, value } };
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function parseNet(fields: Map<string, string>): ParseResult {
  const mac = fields.get('mac');
  if (mac === undefined || !MAC_RE.test(mac)) return { type: 'malformed', reason: 'net: missing or bad mac' };
  const source = fields.get('source');
  if (source !== 'static' && source !== 'dhcp' && source !== 'none') {
    return { type: 'malformed', reason: 'net: source must be static, dhcp or none' };
  }
  const address = fields.get('address') ?? '';
  const [ip, prefix, ...rest] = address.split('/');
  if (ip === undefined || !isIpv4(ip) || rest.length > 0 || parseDecimal(prefix, 0, 32) === null) {
    return { type: 'malformed', reason: 'net: bad address (want A.B.C.D/PREFIX)' };
  }
  const gateway = fields.get('gateway') ?? '';
  if (!isIpv4(gateway)) return { type: 'malformed', reason: 'net: bad gateway' };
  const dns = fields.get('dns') ?? '';
  const [dnsIp, dnsPort, ...dnsRest] = dns.split(':');
  if (dnsIp === undefined || !isIpv4(dnsIp) || dnsRest.length > 0 || parseDecimal(dnsPort, 0, 65535) === null) {
    return { type: 'malformed', reason: 'net: bad dns (want A.B.C.D:PORT)' };
  }
  const configNs = parseDecimal(fields.get('config_ns'), 0, PHASE_NS_MAX);
  if (configNs === null) return { type: 'malformed', reason: 'net: missing or out-of-range config_ns' };
  return { type: 'record', record: { kind: 'net', mac, source, address, gateway, dns, configNs } };
}

function parseNetStats(fields: Map<string, string>): ParseResult {
  const counters: Record<string, number> = {};
  for (const [key, value] of fields) {
    if (key === 'v') continue;
    const n = parseDecimal(value, 0, Number.MAX_SAFE_INTEGER);
    if (n === null) return { type: 'malformed', reason: `netstat: out-of-range ${key}` };
    counters[key] = n;
  }
  return { type: 'record', record: { kind: 'netstat', counters } };
}
