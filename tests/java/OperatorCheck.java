/*
 * The oracle of Flink's own window migration tests, rerun in a real Flink 1.10.3 or 2.3.0
 * MiniCluster (../shared/docs/operators.md §4.1.1-4.1.4): restore a converted one-operator
 * savepoint into a WindowOperator configured as the test configured it, feed the test's
 * watermarks, and compare every record and watermark that comes out with the test's expectations.
 * One source for both Flink APIs: a line ending in a version tag (V:110 or V:23) is kept only
 * for that version (scripts/flink-operator-check filters it).
 *
 * usage: OperatorCheck SCENARIO SAVEPOINT_DIR UID [heap|rocksdb [PARALLELISM MAX_PARALLELISM]]
 *        OperatorCheck --write SCENARIO SAVEPOINT_TO UID [heap|rocksdb]
 *   --write   run the Flink 1.1 test's writer input instead (window scenarios, event time) and
 *             take a savepoint of Flink's own into SAVEPOINT_TO while the timers are pending
 *   (Flink 2.3: heap is the HashMap backend, rocksdb the embedded RocksDB one)
 *   SCENARIO  reduce-event-time | apply-event-time | reduce-processing-time | apply-processing-time
 *             | aggr-aligned | accum-aligned (Flink 1.1's aligned operators, converted into a WindowOperator)
 *             | aggr-aligned-sliding | accum-aligned-sliding (the same panes as 6 s windows sliding by 3 s)
 *             | apply-event-time-evicting[-2] (apply-event-time with an evictor keeping 100 / 2 elements)
 *             | reader (ContinuousFileReaderOperator's restored splits)
 *             | rolling-sink (a stand-in reads the bucket as Flink 1.10's BucketingSink does; 1.10 only)
 *             | session-with-stateful-trigger-mint | monitoring-function | kafka-consumer (a stand-in: the connector is not in Flink's jars)
 *   UID       the uid the converted savepoint's vertex id was derived from
 *   PARALLELISM, MAX_PARALLELISM  of the window operator (default 1 and 1, as Flink's test harness)
 * prints every output event, one per line, then OK or WRONG with what differed.
 * exit: 0 exactly the expected output; 3 another output; 2 the job failed; 1 usage
 */
import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.runtime.state.JavaSerializer; //V:23
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.connectors.kafka.internals.KafkaTopicPartition;
import org.apache.flink.api.common.restartstrategy.RestartStrategies; //V:110
import org.apache.flink.api.common.functions.OpenContext; //V:23
import org.apache.flink.api.common.typeinfo.BasicTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.streaming.api.functions.windowing.WindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.triggers.CountTrigger;
import org.apache.flink.streaming.api.windowing.triggers.PurgingTrigger;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.contrib.streaming.state.RocksDBStateBackend; //V:110
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.state.memory.MemoryStateBackend; //V:110
import org.apache.flink.streaming.api.TimeCharacteristic; //V:110
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.WindowedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.api.java.io.TextInputFormat; //V:110
import org.apache.flink.streaming.api.legacy.io.TextInputFormat; //V:23
import org.apache.flink.streaming.api.functions.source.ContinuousFileMonitoringFunction; //V:110
import org.apache.flink.streaming.api.functions.source.legacy.ContinuousFileMonitoringFunction; //V:23
import org.apache.flink.streaming.api.functions.source.ContinuousFileReaderOperator; //V:110
import org.apache.flink.streaming.api.functions.source.ContinuousFileReaderOperatorFactory; //V:23
import org.apache.flink.streaming.api.functions.source.FileProcessingMode;
import org.apache.flink.streaming.api.functions.source.TimestampedFileInputSplit;
import org.apache.flink.streaming.api.functions.source.SourceFunction; //V:110
import org.apache.flink.streaming.api.functions.source.legacy.SourceFunction; //V:23
import org.apache.flink.streaming.api.functions.windowing.RichWindowFunction;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingProcessingTimeWindows;
import org.apache.flink.streaming.api.windowing.time.Time; //V:110
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.Collector;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

public final class OperatorCheck {

	/** Every event that reached the check operator, in order: "(key,n)@ts" or "WM ts". */
	static final List<String> SEEN = Collections.synchronizedList(new ArrayList<>());

