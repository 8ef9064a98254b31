// The Flink peer of the engine's bars pipeline: JSON ticks from Kafka -> event-time 5m bars per symbol ->
// 1h and 1d rolled up from them -> JSON bars to Kafka, on a local MiniCluster; the source is bounded at the
// offsets it finds at start, so the job ends by itself and prints one JSON result line on stdout.
package mlfp.peers.flink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

public final class BarsJob {
  private BarsJob() {}

  public static void main(String[] arguments) throws Exception {
    // Before any logger exists: Flink's INFO output is pages per run; warnings and errors still print.
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    Options options = Options.parse(arguments);
    ensureOutputTopics(options);

    Configuration configuration = new Configuration();
    StreamExecutionEnvironment environment =
        StreamExecutionEnvironment.createLocalEnvironment(options.parallelism, configuration);

    KafkaSource<Tick> source =
        KafkaSource.<Tick>builder()
            .setBootstrapServers(options.brokers)
            .setTopics(options.inputTopic)
            .setGroupId(options.groupId)
            .setStartingOffsets(OffsetsInitializer.earliest())
            // Bounded at the end offsets seen at start: the job consumes exactly what was produced, then ends.
            .setBounded(OffsetsInitializer.latest())
            .setValueOnlyDeserializer(new TickDeserializer())
            .setProperty("commit.offsets.on.checkpoint", "false")
            .build();

    WatermarkStrategy<Tick> watermarks =
        WatermarkStrategy.<Tick>forBoundedOutOfOrderness(Duration.ofMillis(options.outOfOrdernessMs))
            .withTimestampAssigner((tick, recordTimestamp) -> tick.ts)
            // A partition with no data must not hold the watermark (and every window) back forever.
            .withIdleness(Duration.ofMillis(options.idlenessMs));

    DataStream<Tick> ticks =
        environment.fromSource(source, watermarks, "ticks").filter(new ValidTicks()).name("validate");

    DataStream<Bar> bars5m =
        ticks
            .keyBy(tick -> tick.symbol)
            .window(TumblingEventTimeWindows.of(Duration.ofMinutes(5)))
            .aggregate(new BarAggregates.FromTicks(), new BarAggregates.Stamp("5m"))
            .name("bars 5m");
    DataStream<Bar> bars1h = rollUp(bars5m, Duration.ofHours(1), "1h");
    DataStream<Bar> bars1d = rollUp(bars1h, Duration.ofDays(1), "1d");

    String prefix = options.outputTopicPrefix;
    KafkaSink<Bar> sink =
        KafkaSink.<Bar>builder()
            .setBootstrapServers(options.brokers)
            .setRecordSerializer(
                KafkaRecordSerializationSchema.<Bar>builder()
                    .setTopicSelector(bar -> prefix + bar.timeframe)
                    .setKeySerializationSchema(new BarSerializer.Key())
                    .setValueSerializationSchema(new BarSerializer())
                    .build())
            // Flushes at the end of input too: every bar is acknowledged by the broker before the job ends.
            .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
            .setKafkaProducerConfig(producerProperties())
            .build();
    bars5m.union(bars1h, bars1d).sinkTo(sink).name("bars to kafka");

    long startNanos = System.nanoTime();
    JobExecutionResult result = environment.execute("mlfp bars peer");
    double executeSeconds = (System.nanoTime() - startNanos) / 1e9;
    // The job's own run time, from submission to the last bar acknowledged; excludes starting and stopping
    // the MiniCluster (~2-5 s here), which executeSeconds and the runner's process time include.
    double seconds = result.getNetRuntime() / 1000.0;

    long ticksAccepted = counter(result, ValidTicks.ACCEPTED);
    long ticksRejected = counter(result, ValidTicks.REJECTED);
    long consumed = ticksAccepted + ticksRejected;
    System.out.println(
        String.format(
            Locale.ROOT,
            "{\"subject\":\"flink\",\"ticks\":%d,\"rejected\":%d,\"lateTicks\":%d,\"seconds\":%.3f,"
                + "\"ticksPerSec\":%.0f,\"executeSeconds\":%.3f,\"bars\":{\"5m\":%d,\"1h\":%d,\"1d\":%d},"
                + "\"tradesInBars\":{\"5m\":%d,\"1h\":%d,\"1d\":%d},\"parallelism\":%d}",
            consumed,
            ticksRejected,
            ticksAccepted - counter(result, "trades_5m"),
            seconds,
            consumed / seconds,
            executeSeconds,
            counter(result, "bars_5m"),
            counter(result, "bars_1h"),
            counter(result, "bars_1d"),
            counter(result, "trades_5m"),
            counter(result, "trades_1h"),
            counter(result, "trades_1d"),
            options.parallelism));
  }

