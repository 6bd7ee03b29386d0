package org.apache.flink.streaming.connectors.fs.bucketing;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A stand-in for the filesystem connector's BucketingSink state classes, which the offline
 * Flink jars do not hold: the same names, serialVersionUIDs and fields as Flink 1.10.3's
 * (operators.md §7 (3)), so Java serialization reads a converted RollingSink bucket as that
 * BucketingSink would. Only for the tests.
 */
public final class BucketingSink {
	private BucketingSink() {
	}

	/** Bucket directory → its state. */
	public static final class State<T> implements Serializable {
		private static final long serialVersionUID = 1L;
		public final Map<String, BucketState<T>> bucketStates = new HashMap<>();
	}

	/** One bucket: the in-progress file, its valid length, and the pending files. */
	public static final class BucketState<T> implements Serializable {
		private static final long serialVersionUID = 1L;
		public String currentFile;
		public long currentFileValidLength = -1;
		public long lastWrittenToTime;
		public long creationTime;
		public List<String> pendingFiles = new ArrayList<>();
		public Map<Long, List<String>> pendingFilesPerCheckpoint = new HashMap<>();
	}
}
