// Runs async tasks one at a time in call order: a sink's writes may be called concurrently, but records with
// the same key must reach the service in the order they were written.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** tasks started or waiting */
  get size(): number {
    return this.queued;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(task).finally(() => {
      this.queued--;
    });
    // a failed task must not stop the ones behind it; its caller sees the rejection through `result`
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** resolves when every task queued so far has settled */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
