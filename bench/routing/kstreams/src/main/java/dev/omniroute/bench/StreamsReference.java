package dev.omniroute.bench;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.FinalizedVersionRange;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.SupportedVersionRange;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;

/**
 * Kafka's own exactly-once pace for omniroute router's shape: two sub-topologies,
 * as the router's two transactional hops.
 *
 * <pre>
 *   input (keyed by conversation id)
 *     -> re-key by pool -> repartition topic  (the router's repartition loop)
 *     -> one output record per input -> output (the router's decide loop)
 * </pre>
 *
 * processing.guarantee=exactly_once_v2, one stream thread. Prints "transaction.version
 * ..." (the broker's finalized feature, as kafka-features.sh describe shows it) and
 * "RUNNING" once the application is ready; runs until SIGTERM.
 *
 * <p>Arguments: --bootstrap HOST:PORT --application-id ID --input TOPIC --output TOPIC
 * [--commit-interval-ms 100] [--partitions 3] [--state-dir DIR] [--pool bench]
 * [--log-transactions FILE] (the producer's transaction manager logs at debug into FILE:
 * which transactional requests the client sends).
 */
public final class StreamsReference {

    private StreamsReference() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parse(argv);
        if (args.containsKey("log-transactions")) {
            // read by slf4j-simple when the first logger is made: set before any Kafka class logs
            System.setProperty("org.slf4j.simpleLogger.logFile", args.get("log-transactions"));
            System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
            System.setProperty("org.slf4j.simpleLogger.log."
                + "org.apache.kafka.clients.producer.internals.TransactionManager", "debug");
        }
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        String bootstrap = required(args, "bootstrap");
        String input = required(args, "input");
        String output = required(args, "output");
        int partitions = Integer.parseInt(args.getOrDefault("partitions", "3"));

        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            printTransactionVersion(admin);
            createTopics(admin, List.of(input, output), partitions);
        }
        KafkaStreams streams = new KafkaStreams(
            topology(input, output, args.getOrDefault("pool", "bench"), partitions),
            config(args, bootstrap));
        CountDownLatch stopped = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            System.out.println(now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            stopped.countDown();
        }));
        streams.start();
        stopped.await();
        if (streams.state() == KafkaStreams.State.ERROR) {
            System.exit(1);
        }
    }

    /** The two sub-topologies: re-key by pool through a repartition topic, then emit. */
    static Topology topology(String input, String output, String pool, int partitions) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .selectKey((conversation, request) -> pool)
            .repartition(Repartitioned.with(Serdes.String(), Serdes.String())
                .withName("pool").withNumberOfPartitions(partitions))
            .mapValues(request -> "{\"pool\":\"" + pool + "\",\"request\":" + request + "}")
            .to(output, Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    /** Exactly-once v2, one thread; client waits as short as the router's and the harness's. */
    static Properties config(Map<String, String> args, String bootstrap) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, required(args, "application-id"));
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG,
            args.getOrDefault("commit-interval-ms", "100"));
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.STATE_DIR_CONFIG,
            args.getOrDefault("state-dir", System.getProperty("java.io.tmpdir")));
        // Streams' producer default is 100 ms; omniroute's producers linger 2 ms
        props.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 2);
        // the router's and the benchmark reader's consumers wait 10 ms for a fetch (default 500)
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), 10);
        return props;
    }

    static void printTransactionVersion(Admin admin)
            throws ExecutionException, InterruptedException {
        FeatureMetadata features = admin.describeFeatures().featureMetadata().get();
        FinalizedVersionRange finalized = features.finalizedFeatures().get("transaction.version");
        SupportedVersionRange supported = features.supportedFeatures().get("transaction.version");
        System.out.println("transaction.version finalized "
            + (finalized == null ? "none" : String.valueOf(finalized.maxVersionLevel()))
            + " supported " + (supported == null ? "none"
                : supported.minVersion() + "-" + supported.maxVersion()));
    }

    static void createTopics(Admin admin, List<String> names, int partitions)
            throws InterruptedException, ExecutionException {
        for (String name : names) {
            try {
                admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1)))
                    .all().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException exc) {
                if (!(exc.getCause() instanceof TopicExistsException)) {
                    throw exc;
                }
            } catch (java.util.concurrent.TimeoutException exc) {
                throw new IllegalStateException("creating " + name + " timed out", exc);
            }
        }
    }

    static Map<String, String> parse(String[] argv) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + argv[i]);
            }
            args.put(argv[i].substring(2), argv[i + 1]);
        }
        return args;
    }

    static String required(Map<String, String> args, String name) {
        String value = args.get(name);
        if (value == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return value;
    }
}
