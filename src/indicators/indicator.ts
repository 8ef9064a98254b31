// The shape every incremental indicator shares (STYLE "One incremental indicator"); `update` differs by
// input (close, high/low/close, close/volume) so it is not part of this interface.

export interface IncrementalIndicator {
  /** inputs consumed before the first value: the index of TA-Lib's first non-empty row */
  readonly warmUp: number;
  /** true once `value` is defined */
  readonly isStable: boolean;
  /** the latest value, undefined during warm-up */
  readonly value: number | undefined;
  /** back to the state of a fresh instance */
  reset(): void;
  /** rescales live state as if all history had been back-adjusted (prices × priceFactor, volumes × volumeFactor) */
  adjust(priceFactor: number, volumeFactor: number): void;
  /** versioned plain JSON of every field; the class's static `restore` reads it back */
  snapshot(): object;
}
