// An OHLCV + VWAP + trade-count bar for one symbol and one event-time window [start, end).
package mlfp.peers.flink;

/** Both the window accumulator and the emitted bar; openTs/closeTs pick open and close by event time. */
public class Bar {
  public String symbol;
  public String timeframe;
  public long start;
  public long end;
  public double open;
  public double high;
  public double low;
  public double close;
  public double volume;
  /** Sum of price x size, so VWAP rolls up exactly from smaller bars. */
  public double notional;
  public long trades;
  public long openTs;
  public long closeTs;

  public Bar() {
    high = Double.NEGATIVE_INFINITY;
    low = Double.POSITIVE_INFINITY;
    openTs = Long.MAX_VALUE;
    closeTs = Long.MIN_VALUE;
  }

  /** Volume-weighted average price; the last close when the bar traded no volume. */
  public double vwap() {
    return volume > 0 ? notional / volume : close;
  }

  void addTick(Tick tick) {
    // Ties keep the first tick as open and the last as close, as arrival order within one partition is time order.
    if (tick.ts < openTs) {
      openTs = tick.ts;
      open = tick.price;
    }
    if (tick.ts >= closeTs) {
      closeTs = tick.ts;
      close = tick.price;
    }
    if (tick.price > high) high = tick.price;
    if (tick.price < low) low = tick.price;
    volume += tick.size;
    notional += tick.price * tick.size;
    trades += 1;
  }

  void addBar(Bar bar) {
    if (bar.trades == 0) return;
    if (bar.openTs < openTs) {
      openTs = bar.openTs;
      open = bar.open;
    }
    if (bar.closeTs >= closeTs) {
      closeTs = bar.closeTs;
      close = bar.close;
    }
    if (bar.high > high) high = bar.high;
    if (bar.low < low) low = bar.low;
    volume += bar.volume;
    notional += bar.notional;
    trades += bar.trades;
  }
}
