import org.apache.flink.streaming.connectors.kafka.internals.KafkaTopicPartition;

import java.io.FileOutputStream;
import java.io.ObjectOutputStream;
import java.util.HashMap;

/**
 * Writes the function state Flink 1.1's FlinkKafkaConsumerBase held in Flink's own
 * migration test (operators.md §5.4: the fetcher's offsets {abc-13: 16768, def-7: 987654321}),
 * as a Java stream of its HashMap, to the file named by the argument. JDK only, with the
 * stand-in partition class (tests/java/standin).
 */
public final class KafkaState {
	public static void main(String[] args) throws Exception {
		HashMap<KafkaTopicPartition, Long> offsets = new HashMap<>();
		offsets.put(new KafkaTopicPartition("abc", 13), 16768L);
		offsets.put(new KafkaTopicPartition("def", 7), 987654321L);
		try (ObjectOutputStream out = new ObjectOutputStream(new FileOutputStream(args[0]))) {
			out.writeObject(offsets);
		}
	}
}