	/** Flink's SumReducer: (value2.f0, value1.f1 + value2.f1). */
	static final class SumReducer implements ReduceFunction<Tuple2<String, Integer>> {
		private static final long serialVersionUID = 1L;
		@Override
		public Tuple2<String, Integer> reduce(Tuple2<String, Integer> a, Tuple2<String, Integer> b) {
			return new Tuple2<>(b.f0, a.f1 + b.f1);
		}
	}

	/** Flink's RichSumReducer: (key, sum of f1); fails unless open() ran. */
	static final class RichSumReducer extends RichWindowFunction<Tuple2<String, Integer>, Tuple2<String, Integer>, String, TimeWindow> {
		private static final long serialVersionUID = 1L;
		private boolean opened;
		@Override
		public void open(Configuration parameters) { //V:110
		public void open(OpenContext parameters) { //V:23
			opened = true;
		}
		@Override
		public void apply(String key, TimeWindow window, Iterable<Tuple2<String, Integer>> input, Collector<Tuple2<String, Integer>> out) {
			if (!opened) {
				throw new IllegalStateException("open() was not called");
			}
			int sum = 0;
			for (Tuple2<String, Integer> t : input) {
				sum += t.f1;
			}
			out.collect(new Tuple2<>(key, sum));
		}
	}

	static final class FirstField implements KeySelector<Tuple2<String, Integer>, String> {
		private static final long serialVersionUID = 1L;
		@Override
		public String getKey(Tuple2<String, Integer> v) {
			return v.f0;
		}
	}

	/** Flink's SessionWindowFunction: (key + "-" + sum of f1, window start, window end). */
	static final class SessionWindowFunction implements WindowFunction<Tuple2<String, Integer>, Tuple3<String, Long, Long>, String, TimeWindow> {
		private static final long serialVersionUID = 1L;
		@Override
		public void apply(String key, TimeWindow window, Iterable<Tuple2<String, Integer>> input, Collector<Tuple3<String, Long, Long>> out) {
			int sum = 0;
			for (Tuple2<String, Integer> t : input) {
				sum += t.f1;
			}
			out.collect(new Tuple3<>(key + "-" + sum, window.getStart(), window.getEnd()));
		}
	}

	/**
	 * The elements of operators.md §4.1.6 (key, value, timestamp), in order and without
	 * watermarks, then it waits for the output.
	 */
	static final class SessionInput extends AwaitingSource<Tuple2<String, Integer>> {
		private static final long serialVersionUID = 1L;
		SessionInput(int waitFor) {
			super(waitFor);
		}
		@Override
		public void run(SourceContext<Tuple2<String, Integer>> ctx) throws Exception {
			Object[][] in = {{"key2", 1, 0L}, {"key2", 2, 1000L}, {"key2", 3, 2500L}, {"key2", 4, 3500L},
					{"key1", 1, 10L}, {"key1", 2, 1000L}, {"key1", 3, 2500L}, {"key1", 1, 6000L}, {"key1", 2, 6500L},
					{"key1", 3, 7000L}, {"key1", 10, 4500L}};
			for (Object[] e : in) {
				ctx.collectWithTimestamp(new Tuple2<>((String) e[0], (Integer) e[1]), (Long) e[2]);
			}
			awaitOutput();
		}
	}

	/** A source that, once it has emitted, stays alive until the check saw {@code waitFor} events (30 s at most). */
	/** How long to wait for output that may never come: 30 s, or OPERATOR_CHECK_WAIT_MS (controls). */
	static long waitMillis() {
		String wait = System.getenv("OPERATOR_CHECK_WAIT_MS");
		return wait == null ? 30000 : Long.parseLong(wait);
	}

	abstract static class AwaitingSource<T> implements SourceFunction<T> {
		private static final long serialVersionUID = 1L;
		private final int waitFor;
		private volatile boolean running = true;
		AwaitingSource(int waitFor) {
			this.waitFor = waitFor;
		}
		void awaitOutput() throws InterruptedException {
			long deadline = System.currentTimeMillis() + waitMillis();
			while (running && SEEN.size() < waitFor && System.currentTimeMillis() < deadline) {
				Thread.sleep(20);
			}
		}
		@Override
		public void cancel() {
			running = false;
		}
	}

	/** Emits no records, only the test's watermarks; in processing time it waits for the output. */
	static final class Watermarks extends AwaitingSource<Tuple2<String, Integer>> {
		private static final long serialVersionUID = 1L;
		private final long[] marks;
		Watermarks(long[] marks, int waitFor) {
			super(waitFor);
			this.marks = marks;
		}
		@Override
		public void run(SourceContext<Tuple2<String, Integer>> ctx) throws Exception {
			for (long m : marks) {
				ctx.emitWatermark(new Watermark(m));
			}
			awaitOutput();
		}
	}

