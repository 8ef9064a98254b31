// Window functions: ticks -> bar, bars -> larger bar (roll-up), and the stamp that names a bar's window.
package mlfp.peers.flink;

import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

final class BarAggregates {
  private BarAggregates() {}

  /** Incremental: one accumulator per (symbol, window), updated per tick, no buffering of ticks. */
  static final class FromTicks implements AggregateFunction<Tick, Bar, Bar> {
    @Override
    public Bar createAccumulator() {
      return new Bar();
    }

    @Override
    public Bar add(Tick tick, Bar bar) {
      bar.addTick(tick);
      return bar;
    }

    @Override
    public Bar getResult(Bar bar) {
      return bar;
    }

    @Override
    public Bar merge(Bar left, Bar right) {
      left.addBar(right);
      return left;
    }
  }

  /** 1h from 5m and 1d from 1h, so every timeframe agrees with the one below it. */
  static final class FromBars implements AggregateFunction<Bar, Bar, Bar> {
    @Override
    public Bar createAccumulator() {
      return new Bar();
    }

    @Override
    public Bar add(Bar smaller, Bar bar) {
      bar.addBar(smaller);
      return bar;
    }

    @Override
    public Bar getResult(Bar bar) {
      return bar;
    }

    @Override
    public Bar merge(Bar left, Bar right) {
      left.addBar(right);
      return left;
    }
  }

  /**
   * Sets symbol, timeframe and window bounds on the finished bar; counts bars and the trades they hold per
   * timeframe, so the runner can prove no tick was dropped as late (trades_5m must equal the ticks read).
   */
  static final class Stamp extends ProcessWindowFunction<Bar, Bar, String, TimeWindow> {
    private final String timeframe;
    private final LongCounter emitted = new LongCounter();
    private final LongCounter trades = new LongCounter();

    Stamp(String timeframe) {
      this.timeframe = timeframe;
    }

    @Override
    public void open(OpenContext context) {
      getRuntimeContext().addAccumulator("bars_" + timeframe, emitted);
      getRuntimeContext().addAccumulator("trades_" + timeframe, trades);
    }

    @Override
    public void process(String symbol, Context context, Iterable<Bar> bars, Collector<Bar> out) {
      for (Bar bar : bars) {
        bar.symbol = symbol;
        bar.timeframe = timeframe;
        bar.start = context.window().getStart();
        bar.end = context.window().getEnd();
        emitted.add(1L);
        trades.add(bar.trades);
        out.collect(bar);
      }
    }
  }
}