  private static DataStream<Bar> rollUp(DataStream<Bar> smaller, Duration size, String timeframe) {
    return smaller
        .keyBy(bar -> bar.symbol)
        .window(TumblingEventTimeWindows.of(size))
        .aggregate(new BarAggregates.FromBars(), new BarAggregates.Stamp(timeframe))
        .name("bars " + timeframe);
  }

  private static long counter(JobExecutionResult result, String name) {
    Object value = result.getAccumulatorResult(name);
    return value instanceof Long count ? count : 0L;
  }

  private static Properties producerProperties() {
    Properties properties = new Properties();
    properties.setProperty("acks", "all");
    properties.setProperty("compression.type", "none");
    return properties;
  }

  /** The broker has auto topic creation off: create the three bar topics (6 partitions) if missing. */
  private static void ensureOutputTopics(Options options) throws Exception {
    Map<String, Object> config = new HashMap<>();
    config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, options.brokers);
    try (Admin admin = Admin.create(config)) {
      Set<String> existing = admin.listTopics().names().get();
      List<NewTopic> missing = new ArrayList<>();
      for (String timeframe : List.of("5m", "1h", "1d")) {
        String topic = options.outputTopicPrefix + timeframe;
        if (!existing.contains(topic)) missing.add(new NewTopic(topic, options.outputPartitions, (short) 1));
      }
      if (!missing.isEmpty()) admin.createTopics(missing).all().get();
    }
  }

  /** Command-line options, `--name value` pairs; every one has a default that matches the runner. */
  static final class Options {
    String brokers = "127.0.0.1:19092";
    String inputTopic = "bench.ticks";
    String groupId = "mlfp-bench-flink";
    String outputTopicPrefix = "bench.flink.bars.";
    int outputPartitions = 6;
    // 1 and 2 measured alike on the 2-core machine; the runner tries both.
    int parallelism = 1;
    long outOfOrdernessMs = 1_000;
    // Idleness is measured in wall time: too short, and a partition that is merely slow to be fetched during
    // catch-up is skipped by the watermark, so its ticks arrive late and are dropped (lateTicks shows it).
    long idlenessMs = 30_000;

    static Options parse(String[] arguments) {
      Options options = new Options();
      for (int index = 0; index < arguments.length; index += 2) {
        String name = arguments[index];
        if (index + 1 >= arguments.length) throw new IllegalArgumentException("missing value after " + name);
        String value = arguments[index + 1];
        switch (name) {
          case "--brokers" -> options.brokers = value;
          case "--topic" -> options.inputTopic = value;
          case "--group" -> options.groupId = value;
          case "--output-topic-prefix" -> options.outputTopicPrefix = value;
          case "--output-partitions" -> options.outputPartitions = Integer.parseInt(value);
          case "--parallelism" -> options.parallelism = Integer.parseInt(value);
          case "--out-of-orderness-ms" -> options.outOfOrdernessMs = Long.parseLong(value);
          case "--idleness-ms" -> options.idlenessMs = Long.parseLong(value);
          default -> throw new IllegalArgumentException("unknown option " + name);
        }
      }
      if (options.parallelism < 1) throw new IllegalArgumentException("--parallelism must be >= 1");
      return options;
    }
  }
}
