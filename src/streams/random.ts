// Seeded pseudo-random numbers for synthetic data, tests and benchmarks (mulberry32 + Box–Muller), so every
// run with the same seed produces the same stream. The one PRNG of the project.

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** uniform in (0, 1) */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  }

  /** standard normal: Box–Muller, U1 drawn first, the sine partner discarded (as the golden series' generator) */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** exponential with the given mean */
  exponential(mean: number): number {
    return -Math.log(this.uniform()) * mean;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}
