package org.apache.flink.streaming.connectors.kafka.internals;

import java.io.Serializable;

/**
 * A stand-in for the Kafka connector's partition class, which the offline Flink jars do not
 * hold: the same name, serialVersionUID and fields, so Java serialization reads and writes it
 * as the connector's (operators.md §2.6, §5.1). Only for the tests.
 */
public final class KafkaTopicPartition implements Serializable {
	private static final long serialVersionUID = 722083576322742325L;

	private final String topic;
	private final int partition;
	private final int cachedHash;

	public KafkaTopicPartition(String topic, int partition) {
		this.topic = topic;
		this.partition = partition;
		this.cachedHash = 31 * topic.hashCode() + partition;
	}

	public String getTopic() {
		return topic;
	}

	public int getPartition() {
		return partition;
	}

	@Override
	public boolean equals(Object o) {
		return o instanceof KafkaTopicPartition && ((KafkaTopicPartition) o).topic.equals(topic)
				&& ((KafkaTopicPartition) o).partition == partition;
	}

	@Override
	public int hashCode() {
		return cachedHash;
	}

	@Override
	public String toString() {
		return topic + "-" + partition;
	}
}
