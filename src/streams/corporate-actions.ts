// Corporate actions (splits, cash dividends): validation of `corporate.actions` messages and the bounded
// in-memory book every engine instance keeps of the whole topic. Applying them to feature state is the
// CorporateActionAdjuster's job (corporate-action-adjuster.ts); reading the topic is CorporateActionReader's.

import { daysFromCivil, DAY_MS } from '../domain/time.js';
import type { CorporateAction, DeadLetter, SourceRef } from '../domain/types.js';
import { DEFAULT_SYMBOL_PATTERN, readNumber } from '../domain/validate-tick.js';
import { describeValue, type ErrorCode } from '../errors.js';

const EX_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MIN_EX_DATE_MS = 0;
const MAX_EX_DATE_MS = Date.UTC(2200, 0, 1);

/**
 * Checks one decoded message: `{"symbol","type":"split"|"dividend","exDate":"YYYY-MM-DD","ratio"?,"amount"?}`.
 * A split needs ratio > 0 (new shares per old share; 0.25 = 1-for-4 reverse split), a dividend amount > 0.
 * Reasons: wrong_type (not an object, a field of the wrong type), missing_field, bad_symbol, unknown_action
 * (type, or a ratio/amount that cannot be applied), bad_time (exDate), not_finite. Only own fields are read.
 */
export function parseCorporateAction(value: unknown, source?: SourceRef): CorporateAction | DeadLetter {
  const reject = (
    reason: ErrorCode,
    field: string | undefined,
    got: unknown,
    message: string,
  ): DeadLetter => ({
    reason,
    field,
    value: got === undefined ? undefined : describeValue(got),
    message,
    source,
  });
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return reject('wrong_type', undefined, undefined, 'corporate action must be a JSON object');
  const record = value as Record<string, unknown>;
  const symbol = record.symbol;
  if (symbol === undefined || symbol === null)
    return reject('missing_field', 'symbol', symbol, 'symbol is required');
  if (typeof symbol !== 'string') return reject('wrong_type', 'symbol', symbol, 'symbol must be a string');
  if (!DEFAULT_SYMBOL_PATTERN.test(symbol))
    return reject('bad_symbol', 'symbol', symbol, 'symbol does not match the symbol pattern');
  const type = record.type;
  if (type === undefined || type === null) return reject('missing_field', 'type', type, 'type is required');
  if (type !== 'split' && type !== 'dividend')
    return reject('unknown_action', 'type', type, 'type must be "split" or "dividend"');
  const exDateValue = record.exDate;
  if (exDateValue === undefined || exDateValue === null)
    return reject('missing_field', 'exDate', exDateValue, 'exDate is required');
  const exDate = typeof exDateValue === 'string' ? parseExDate(exDateValue) : Number.NaN;
  if (Number.isNaN(exDate))
    return reject(
      'bad_time',
      'exDate',
      exDateValue,
      'exDate must be a calendar date YYYY-MM-DD in 1970..2199',
    );
  const field = type === 'split' ? 'ratio' : 'amount';
  const raw = record[field];
  const number = readNumber(raw);
  if (number === 'missing_field') return reject('missing_field', field, raw, `a ${type} needs ${field}`);
  if (number === 'not_finite') return reject('not_finite', field, raw, `${field} must be finite`);
  if (number === 'wrong_type') return reject('wrong_type', field, raw, `${field} must be a number`);
  if (!(number > 0)) return reject('unknown_action', field, raw, `${field} must be > 0`);
  return type === 'split'
    ? { symbol, type, exDate, ratio: number }
    : { symbol, type, exDate, amount: number };
}

/** 'YYYY-MM-DD' → epoch ms of 00:00 UTC, or NaN (also for dates that do not exist, like 2024-02-30). */
export function parseExDate(text: string): number {
  const match = EX_DATE.exec(text);
  if (match === null) return Number.NaN;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return Number.NaN;
  const ms = daysFromCivil(year, month, day) * DAY_MS;
  if (new Date(ms).getUTCDate() !== day || ms < MIN_EX_DATE_MS || ms >= MAX_EX_DATE_MS) return Number.NaN;
  return ms;
}

/** Same day: dividends first (their amount is quoted against the pre-split close), then splits. */
function compareActions(a: CorporateAction, b: CorporateAction): number {
  if (a.exDate !== b.exDate) return a.exDate - b.exDate;
  if (a.type === b.type) return 0;
  return a.type === 'dividend' ? -1 : 1;
}

/**
 * The known actions per symbol, sorted by (exDate, dividend before split). One action per (symbol, type,
 * exDate): a later message with the same key replaces it (a correction). Holds at most `maxActions`; past
 * that the action with the oldest ex-date is forgotten (its ex-date passed long ago, so it is applied).
 */
export class CorporateActionBook {
  private readonly bySymbol = new Map<string, CorporateAction[]>();
  private count = 0;
  /** bumped by every change, so observers can tell the book moved */
  version = 0;

  constructor(readonly maxActions = 100_000) {}

  get size(): number {
    return this.count;
  }

  add(action: CorporateAction): void {
    let list = this.bySymbol.get(action.symbol);
    if (list === undefined) this.bySymbol.set(action.symbol, (list = []));
    const existing = list.findIndex((item) => item.type === action.type && item.exDate === action.exDate);
    if (existing >= 0) list[existing] = { ...action };
    else {
      list.push({ ...action });
      this.count++;
    }
    list.sort(compareActions);
    this.version++;
    while (this.count > this.maxActions) this.evictOldest();
  }

  /** The symbol's actions in application order; undefined when it has none (the common, cheap case). */
  actionsOf(symbol: string): readonly CorporateAction[] | undefined {
    return this.bySymbol.get(symbol);
  }

  private evictOldest(): void {
    let oldestSymbol: string | undefined;
    let oldestMs = Number.POSITIVE_INFINITY;
    for (const [symbol, list] of this.bySymbol) {
      const first = list[0];
      if (first !== undefined && first.exDate < oldestMs) {
        oldestMs = first.exDate;
        oldestSymbol = symbol;
      }
    }
    if (oldestSymbol === undefined) return;
    const list = this.bySymbol.get(oldestSymbol)!;
    list.shift();
    if (list.length === 0) this.bySymbol.delete(oldestSymbol);
    this.count--;
  }
}