	/** Records every element (with its timestamp, if asked) and every watermark, in arrival order. */
	static final class Check<T> extends AbstractStreamOperator<Object> implements OneInputStreamOperator<T, Object> {
		private static final long serialVersionUID = 1L;
		private final boolean times;
		Check(boolean times) {
			this.times = times;
		}
		@Override
		public void processElement(StreamRecord<T> r) {
			SEEN.add(r.getValue() + (!times ? "" : "@" + (r.hasTimestamp() ? r.getTimestamp() : "none")));
		}
		@Override
		public void processWatermark(Watermark mark) throws Exception {
			SEEN.add("WM " + mark.getTimestamp());
			super.processWatermark(mark);
		}
	}

	/** The event-time scenarios' output: the sums of key1 and key2 in [0, 3000), key2 in [3000, 6000). */
	static List<List<String>> eventTimeWindows(int key1, int key2, int key2Later) {
		return Arrays.asList(
				Arrays.asList("(key1," + key1 + ")@2999", "(key2," + key2 + ")@2999"), Arrays.asList("WM 2999"),
				Arrays.asList("WM 3999"),
				Arrays.asList("WM 4999"),
				Arrays.asList("(key2," + key2Later + ")@5999"), Arrays.asList("WM 5999"),
				Arrays.asList("WM " + Long.MAX_VALUE));
	}

	/**
	 * The expected output: groups of records (any order inside a group, as the tests sort them)
	 * separated by watermarks, which must come in order.
	 */
	static List<List<String>> expected(String scenario) {
		switch (scenario) {
			case "reduce-event-time":
			case "apply-event-time":
			case "apply-event-time-evicting":
				// operators.md §4.1.1 / §4.1.2; MAX is the source's end of input.
				return eventTimeWindows(3, 3, 2);
			case "apply-event-time-evicting-2":
				// The same windows, each keeping its last 2 elements before the sum.
				return eventTimeWindows(2, 2, 2);
			case "session-with-stateful-trigger-mint":
				// operators.md §4.1.6: the count trigger fires at the 4th element of a session,
				// merged sessions included; the end of input only cleans up.
				return Arrays.asList(Arrays.asList("(key2-10,0,6500)@6499", "(key1-22,10,10000)@9999"),
						Arrays.asList("WM " + Long.MAX_VALUE));
			case "reduce-processing-time":
			case "apply-processing-time":
				// operators.md §4.1.4: the restored timer (5999) is in the past and fires at once.
				// Flink 1.10 sends no watermark in a processing-time job, not even at its end;
				// Flink 2.x has no time characteristic, and its sources end with the last one.
				return Arrays.asList(Arrays.asList("(key2,1)@5999", "(key3,1)@5999")); //V:110
				return Arrays.asList(Arrays.asList("(key2,1)@5999", "(key3,1)@5999"), Arrays.asList("WM " + Long.MAX_VALUE)); //V:23
			case "aggr-aligned":
			case "accum-aligned":
				// operators.md §4.2 (4), the MiniCluster adaptation: the pane [0, 3000) is
				// window (0,3000) with its timer at 2999, in the past, so it fires at once.
				return Arrays.asList(Arrays.asList("(key2,3)@2999", "(key1,2)@2999")); //V:110
				return Arrays.asList(Arrays.asList("(key2,3)@2999", "(key1,2)@2999"), Arrays.asList("WM " + Long.MAX_VALUE)); //V:23
			case "reader":
				// operators.md §6.4: the four splits of the 1.1 writer, each read once, with
				// the modification times of Flink 1.2's restore rule at clock 0.
				return Arrays.asList(Arrays.asList("#3 test/test1 0+100 @3", "#2 test/test2 101+200 @2", "#1 test/test2 0+100 @1", "#0 test/test3 0+100 @0")); //V:110
				return Arrays.asList(Arrays.asList("#3 test/test1 0+100 @3", "#2 test/test2 101+200 @2", "#1 test/test2 0+100 @1", "#0 test/test3 0+100 @0"), Arrays.asList("WM " + Long.MAX_VALUE)); //V:23
			case "rolling-sink": {
				// operators.md §7.4: the validator of Flink's test, on the 1.1 writer's bucket.
				String p = ROLLING_SINK_DIR + "/part-0-";
				return Arrays.asList(Arrays.asList("bucket " + ROLLING_SINK_DIR + ": in progress " + p + "4, valid 6, pending [], per checkpoint {0=["
						+ p + "0, " + p + "1, " + p + "2, " + p + "3]}"));
			}
			case "aggr-aligned-sliding":
			case "accum-aligned-sliding":
				// The same pane [0, 3000) read as 6 s windows sliding by 3 s: it is in the windows
				// [-3000, 3000) and [0, 6000), both due at once.
				return Arrays.asList(Arrays.asList("(key2,3)@2999", "(key1,2)@2999", "(key2,3)@5999", "(key1,2)@5999")); //V:110
				return Arrays.asList(Arrays.asList("(key2,3)@2999", "(key1,2)@2999", "(key2,3)@5999", "(key1,2)@5999"), Arrays.asList("WM " + Long.MAX_VALUE)); //V:23
			case "kafka-consumer":
				// operators.md §5.4, the offsets of the test's 1.1 writer.
				return Arrays.asList(Arrays.asList("abc-13=16768", "def-7=987654321"));
			case "monitoring-function":
				// operators.md §6.4: the restored modification time is 1482144479339, so a
				// file no newer is skipped and only the newer one is read.
				return Arrays.asList(Arrays.asList(NEWER_LINE));
			default:
				throw new IllegalArgumentException("unknown scenario " + scenario);
		}
	}

