// A minimal Linux guest for bench/net (d), built from Debian packages only and booted on the same
// VMM as ukernel (QEMU microvm, TCG: this machine's nested KVM cannot boot Linux).
//
// - Kernel: `apt-get download` of the package `linux-image-amd64` depends on (the bookworm
//   kernel): its bzImage (/boot/vmlinuz-*) and, since Debian builds them as modules,
//   virtio_ring, virtio, virtio_mmio, failover, net_failover and virtio_net (.ko, uncompressed:
//   CONFIG_MODULE_COMPRESS_NONE).
// - Debian's config has CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES off, so the `virtio_mmio.device=`
//   tokens microvm appends with acpi=off are ignored; the guest runs with microvm's ACPI on,
//   whose DSDT lists the virtio-mmio devices (LNRO0005), which virtio_mmio.ko binds.
// - initramfs (newc cpio, written here): busybox-static as /bin/busybox, the modules, and an
//   /init that insmods them, sets a static address, and execs the server (`busybox httpd`, or
//   the host-built template server when there is one).
// Everything downloaded or extracted is cached under ${XDG_CACHE_HOME:-~/.cache}/ukernel/bench/net.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from './procs.mjs';
import { APT_TIMEOUT_MS, aptUpdate } from './apt.mjs';

/** In load order: each after what it depends on (`depends=` in each module's .modinfo). */
export const MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'failover', 'net_failover', 'virtio_net'];
/** Memory of the Linux guest, in MiB (ukernel's runs get the same in the comparison). */
export const LINUX_MEMORY_MIB = 256;

export function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'ukernel/bench/net');
}

/** The versioned kernel package that `linux-image-amd64` depends on (apt-cache depends). */
function kernelPackage(say) {
  const depends = () => command('apt-cache', ['depends', 'linux-image-amd64'], { check: false }).stdout;
  let text = depends();
  if (!/Depends: linux-image-/.test(text)) {
    aptUpdate(say, true);
    text = depends();
  }
  const match = /Depends: (linux-image-[0-9][\w.+-]*-amd64)\b/.exec(text);
  if (match === null) throw new Error(`apt-cache depends linux-image-amd64 named no kernel package:\n${text.slice(0, 400)}`);
  return match[1];
}

/** `apt-get download PKG` into a fresh directory and extract it; returns the extracted root. */
function downloadAndExtract(pkg, work) {
  const dir = join(work, pkg);
  mkdirSync(dir, { recursive: true });
  command('apt-get', ['download', pkg], { timeoutMs: APT_TIMEOUT_MS, cwd: dir });
  const deb = readdirSync(dir).find((name) => name.endsWith('.deb'));
  if (deb === undefined) throw new Error(`apt-get download ${pkg} left no .deb`);
  const root = join(dir, 'root');
  command('dpkg-deb', ['-x', join(dir, deb), root], { timeoutMs: APT_TIMEOUT_MS });
  return root;
}

/**
 * The kernel (bzImage), its six modules and busybox, from the cache or downloaded and extracted
 * now. Returns { version, kernel, modules: {name: path}, busybox }.
 */
