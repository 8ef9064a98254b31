import { describe, expect, it } from 'vitest';
import { isDeadLetter, type CorporateAction, type DeadLetter } from '../domain/types.js';
import { CorporateActionBook, parseCorporateAction, parseExDate } from './corporate-actions.js';

const JUNE_10 = Date.UTC(2024, 5, 10);

describe('parseCorporateAction', () => {
  it('accepts a split and a dividend, ex-date at 00:00 UTC', () => {
    expect(parseCorporateAction({ symbol: 'NVDA', type: 'split', exDate: '2024-06-10', ratio: 10 })).toEqual({
      symbol: 'NVDA',
      type: 'split',
      exDate: JUNE_10,
      ratio: 10,
    });
    expect(
      parseCorporateAction({ symbol: 'AAPL', type: 'dividend', exDate: '2024-06-10', amount: '0.25', x: 1 }),
    ).toEqual({
      symbol: 'AAPL',
      type: 'dividend',
      exDate: JUNE_10,
      amount: 0.25,
    });
  });

  it.each([
    ['an array', [1], 'wrong_type', undefined],
    ['null', null, 'wrong_type', undefined],
    ['no symbol', { type: 'split', exDate: '2024-06-10', ratio: 2 }, 'missing_field', 'symbol'],
    [
      'a numeric symbol',
      { symbol: 5, type: 'split', exDate: '2024-06-10', ratio: 2 },
      'wrong_type',
      'symbol',
    ],
    [
      'a lower-case symbol',
      { symbol: 'aapl', type: 'split', exDate: '2024-06-10', ratio: 2 },
      'bad_symbol',
      'symbol',
    ],
    ['a merger', { symbol: 'A', type: 'merger', exDate: '2024-06-10' }, 'unknown_action', 'type'],
    ['no exDate', { symbol: 'A', type: 'split', ratio: 2 }, 'missing_field', 'exDate'],
    [
      'exDate 2024-02-30',
      { symbol: 'A', type: 'split', exDate: '2024-02-30', ratio: 2 },
      'bad_time',
      'exDate',
    ],
    [
      'exDate with a time',
      { symbol: 'A', type: 'split', exDate: '2024-06-10T00:00:00Z', ratio: 2 },
      'bad_time',
      'exDate',
    ],
    ['exDate as a number', { symbol: 'A', type: 'split', exDate: JUNE_10, ratio: 2 }, 'bad_time', 'exDate'],
    ['a split without ratio', { symbol: 'A', type: 'split', exDate: '2024-06-10' }, 'missing_field', 'ratio'],
    [
      'ratio "NaN"',
      { symbol: 'A', type: 'split', exDate: '2024-06-10', ratio: 'NaN' },
      'not_finite',
      'ratio',
    ],
    ['ratio 0', { symbol: 'A', type: 'split', exDate: '2024-06-10', ratio: 0 }, 'unknown_action', 'ratio'],
    [
      'ratio as an object',
      { symbol: 'A', type: 'split', exDate: '2024-06-10', ratio: {} },
      'wrong_type',
      'ratio',
    ],
    [
      'a negative dividend',
      { symbol: 'A', type: 'dividend', exDate: '2024-06-10', amount: -1 },
      'unknown_action',
      'amount',
    ],
    [
      'a dividend given a ratio only',
      { symbol: 'A', type: 'dividend', exDate: '2024-06-10', ratio: 2 },
      'missing_field',
      'amount',
    ],
  ])('rejects %s (%s)', (_name, value, reason, field) => {
    const result = parseCorporateAction(value, { topic: 'corporate.actions', partition: 0, offset: '7' });
    expect(isDeadLetter(result)).toBe(true);
    expect((result as DeadLetter).reason).toBe(reason);
    expect((result as DeadLetter).field).toBe(field);
    expect((result as DeadLetter).source).toEqual({ topic: 'corporate.actions', partition: 0, offset: '7' });
  });

  it('reads only own fields', () => {
    const value = JSON.parse(
      '{"__proto__":{"ratio":4},"symbol":"A","type":"split","exDate":"2024-06-10"}',
    ) as unknown;
    expect((parseCorporateAction(value) as DeadLetter).reason).toBe('missing_field');
  });

  it('parses calendar dates strictly', () => {
    expect(parseExDate('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseExDate('2023-02-29')).toBeNaN();
    expect(parseExDate('2024-13-01')).toBeNaN();
    expect(parseExDate('1969-12-31')).toBeNaN();
    expect(parseExDate(' 2024-06-10')).toBeNaN();
  });
});

describe('CorporateActionBook', () => {
  const action = (symbol: string, day: number, type: CorporateAction['type'] = 'split'): CorporateAction =>
    type === 'split'
      ? { symbol, type, exDate: Date.UTC(2024, 0, day), ratio: day }
      : { symbol, type, exDate: Date.UTC(2024, 0, day), amount: day / 100 };

  it('keeps each symbol sorted by ex-date, dividends before splits on the same day, corrections replace', () => {
    const book = new CorporateActionBook();
    book.add(action('A', 9));
    book.add(action('A', 3));
    book.add(action('A', 9, 'dividend'));
    book.add({ ...action('A', 3), ratio: 2 });
    expect(book.size).toBe(3);
    expect(
      book.actionsOf('A')?.map((a) => [new Date(a.exDate).getUTCDate(), a.type, a.ratio ?? a.amount]),
    ).toEqual([
      [3, 'split', 2],
      [9, 'dividend', 0.09],
      [9, 'split', 9],
    ]);
    expect(book.actionsOf('B')).toBeUndefined();
  });

  it('forgets the oldest ex-dates past its bound', () => {
    const book = new CorporateActionBook(3);
    book.add(action('A', 5));
    book.add(action('B', 1));
    book.add(action('C', 9));
    book.add(action('A', 7));
    expect(book.size).toBe(3);
    expect(book.actionsOf('B')).toBeUndefined();
    book.add(action('D', 8));
    expect(book.actionsOf('A')?.map((a) => new Date(a.exDate).getUTCDate())).toEqual([7]);
  });
});