	/**
	 * FlinkKafkaConsumerBase's restore of a Flink 1.2 savepoint, stood in for (operators.md
	 * §2.6): it reads the `_default_` list of Tuple2(partition, offset) with the JavaSerializer,
	 * as Flink 1.10's consumer does before moving them into its union state.
	 */
	static final class KafkaStandIn implements SourceFunction<String>, CheckpointedFunction {
		private static final long serialVersionUID = 1L;
		@Override
		@SuppressWarnings("unchecked")
		public void initializeState(FunctionInitializationContext ctx) throws Exception {
			ListState<java.io.Serializable> old = ctx.getOperatorStateStore().getSerializableListState("_default_"); //V:110
			ListState<java.io.Serializable> old = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<>("_default_", new JavaSerializer<>())); //V:23
			for (java.io.Serializable o : old.get()) {
				Tuple2<KafkaTopicPartition, Long> t = (Tuple2<KafkaTopicPartition, Long>) o;
				SEEN.add(t.f0 + "=" + t.f1);
			}
		}
		@Override
		public void snapshotState(FunctionSnapshotContext ctx) {
		}
		@Override
		public void run(SourceContext<String> ctx) {
		}
		@Override
		public void cancel() {
		}
	}

	/** The bucket of Flink's RollingSink test in Flink 1.1 (its temporary directory then). */
	static final String ROLLING_SINK_DIR = "/var/folders/z5/fxvg1j6s6mn94nsf8b1yc8s80000gn/T/junit2927527303216950257/junit5645682027227039270/2017-01-09--18";

