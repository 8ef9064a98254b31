// The TickValidator's versioned JSON snapshot (last accepted seq per (exchange, symbol)): writing it, and
// validating one in full (snapshot_invalid) before restore() swaps it in, so a bad snapshot changes nothing.

import { MlfpError } from '../errors.js';

/** Versioned plain-JSON state of a TickValidator: the last accepted seq per (exchange, symbol). */
export interface TickValidatorSnapshot {
  version: 1;
  kind: 'mlfp.tick-validator';
  /** [exchange ('' when absent), symbol, last accepted seq], oldest key first */
  sequences: Array<[string, string, number]>;
}

/** exchange ('' when absent) -> symbol -> last accepted seq */
export type SequencesByExchange = Map<string, Map<string, number>>;

/** The duplicate-detection state as versioned plain JSON. */
export function writeTickValidatorSnapshot(sequencesByExchange: SequencesByExchange): TickValidatorSnapshot {
  const sequences: Array<[string, string, number]> = [];
  for (const [exchange, bySymbol] of sequencesByExchange) {
    for (const [symbol, seq] of bySymbol) sequences.push([exchange, symbol, seq]);
  }
  return { version: 1, kind: 'mlfp.tick-validator', sequences };
}

/** The sequences of a snapshot and their key count; throws snapshot_invalid. */
export function parseTickValidatorSnapshot(
  snapshot: unknown,
  maxSequenceKeys: number,
): { sequences: SequencesByExchange; count: number } {
  const fail = (message: string): never => {
    throw new MlfpError('snapshot_invalid', `tick validator snapshot: ${message}`);
  };
  if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
  const candidate = snapshot as Partial<TickValidatorSnapshot>;
  if (candidate.version !== 1 || candidate.kind !== 'mlfp.tick-validator')
    return fail(`unsupported version/kind ${String(candidate.version)}/${String(candidate.kind)}`);
  if (!Array.isArray(candidate.sequences)) return fail('sequences must be an array');
  const sequences: SequencesByExchange = new Map();
  let count = 0;
  for (const entry of candidate.sequences as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 3) return fail('each sequence is [exchange, symbol, seq]');
    const [exchange, symbol, seq] = entry as unknown[];
    if (typeof exchange !== 'string' || typeof symbol !== 'string')
      return fail('exchange and symbol must be strings');
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
      return fail(`seq of ${symbol} must be a non-negative safe integer`);
    let bySymbol = sequences.get(exchange);
    if (bySymbol === undefined) sequences.set(exchange, (bySymbol = new Map()));
    if (!bySymbol.has(symbol)) count++;
    bySymbol.set(symbol, seq);
  }
  if (count > maxSequenceKeys) return fail(`${count} keys exceed maxSequenceKeys ${maxSequenceKeys}`);
  return { sequences, count };
}
