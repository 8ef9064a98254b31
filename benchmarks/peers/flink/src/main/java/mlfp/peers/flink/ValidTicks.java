// Drops invalid ticks and counts accepted and rejected ones in job accumulators the runner reads at the end.
package mlfp.peers.flink;

import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFilterFunction;

public final class ValidTicks extends RichFilterFunction<Tick> {
  public static final String ACCEPTED = "ticks";
  public static final String REJECTED = "rejected";

  private final LongCounter accepted = new LongCounter();
  private final LongCounter rejected = new LongCounter();

  @Override
  public void open(OpenContext context) {
    getRuntimeContext().addAccumulator(ACCEPTED, accepted);
    getRuntimeContext().addAccumulator(REJECTED, rejected);
  }

  @Override
  public boolean filter(Tick tick) {
    if (tick.isValid()) {
      accepted.add(1L);
      return true;
    }
    rejected.add(1L);
    return false;
  }
}