export function linuxParts(say) {
  const pkg = kernelPackage(say);
  const dir = join(cacheRoot(), pkg);
  const kernel = join(dir, 'vmlinuz');
  const busybox = join(cacheRoot(), 'busybox-static', 'busybox');
  const modules = Object.fromEntries(MODULES.map((name) => [name, join(dir, `${name}.ko`)]));
  const work = mkdtempSync(join(tmpdir(), 'ukernel-bench-net-deb-'));
  try {
    if (!existsSync(kernel) || !Object.values(modules).every(existsSync)) {
      say(`downloading ${pkg} (Debian) for the Linux guest; cached in ${dir}`);
      const root = downloadAndExtract(pkg, work);
      const version = pkg.replace(/^linux-image-/, '');
      const moduleDir = join(root, 'lib/modules', version);
      const found = command('find', [moduleDir, '-name', '*.ko'], {}).stdout.split('\n');
      mkdirSync(`${dir}.tmp`, { recursive: true });
      copyFileSync(join(root, 'boot', `vmlinuz-${version}`), join(`${dir}.tmp`, 'vmlinuz'));
      for (const name of MODULES) {
        const path = found.find((p) => p.endsWith(`/${name}.ko`));
        if (path === undefined) throw new Error(`${pkg} has no ${name}.ko (built in? check its /boot/config)`);
        copyFileSync(path, join(`${dir}.tmp`, `${name}.ko`));
      }
      rmSync(dir, { recursive: true, force: true });
      renameSync(`${dir}.tmp`, dir);
    }
    if (!existsSync(busybox)) {
      say('downloading busybox-static (Debian) for the Linux guest');
      const root = downloadAndExtract('busybox-static', work);
      mkdirSync(join(cacheRoot(), 'busybox-static'), { recursive: true });
      copyFileSync(join(root, 'bin/busybox'), `${busybox}.tmp`);
      renameSync(`${busybox}.tmp`, busybox);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { version: pkg, kernel, modules, busybox };
}

/** /init: mount, insmod, static address, exec the server. Arguments come from /proc/cmdline. */
function initScript() {
  return `#!/bin/busybox sh
# bench/net Linux guest /init (written by bench/net/linux-guest.mjs)
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin
addr= gw= server=httpd
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    bench.addr=*) addr=\${arg#*=} ;;
    bench.gw=*) gw=\${arg#*=} ;;
    bench.server=*) server=\${arg#*=} ;;
  esac
done
for m in ${MODULES.join(' ')}; do
  insmod /lib/modules/$m.ko || echo "bench-init: insmod $m failed"
done
i=0
while [ ! -e /sys/class/net/eth0 ]; do
  i=$((i + 1))
  if [ $i -gt 200 ]; then echo "bench-init: no eth0 after 10 s"; ls /sys/class/net; exit 1; fi
  sleep 0.05
done
ip link set lo up
ip addr add "$addr" dev eth0
ip link set eth0 up
if [ -n "$gw" ]; then ip route add default via "$gw"; fi
read up idle < /proc/uptime
echo "bench-init: eth0 $addr up at $up s; exec $server"
if [ "$server" = host ]; then exec /bin/server 80; fi
exec httpd -f -p 80 -h /www
`;
}

/** One newc (SVR4, no CRC) cpio entry: header, name, data, each padded to 4 bytes. */
function cpioEntry(name, { mode, data = Buffer.alloc(0), rdev = [0, 0] }, ino) {
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n) => n.toString(16).padStart(8, '0');
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map(hex).join('')}`);
  return Buffer.concat([header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length)]);
}

/** Initramfs files kept in the cache (each server build makes a new one), newest first. */
const INITRAMFS_KEPT_MAX = 4;

/** Removes cached initramfs files beyond the INITRAMFS_KEPT_MAX newest, never `keep`. */
function pruneInitramfs(keep) {
  const files = readdirSync(cacheRoot())
    .filter((name) => /^initramfs-[0-9a-f]{16}\.cpio$/.test(name))
    .map((name) => join(cacheRoot(), name))
    .filter((path) => path !== keep)
    .sort((x, y) => statSync(y).mtimeMs - statSync(x).mtimeMs);
  for (const path of files.slice(INITRAMFS_KEPT_MAX - 1)) rmSync(path, { force: true });
}

/**
 * The initramfs for `parts` (from linuxParts) and an optional host-built `server` binary (static),
 * cached by content. Returns its path.
 */
export function buildInitramfs(parts, server) {
  const dir = 0o040755;
  const exe = 0o100755;
  const file = 0o100644;
  const entries = [
    ['bin', { mode: dir }],
    ['dev', { mode: dir }],
    ['dev/console', { mode: 0o020600, rdev: [5, 1] }],
    ['proc', { mode: dir }],
    ['sys', { mode: dir }],
    ['tmp', { mode: dir }],
    ['lib', { mode: dir }],
    ['lib/modules', { mode: dir }],
    ['www', { mode: dir }],
    ['www/index.html', { mode: file, data: Buffer.from('hello from the Linux guest\n') }],
    ['www/healthz', { mode: file, data: Buffer.from('ok\n') }],
    ['init', { mode: exe, data: Buffer.from(initScript()) }],
    ['bin/busybox', { mode: exe, data: readFileSync(parts.busybox) }],
    ...MODULES.map((name) => [`lib/modules/${name}.ko`, { mode: file, data: readFileSync(parts.modules[name]) }]),
    ...(server === null ? [] : [['bin/server', { mode: exe, data: readFileSync(server) }]]),
  ];
  const hash = createHash('sha256');
  for (const [name, entry] of entries) hash.update(name).update(entry.data ?? Buffer.alloc(0));
  const path = join(cacheRoot(), `initramfs-${hash.digest('hex').slice(0, 16)}.cpio`);
  if (!existsSync(path)) {
    const body = entries.map(([name, entry], index) => cpioEntry(name, entry, index + 1));
    body.push(cpioEntry('TRAILER!!!', { mode: 0 }, 0));
    writeFileSync(`${path}.tmp`, Buffer.concat(body));
    renameSync(`${path}.tmp`, path);
    pruneInitramfs(path);
  }
  return path;
}

/**
 * The host's TSC frequency in kHz, which a TCG guest's TSC runs at (QEMU 7.2 without icount reads
 * the host's TSC): from the host kernel's own calibration in `dmesg` ("tsc: Refined TSC
 * clocksource calibration" or "tsc: Detected N MHz"), else /proc/cpuinfo's "cpu MHz". Returns
 * { khz, source }, or null when neither says.
 */
export function hostTscKhz() {
  const log = command('dmesg', [], { check: false, timeoutMs: 5000 }).stdout ?? '';
  const refined = /tsc: Refined TSC clocksource calibration: ([\d.]+) MHz/.exec(log);
  const detected = /tsc: Detected ([\d.]+) MHz/.exec(log);
  const fromLog = refined ?? detected;
  if (fromLog !== null) return { khz: Math.round(Number(fromLog[1]) * 1000), source: 'dmesg' };
  const cpuinfo = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return cpuinfo === null ? null : { khz: Math.round(Number(cpuinfo[1]) * 1000), source: '/proc/cpuinfo' };
}

/**
 * QEMU argv for the Linux guest: microvm with ACPI (see the header), TCG, the same memory and
 * vCPU count as the ukernel side, serial on stdio, and one virtio-net device on `netdev` (a
 * `-netdev` value: user with hostfwd, or tap). `address` is CIDR, `gateway` may be null,
 * `tscKhz` from hostTscKhz (or null).
 */
export function linuxQemuArgs({ parts, initramfs, netdev, address, gateway, server, tscKhz }) {
  const cmdline = [
    'console=ttyS0',
    'quiet',
    // Under TCG on a loaded host, calibrating the TSC against the PIT fails now and then
    // ("tsc: Unable to calibrate against PIT"; microvm has no HPET or PM timer), and the boot
    // then hangs; the host's TSC frequency, given here, skips that calibration.
    ...(tscKhz == null ? [] : [`tsc_early_khz=${tscKhz}`]),
    'panic=-1',
    'rdinit=/init',
    `bench.addr=${address}`,
    ...(gateway === null ? [] : [`bench.gw=${gateway}`]),
    `bench.server=${server === null ? 'httpd' : 'host'}`,
  ].join(' ');
  return [
    ...['-M', 'microvm,acpi=on,rtc=on', '-accel', 'tcg', '-m', String(LINUX_MEMORY_MIB), '-smp', '1'],
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot'],
    ...['-global', 'virtio-mmio.force-legacy=off'],
    ...['-kernel', parts.kernel, '-initrd', initramfs, '-append', cmdline],
    ...['-netdev', netdev, '-device', 'virtio-net-device,netdev=n0'],
  ];
}