	/**
	 * BucketingSink's restore of a RollingSink's bucket, stood in for (operators.md §2.6, §7):
	 * it reads `bucket-states` with the JavaSerializer, as Flink 1.10's BucketingSink does, and
	 * reports each bucket (the files themselves are on the machine that wrote them).
	 */
	static final class BucketingSinkStandIn extends AbstractStreamOperator<Object> implements OneInputStreamOperator<String, Object> {
		private static final long serialVersionUID = 1L;
		@Override
		@SuppressWarnings("unchecked")
		public void initializeState(org.apache.flink.runtime.state.StateInitializationContext ctx) throws Exception {
			super.initializeState(ctx);
			ListState<java.io.Serializable> states = ctx.getOperatorStateStore().getSerializableListState("bucket-states"); //V:110
			ListState<java.io.Serializable> states = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<>("bucket-states", new JavaSerializer<>())); //V:23
			for (java.io.Serializable o : states.get()) {
				org.apache.flink.streaming.connectors.fs.bucketing.BucketingSink.State<String> s = (org.apache.flink.streaming.connectors.fs.bucketing.BucketingSink.State<String>) o;
				for (java.util.Map.Entry<String, org.apache.flink.streaming.connectors.fs.bucketing.BucketingSink.BucketState<String>> e : s.bucketStates.entrySet()) {
					org.apache.flink.streaming.connectors.fs.bucketing.BucketingSink.BucketState<String> b = e.getValue();
					SEEN.add("bucket " + e.getKey() + ": in progress " + b.currentFile + ", valid " + b.currentFileValidLength
							+ ", pending " + b.pendingFiles + ", per checkpoint " + b.pendingFilesPerCheckpoint);
				}
			}
		}
		@Override
		public void processElement(StreamRecord<String> r) {
		}
	}

	/** Emits nothing; waits until the operator under test has reported what it restored. */
	static final class Silent<T> extends AwaitingSource<T> {
		private static final long serialVersionUID = 1L;
		Silent(int waitFor) {
			super(waitFor);
		}
		@Override
		public void run(SourceContext<T> ctx) throws Exception {
			awaitOutput();
		}
	}

	static final long MONITORING_TIME = 1482144479339L;
	static final String NEWER_LINE = "written after the savepoint";

	/** ContinuousFileMonitoringFunction (uid) → reader → check, over a directory of two files. */
	static void monitoring(StreamExecutionEnvironment env, String uid) throws Exception {
		File dir = Files.createTempDirectory("operator-check").toFile();
		File older = new File(dir, "older.txt"), newer = new File(dir, "newer.txt");
		Files.write(older.toPath(), "read before the savepoint\n".getBytes(StandardCharsets.UTF_8));
		Files.write(newer.toPath(), (NEWER_LINE + "\n").getBytes(StandardCharsets.UTF_8));
		if (!older.setLastModified(MONITORING_TIME - 1000)) {
			throw new IllegalStateException("cannot set the modification time of " + older);
		}
		TextInputFormat format = new TextInputFormat(new org.apache.flink.core.fs.Path(dir.toURI().toString()));
		ContinuousFileMonitoringFunction<String> fn = new ContinuousFileMonitoringFunction<>(format, FileProcessingMode.PROCESS_CONTINUOUSLY, 1, 100);
		DataStream<TimestampedFileInputSplit> splits = env.addSource(fn, "monitoring", TypeInformation.of(TimestampedFileInputSplit.class)).uid(uid).setParallelism(1);
		DataStream<String> lines = splits.transform("reader", BasicTypeInfo.STRING_TYPE_INFO, new ContinuousFileReaderOperator<>(format)).uid("reader").setParallelism(1).disableChaining(); //V:110
		DataStream<String> lines = splits.transform("reader", BasicTypeInfo.STRING_TYPE_INFO, new ContinuousFileReaderOperatorFactory<>(format)).uid("reader").setParallelism(1).disableChaining(); //V:23
		lines.transform("check", TypeInformation.of(Object.class), new Check<String>(false)).uid("check").setParallelism(1).disableChaining();
	}

	/**
	 * ContinuousFileReaderOperator (uid) → check, fed no new splits: what it reads are the
	 * restored ones. The format reads no file; each split is one record naming it, as the
	 * BlockingFileInputFormat of Flink's test returned the split itself.
	 */
	static void reader(StreamExecutionEnvironment env, String uid, int records) {
		SplitFormat format = new SplitFormat();
		DataStream<TimestampedFileInputSplit> none = env.addSource(new Silent<TimestampedFileInputSplit>(records), "no splits", TypeInformation.of(TimestampedFileInputSplit.class)).uid("no-splits").setParallelism(1);
		DataStream<String> lines = none.transform("reader", BasicTypeInfo.STRING_TYPE_INFO, new ContinuousFileReaderOperator<>(format)).uid(uid).setParallelism(1); //V:110
		DataStream<String> lines = none.transform("reader", BasicTypeInfo.STRING_TYPE_INFO, new ContinuousFileReaderOperatorFactory<>(format)).uid(uid).setParallelism(1); //V:23
		lines.transform("check", TypeInformation.of(Object.class), new Check<String>(false)).uid("check").setParallelism(1).disableChaining();
	}

	/** Opens no file: a split is one record, "#number path start+length @modificationTime". */
	static final class SplitFormat extends org.apache.flink.api.common.io.FileInputFormat<String> {
		private static final long serialVersionUID = 1L;
		private transient TimestampedFileInputSplit split;
		SplitFormat() {
			super(new org.apache.flink.core.fs.Path("file:/splits-are-not-read"));
		}
		@Override
		public void open(org.apache.flink.core.fs.FileInputSplit s) {
			split = (TimestampedFileInputSplit) s;
		}
		@Override
		public boolean reachedEnd() {
			return split == null;
		}
		@Override
		public String nextRecord(String reuse) {
			TimestampedFileInputSplit t = split;
			split = null;
			return "#" + t.getSplitNumber() + " " + t.getPath() + " " + t.getStart() + "+" + t.getLength() + " @" + t.getModificationTime();
		}
		@Override
		public void close() {
		}
	}

	/** The 1.1 writer's input of reduce/apply-event-time (operators.md §4.1.1), then it idles. */
	static final class WriterInput implements SourceFunction<Tuple2<String, Integer>> {
		private static final long serialVersionUID = 1L;
		static volatile boolean emitted;
		private volatile boolean running = true;
		@Override
		public void run(SourceContext<Tuple2<String, Integer>> ctx) throws Exception {
			Object[][] in = {{"key2", 3999L}, {"key2", 3000L}, {"key1", 20L}, {"key1", 0L}, {"key1", 999L},
					{"key2", 1998L}, {"key2", 1999L}, {"key2", 1000L}};
			for (Object[] e : in) {
				ctx.collectWithTimestamp(new Tuple2<>((String) e[0], 1), (Long) e[1]);
			}
			ctx.emitWatermark(new Watermark(999));
			ctx.emitWatermark(new Watermark(1999));
			emitted = true;
			while (running) {
				Thread.sleep(20);
			}
		}
		@Override
		public void cancel() {
			running = false;
		}
	}

	public static void main(String[] args) throws Exception {
		if (args.length > 0 && args[0].equals("--write")) {
			write(Arrays.copyOfRange(args, 1, args.length));
			return;
		}
		if (args.length < 3) {
			System.err.println("usage: OperatorCheck SCENARIO SAVEPOINT_DIR UID [heap|rocksdb [PARALLELISM MAX_PARALLELISM]]");
			System.exit(1);
		}
		String scenario = args[0], savepoint = args[1], uid = args[2];
		String backend = args.length > 3 ? args[3] : "heap";
		int parallelism = args.length > 5 ? Integer.parseInt(args[4]) : 1;
		int maxParallelism = args.length > 5 ? Integer.parseInt(args[5]) : 1;
		List<List<String>> want = expected(scenario);
		boolean eventTime = scenario.contains("-event-time") || scenario.startsWith("session-");
		boolean continuous = scenario.equals("monitoring-function");

		StreamExecutionEnvironment env = environment(backend, eventTime, parallelism, maxParallelism);

		int records = 0;
		for (List<String> g : want) {
			for (String e : g) {
				records += e.startsWith("WM") ? 0 : 1;
			}
		}
		if (scenario.equals("session-with-stateful-trigger-mint")) {
			sessions(env, uid, records);
		} else if (scenario.equals("kafka-consumer")) {
			env.addSource(new KafkaStandIn(), "kafka", BasicTypeInfo.STRING_TYPE_INFO).uid(uid).setParallelism(1)
					.transform("check", TypeInformation.of(Object.class), new Check<String>(false)).uid("check").setParallelism(1).disableChaining();
		} else if (continuous) {
			monitoring(env, uid);
		} else if (scenario.equals("reader")) {
			reader(env, uid, records);
		} else if (scenario.equals("rolling-sink")) {
			env.addSource(new Silent<String>(records), "no lines", BasicTypeInfo.STRING_TYPE_INFO).uid("no-lines").setParallelism(1)
					.transform("bucketing sink", TypeInformation.of(Object.class), new BucketingSinkStandIn()).uid(uid).setParallelism(1);
		} else {
			// The test's watermarks after the restore (none in processing time).
			long[] marks = eventTime ? new long[] {2999, 3999, 4999, 5999} : new long[0];
			windows(env, scenario, uid, eventTime, new Watermarks(marks, records));
		}
		run(env, savepoint, continuous, records);
		compare(scenario, backend, want, parallelism);
	}

	/**
	 * The session scenario: sessions of 3 s, a purging count trigger of 4, the window
	 * contents a list state (apply), as Flink's test configured them.
	 */
	static void sessions(StreamExecutionEnvironment env, String uid, int records) {
		TypeInformation<Tuple2<String, Integer>> type = new TypeHint<Tuple2<String, Integer>>() {}.getTypeInfo();
		TypeInformation<Tuple3<String, Long, Long>> result = new TypeHint<Tuple3<String, Long, Long>>() {}.getTypeInfo();
		Time gap = Time.seconds(3); //V:110
		java.time.Duration gap = java.time.Duration.ofSeconds(3); //V:23
		env.addSource(new SessionInput(records), type).uid("elements").setParallelism(1)
				.keyBy(new FirstField(), BasicTypeInfo.STRING_TYPE_INFO)
				.window(EventTimeSessionWindows.withGap(gap))
				.trigger(PurgingTrigger.of(CountTrigger.of(4)))
				.apply(new SessionWindowFunction(), result).uid(uid)
				.transform("check", TypeInformation.of(Object.class), new Check<Tuple3<String, Long, Long>>(true)).uid("check").setParallelism(1).disableChaining();
	}

	/** {@code source} (the test's watermarks, or the 1.1 writer's input) → the window operator (uid) → check. */
	static void windows(StreamExecutionEnvironment env, String scenario, String uid, boolean eventTime,
			SourceFunction<Tuple2<String, Integer>> source) {
		TypeInformation<Tuple2<String, Integer>> type = new TypeHint<Tuple2<String, Integer>>() {}.getTypeInfo();
		DataStream<Tuple2<String, Integer>> in = env.addSource(source, type).uid("watermarks").setParallelism(1);
		KeyedStream<Tuple2<String, Integer>, String> keyed = in.keyBy(new FirstField(), BasicTypeInfo.STRING_TYPE_INFO);
		Time size = Time.seconds(3); //V:110
		java.time.Duration size = java.time.Duration.ofSeconds(3); //V:23
		Time slide = Time.seconds(3), sliding = Time.seconds(6); //V:110
		java.time.Duration slide = java.time.Duration.ofSeconds(3), sliding = java.time.Duration.ofSeconds(6); //V:23
		WindowedStream<Tuple2<String, Integer>, String, TimeWindow> windowed = eventTime
				? keyed.window(TumblingEventTimeWindows.of(size))
				: scenario.endsWith("-sliding")
				? keyed.window(org.apache.flink.streaming.api.windowing.assigners.SlidingProcessingTimeWindows.of(sliding, slide))
				: keyed.window(TumblingProcessingTimeWindows.of(size));
		// The evicting scenarios: an EvictingWindowOperator that keeps all (100) or the last 2.
		if (scenario.startsWith("apply-event-time-evicting")) {
			windowed = windowed.evictor(org.apache.flink.streaming.api.windowing.evictors.CountEvictor.of(scenario.endsWith("-2") ? 2 : 100));
		}
		// aggr-aligned was a reduce, accum-aligned an apply (operators.md §4.2 (4)).
		DataStream<Tuple2<String, Integer>> out = scenario.startsWith("reduce-") || scenario.startsWith("aggr-aligned")
				? windowed.reduce(new SumReducer())
				: windowed.apply(new RichSumReducer(), type);
		((org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator<Tuple2<String, Integer>>) out).uid(uid);
		out.transform("check", TypeInformation.of(Object.class), new Check<Tuple2<String, Integer>>(true)).uid("check").setParallelism(1).disableChaining();
	}

	/** One task manager, REST on a free local port. */
	static MiniCluster miniCluster() {
		Configuration conf = new Configuration();
		conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
		conf.set(RestOptions.BIND_PORT, "0");
		return new MiniCluster(new MiniClusterConfiguration.Builder()
				.setConfiguration(conf).setNumTaskManagers(1).setNumSlotsPerTaskManager(3).build());
	}

	/** The job's environment: no restarts, the backend, its time and parallelism. */
	static StreamExecutionEnvironment environment(String backend, boolean eventTime, int parallelism, int maxParallelism) {
		Configuration envConf = new Configuration(); //V:23
		envConf.setString("restart-strategy.type", "none"); //V:23
		envConf.setString("state.backend.type", backend.equals("rocksdb") ? "rocksdb" : "hashmap"); //V:23
		StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(envConf); //V:23
		StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(); //V:110
		env.setRestartStrategy(RestartStrategies.noRestart()); //V:110
		env.setStreamTimeCharacteristic(eventTime ? TimeCharacteristic.EventTime : TimeCharacteristic.ProcessingTime); //V:110
		env.setStateBackend(backend.equals("rocksdb") ? new RocksDBStateBackend(new MemoryStateBackend()) : new MemoryStateBackend()); //V:110
		env.setParallelism(parallelism);
		env.setMaxParallelism(maxParallelism);
		return env;
	}

	/** Runs the writer's input through the window operator and takes a savepoint of Flink's own. */
	static void write(String[] args) throws Exception {
		String scenario = args[0], to = args[1], uid = args[2];
		String backend = args.length > 3 ? args[3] : "heap";
		StreamExecutionEnvironment env = environment(backend, true, 1, 1);
		windows(env, scenario, uid, true, new WriterInput());
		JobGraph job = env.getStreamGraph().getJobGraph();
		MiniCluster mc = miniCluster();
		try {
			mc.start();
			mc.submitJob(job).get();
			long deadline = System.currentTimeMillis() + 30000;
			while (!WriterInput.emitted && System.currentTimeMillis() < deadline) {
				Thread.sleep(20);
			}
			Thread.sleep(1000);
			String path = mc.triggerSavepoint(job.getJobID(), to, true).get(120, java.util.concurrent.TimeUnit.SECONDS); //V:110
			String path = mc.triggerSavepoint(job.getJobID(), to, true, org.apache.flink.core.execution.SavepointFormatType.CANONICAL).get(120, java.util.concurrent.TimeUnit.SECONDS); //V:23
			System.out.println("SAVEPOINT " + path);
		} finally {
			mc.closeAsync().get();
		}
	}

	/**
	 * Restores the job from the savepoint and runs it: to its end, or (a continuous source)
	 * until the records came and a second more passed, then cancels it.
	 */
	static void run(StreamExecutionEnvironment env, String savepoint, boolean continuous, int records) throws Exception {
		JobGraph job = env.getStreamGraph().getJobGraph();
		job.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(savepoint, false));
		for (JobVertex v : job.getVertices()) {
			System.out.printf("job vertex %s %s%n", v.getID(), v.getName());
		}

		MiniCluster mc = miniCluster();
		try {
			mc.start();
			if (!continuous) {
				mc.executeJobBlocking(job);
			} else {
				mc.submitJob(job).get();
				long deadline = System.currentTimeMillis() + waitMillis();
				while (SEEN.size() < records && System.currentTimeMillis() < deadline) {
					if (mc.getJobStatus(job.getJobID()).get().isGloballyTerminalState()) {
						mc.requestJobResult(job.getJobID()).get().toJobExecutionResult(OperatorCheck.class.getClassLoader());
					}
					Thread.sleep(20);
				}
				Thread.sleep(1000);
				mc.cancelJob(job.getJobID()).get();
			}
		} catch (Throwable t) {
			System.out.println("job FAILED: " + t);
			for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
				System.out.println("  caused by: " + c);
			}
			System.exit(2);
		} finally {
			mc.closeAsync().get();
		}
	}

	static void compare(String scenario, String backend, List<List<String>> want, int parallelism) {
		List<String> seen = new ArrayList<>(SEEN);
		for (String e : seen) {
			System.out.println("output " + e);
		}
		if (parallelism > 1) {
			// Several window subtasks: one may run ahead of the watermark the check sees
			// (the least of its inputs'), so compare the records and the watermarks apart,
			// as Flink's tests do (operators.md §4.1.4: watermarks equal everything).
			List<String> wantRecords = new ArrayList<>(), wantMarks = new ArrayList<>();
			for (List<String> g : want) {
				for (String e : g) {
					(e.startsWith("WM") ? wantMarks : wantRecords).add(e);
				}
			}
			want = new ArrayList<>();
			want.add(wantRecords);
			for (String m : wantMarks) {
				want.add(Arrays.asList(m));
			}
			List<String> gotRecords = new ArrayList<>(), gotMarks = new ArrayList<>();
			for (String e : seen) {
				(e.startsWith("WM") ? gotMarks : gotRecords).add(e);
			}
			seen = new ArrayList<>(gotRecords);
			seen.addAll(gotMarks);
		}
		// Compare group by group: a group's events in any order, the groups in order.
		int at = 0;
		String wrong = null;
		for (List<String> g : want) {
			List<String> part = seen.subList(Math.min(at, seen.size()), Math.min(at + g.size(), seen.size()));
			List<String> a = new ArrayList<>(part), b = new ArrayList<>(g);
			Collections.sort(a);
			Collections.sort(b);
			if (!a.equals(b)) {
				wrong = "expected " + b + " at output " + at + ", got " + a;
				break;
			}
			at += g.size();
		}
		if (wrong == null && at != seen.size()) {
			wrong = "unexpected output after the expected: " + seen.subList(at, seen.size());
		}
		System.out.println(wrong == null ? "OK " + scenario + " (" + backend + "): every expected record and watermark" : "WRONG " + scenario + " (" + backend + "): " + wrong);
		System.exit(wrong == null ? 0 : 3);
	}
}
