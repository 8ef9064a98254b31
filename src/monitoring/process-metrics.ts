// The process's disk and network I/O, beside prom-client's CPU, memory, event-loop and GC defaults: read at
// scrape time from process.resourceUsage() (every platform) and, on Linux, /proc/self/io and
// /proc/self/net/dev. A /proc file the process cannot read leaves its metrics out (the README says which).
// Node has no per-process socket byte counts; the network counters are those of the process's network
// namespace (the container's own traffic in a container, the whole host's with host networking).

import { readFileSync } from 'node:fs';
import { Counter, type Registry } from 'prom-client';

export interface ProcessMetricsOptions {
  /** where /proc is (tests point it at a fixture); default `/proc` */
  procRoot?: string;
}

/** The fields of /proc/<pid>/io, in bytes (storage layer: read_bytes, write_bytes; syscalls: rchar, wchar). */
export function parseProcIo(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+)$/.exec(line.trim());
    if (match !== null) fields.set(match[1]!, Number(match[2]));
  }
  return fields;
}

/** Receive and transmit bytes of /proc/<pid>/net/dev, summed over its interfaces. */
export function parseNetDev(text: string): { receiveBytes: number; transmitBytes: number } {
  let receiveBytes = 0;
  let transmitBytes = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    // after the interface name: 8 receive columns (bytes first), then 8 transmit columns (bytes first)
    const columns = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (columns.length < 16) continue;
    receiveBytes += Number(columns[0]);
    transmitBytes += Number(columns[8]);
  }
  return { receiveBytes, transmitBytes };
}

function readable(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // not Linux, or /proc hidden: the metrics are left out, not reported as 0
  }
}

/** A counter whose value is a monotonic number the OS keeps, read at scrape time. */
function osCounter(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const value = read();
      this.reset();
      if (value !== undefined) this.inc(value);
    },
  });
}

/** Registers the process I/O counters that this platform can read. Returns their names. */
export function registerProcessMetrics(registry: Registry, options: ProcessMetricsOptions = {}): string[] {
  const root = options.procRoot ?? '/proc';
  const names: string[] = [];
  const add = (name: string, help: string, read: () => number | undefined): void => {
    osCounter(registry, name, help, read);
    names.push(name);
  };
  add(
    'mlfp_process_fs_read_operations_total',
    'Block input operations of the process (process.resourceUsage().fsRead)',
    () => process.resourceUsage().fsRead,
  );
  add(
    'mlfp_process_fs_write_operations_total',
    'Block output operations of the process (process.resourceUsage().fsWrite)',
    () => process.resourceUsage().fsWrite,
  );
  const ioPath = `${root}/self/io`;
  if (readable(ioPath) !== undefined) {
    const io = (field: string) => (): number | undefined => {
      const text = readable(ioPath);
      return text === undefined ? undefined : parseProcIo(text).get(field);
    };
    add(
      'mlfp_process_disk_read_bytes_total',
      'Bytes the process caused to be read from storage (/proc/self/io read_bytes)',
      io('read_bytes'),
    );
    add(
      'mlfp_process_disk_written_bytes_total',
      'Bytes the process caused to be written to storage (/proc/self/io write_bytes)',
      io('write_bytes'),
    );
    add(
      'mlfp_process_io_read_bytes_total',
      'Bytes the process read through read syscalls: files, sockets, pipes (/proc/self/io rchar)',
      io('rchar'),
    );
    add(
      'mlfp_process_io_written_bytes_total',
      'Bytes the process wrote through write syscalls: files, sockets, pipes (/proc/self/io wchar)',
      io('wchar'),
    );
  }
  const netPath = `${root}/self/net/dev`;
  if (readable(netPath) !== undefined) {
    const net = (field: 'receiveBytes' | 'transmitBytes') => (): number | undefined => {
      const text = readable(netPath);
      return text === undefined ? undefined : parseNetDev(text)[field];
    };
    add(
      'mlfp_process_network_receive_bytes_total',
      "Bytes received on the interfaces of the process's network namespace (/proc/self/net/dev)",
      net('receiveBytes'),
    );
    add(
      'mlfp_process_network_transmit_bytes_total',
      "Bytes sent on the interfaces of the process's network namespace (/proc/self/net/dev)",
      net('transmitBytes'),
    );
  }
  return names;
}
