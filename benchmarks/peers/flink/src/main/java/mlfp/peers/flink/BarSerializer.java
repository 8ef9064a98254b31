// Writes a bar as the engine's JSON bar shape; the record key is the symbol (one symbol, one partition).
package mlfp.peers.flink;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializationSchema;

public final class BarSerializer implements SerializationSchema<Bar> {
  private transient ObjectMapper mapper;

  @Override
  public void open(InitializationContext context) {
    mapper = new ObjectMapper();
  }

  @Override
  public byte[] serialize(Bar bar) {
    ObjectNode node = mapper.createObjectNode();
    node.put("symbol", bar.symbol);
    node.put("timeframe", bar.timeframe);
    node.put("start", bar.start);
    node.put("end", bar.end);
    node.put("open", bar.open);
    node.put("high", bar.high);
    node.put("low", bar.low);
    node.put("close", bar.close);
    node.put("volume", bar.volume);
    node.put("vwap", bar.vwap());
    node.put("trades", bar.trades);
    try {
      return mapper.writeValueAsBytes(node);
    } catch (JsonProcessingException impossible) {
      throw new IllegalStateException("cannot write bar JSON", impossible);
    }
  }

  /** The record key: the symbol's UTF-8 bytes. */
  public static final class Key implements SerializationSchema<Bar> {
    @Override
    public byte[] serialize(Bar bar) {
      return bar.symbol.getBytes(StandardCharsets.UTF_8);
    }
  }
}
