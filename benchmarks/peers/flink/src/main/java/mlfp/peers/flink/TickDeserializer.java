// Parses JSON tick bytes with Jackson; an undecodable record becomes an empty (invalid) Tick that ValidTicks
// drops and counts as rejected, so nothing disappears unnoticed.
package mlfp.peers.flink;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.IOException;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;

public final class TickDeserializer implements DeserializationSchema<Tick> {
  private transient ObjectReader reader;

  @Override
  public void open(InitializationContext context) {
    reader =
        new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .readerFor(Tick.class);
  }

  @Override
  public Tick deserialize(byte[] message) {
    if (message == null) return new Tick();
    try {
      return reader.readValue(message);
    } catch (IOException malformed) {
      // The bars job has no dead-letter output: the empty tick is counted as rejected downstream.
      return new Tick();
    }
  }

  @Override
  public boolean isEndOfStream(Tick next) {
    return false;
  }

  @Override
  public TypeInformation<Tick> getProducedType() {
    return TypeInformation.of(Tick.class);
  }
}
