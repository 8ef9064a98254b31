// One trade as it arrives on the ticks topic: {"symbol","ts" (epoch ms),"price","size"}; extra fields ignored.
package mlfp.peers.flink;

/** A Flink POJO (public fields, no-arg constructor) so Flink serialises it without Kryo. */
public class Tick {
  public String symbol;
  public long ts;
  public double price;
  public double size;

  public Tick() {}

  /** The checks the engine's validator also makes; a tick failing them is dropped and counted. */
  public boolean isValid() {
    return symbol != null
        && !symbol.isEmpty()
        && ts > 0
        && Double.isFinite(price)
        && price > 0
        && Double.isFinite(size)
        && size >= 0;
  }
}
