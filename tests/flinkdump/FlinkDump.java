/*
 * The oracle: what a real Flink reads back from a converted savepoint. Given a directory
 * and a manifest (`savepointfs synth --manifest`, or a hand-written file of the same form),
 * it builds a job with one keyed operator per operator id of the manifest's first line
 * (setUidHash, so Flink maps the savepoint's state to it), restores the directory into a
 * MiniCluster, and in each operator's open() registers every state with its descriptor and
 * prints every (key, namespace, value) Flink's own state backend holds, as the manifest's
 * value lines. One source for Flink 1.10 and 2.3: `scripts/flinkdump` keeps the lines
 * tagged for one of them (a trailing V-tag comment; untagged lines are for both).
 *
 * usage: FlinkDump DIR MANIFEST --backend heap|rocksdb [--parallelism P]
 * exit:  0 restored (the lines are on stdout); 2 the job failed; 1 usage
 */
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.common.functions.FoldFunction; //V:110
import org.apache.flink.api.common.state.FoldingState; //V:110
import org.apache.flink.api.common.state.FoldingStateDescriptor; //V:110
import org.apache.flink.api.common.state.AggregatingState;
import org.apache.flink.api.common.state.AggregatingStateDescriptor;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ReducingState;
import org.apache.flink.api.common.state.ReducingStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.windowing.windows.GlobalWindow;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple1;
import org.apache.flink.api.java.typeutils.TupleTypeInfo;
import org.apache.flink.api.common.ExecutionConfig; //V:110
import org.apache.flink.api.common.serialization.SerializerConfigImpl; //V:23
import savepointfs.synth.Pojo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.runtime.state.memory.MemoryStateBackend; //V:110
import org.apache.flink.contrib.streaming.state.RocksDBStateBackend; //V:110
import org.apache.flink.api.common.restartstrategy.RestartStrategies; //V:110

import java.io.BufferedReader;
import java.io.FileReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import java.util.stream.Stream;

public final class FlinkDump {

	static final ObjectMapper JSON = new ObjectMapper();
	static final ConcurrentLinkedQueue<String> LINES = new ConcurrentLinkedQueue<>();

	/** One keyed state of the manifest's first line. */
	static final class StateSpec implements java.io.Serializable {
		private static final long serialVersionUID = 1L;
		String vertex, operator, name, kind, key, namespace, value;
		/** The namespaces the manifest's value lines name for it, as JSON (Flink 1.10 is asked for each). */
		ArrayList<String> namespaces = new ArrayList<>();
	}

	static final class LongKey implements KeySelector<Long, Long> {
		private static final long serialVersionUID = 1L;
		@Override
		public Long getKey(Long v) {
			return v;
		}
	}

	static final class IntKey implements KeySelector<Long, Integer> {
		private static final long serialVersionUID = 1L;
		@Override
		public Integer getKey(Long v) {
			return v.intValue();
		}
	}

	static final class StringKey implements KeySelector<Long, String> {
		private static final long serialVersionUID = 1L;
		@Override
		public String getKey(Long v) {
			return "k" + v;
		}
	}

	static final class Tuple2Key implements KeySelector<Long, Tuple2<Long, String>> {
		private static final long serialVersionUID = 1L;
		@Override
		public Tuple2<Long, String> getKey(Long v) {
			return Tuple2.of(v, "s");
		}
	}

	static final class Tuple1Key implements KeySelector<Long, Tuple1<Long>> {
		private static final long serialVersionUID = 1L;
		@Override
		public Tuple1<Long> getKey(Long v) {
			return Tuple1.of(v);
		}
	}

	static final class PojoKey implements KeySelector<Long, Pojo> {
		private static final long serialVersionUID = 1L;
		@Override
		public Pojo getKey(Long v) {
			return new Pojo(v, "k");
		}
	}

	/** The POJO's type, which Flink must analyse as a POJO (a generic type would be Kryo). */
	static TypeInformation<Pojo> pojoType() {
		TypeInformation<Pojo> t = TypeInformation.of(Pojo.class);
		if (!(t instanceof org.apache.flink.api.java.typeutils.PojoTypeInfo)) {
			throw new IllegalStateException("Pojo is not analysed as a POJO: " + t);
		}
		return t;
	}

	@SuppressWarnings("unchecked")
	static TypeSerializer<Object> pojoSerializer() {
		return (TypeSerializer<Object>) (TypeSerializer<?>) pojoType().createSerializer(new ExecutionConfig()); //V:110
		return (TypeSerializer<Object>) (TypeSerializer<?>) pojoType().createSerializer(new SerializerConfigImpl()); //V:23
	}

	/** Reads one state for the backend's current key. */
	interface Reader {
		JsonNode value(Object namespace) throws Exception;
	}

	/** The reducing state's function (never called: nothing is added). */
	static final class First implements ReduceFunction<Object> {
		private static final long serialVersionUID = 1L;
		@Override
		public Object reduce(Object a, Object b) {
			return a;
		}
	}

	@SuppressWarnings("unchecked")
	static TypeSerializer<Object> valueSerializer(String type) {
		switch (type) {
			case "long": return (TypeSerializer<Object>) (TypeSerializer<?>) LongSerializer.INSTANCE;
			case "string": return (TypeSerializer<Object>) (TypeSerializer<?>) StringSerializer.INSTANCE;
			case "pojo": return pojoSerializer();
			default: throw new IllegalArgumentException(type + " values are not read yet");
		}
	}

	/** A fold's initial value, as synth writes it: 0L, the empty String, or Pojo(0, ""). */
	static Object initial(String type) {
		switch (type) {
			case "string": return "";
			case "pojo": return new Pojo(0, "");
			default: return 0L;
		}
	}

	@SuppressWarnings("unchecked")
	static TypeSerializer<Object> namespaceSerializer(String type) {
		switch (type) {
			case "void": return (TypeSerializer<Object>) (TypeSerializer<?>) VoidNamespaceSerializer.INSTANCE;
			case "time-window": return (TypeSerializer<Object>) (TypeSerializer<?>) new TimeWindow.Serializer();
			case "global-window": return (TypeSerializer<Object>) (TypeSerializer<?>) new GlobalWindow.Serializer();
			default: throw new IllegalArgumentException("namespace " + type + " is not read yet");
		}
	}

	static Object anyNamespace(String type) {
		switch (type) {
			case "void": return VoidNamespace.INSTANCE;
			case "time-window": return new TimeWindow(0, 1);
			default: return GlobalWindow.get();
		}
	}

	/** A namespace of the manifest's form: null, {"start", "end"} or {} for the global window. */
	static Object namespaceOf(String type, JsonNode n) {
		switch (type) {
			case "time-window": return new TimeWindow(n.get("start").asLong(), n.get("end").asLong());
			default: return anyNamespace(type);
		}
	}

	static JsonNode namespaceJson(Object ns) {
		if (ns instanceof TimeWindow) {
			ObjectNode o = JSON.createObjectNode();
			o.put("start", ((TimeWindow) ns).getStart());
			o.put("end", ((TimeWindow) ns).getEnd());
			return o;
		}
		if (ns instanceof GlobalWindow) {
			return JSON.createObjectNode();
		}
		return JSON.getNodeFactory().nullNode();
	}

	/** A converted folding state, as Flink >= 1.14 has to read it: its accumulator is the fold's value. */
	static final class Acc implements AggregateFunction<Object, Object, Object> {
		private static final long serialVersionUID = 1L;
		private final String type;

		Acc(String type) {
			this.type = type;
		}
		@Override
		public Object createAccumulator() {
			return initial(type);
		}
		@Override
		public Object add(Object v, Object acc) {
			return acc;
		}
		@Override
		public Object getResult(Object acc) {
			return acc;
		}
		@Override
		public Object merge(Object a, Object b) {
			return a;
		}
	}

	static final class Fold implements FoldFunction<Object, Object> { //V:110
		private static final long serialVersionUID = 1L; //V:110
		@Override //V:110
		public Object fold(Object acc, Object v) { //V:110
			return acc; //V:110
		} //V:110
	} //V:110

	/** Reads every state of its operator back in open(); processes nothing. */
	static final class Dump extends AbstractStreamOperator<String> implements OneInputStreamOperator<Long, String> {
		private static final long serialVersionUID = 1L;
		private final List<StateSpec> states;

		Dump(List<StateSpec> states) {
			this.states = states;
		}

		@Override
		@SuppressWarnings("unchecked")
		public void open() throws Exception {
			super.open();
			KeyedStateBackend<Object> backend = (KeyedStateBackend<Object>) getKeyedStateBackend();
			for (StateSpec s : states) {
				TypeSerializer<Object> nsSerializer = namespaceSerializer(s.namespace);
				Reader read = reader(backend, s, nsSerializer);
				List<Object[]> pairs = new ArrayList<>();
				// Flink 2.3 lists every (key, namespace) it holds; Flink 1.10 lists the keys of
				// a namespace, so it is asked for each namespace the manifest names.
				try (Stream<Tuple2<Object, Object>> kn = backend.getKeysAndNamespaces(s.name)) { //V:23
					kn.forEach(t -> pairs.add(new Object[] {t.f0, t.f1})); //V:23
				} //V:23
				for (String json : s.namespaces) { //V:110
					Object ns = namespaceOf(s.namespace, JSON.readTree(json)); //V:110
					try (Stream<Object> ks = backend.getKeys(s.name, ns)) { //V:110
						ks.forEach(k -> pairs.add(new Object[] {k, ns})); //V:110
					} //V:110
				} //V:110
				for (Object[] kn : pairs) {
					backend.setCurrentKey(kn[0]);
					ObjectNode line = JSON.createObjectNode();
					line.put("vertex", s.vertex);
					line.put("state", s.name);
					if (kn[0] instanceof Tuple1) {
						line.putArray("key").add((Long) ((Tuple1<?>) kn[0]).f0);
					} else if (kn[0] instanceof Tuple2) {
						Tuple2<?, ?> t = (Tuple2<?, ?>) kn[0];
						line.putArray("key").add((Long) t.f0).add((String) t.f1);
					} else if (kn[0] instanceof Integer) {
						line.put("key", (Integer) kn[0]);
					} else if (kn[0] instanceof String) {
						line.put("key", (String) kn[0]);
					} else if (kn[0] instanceof Pojo) {
						line.set("key", json(kn[0]));
					} else {
						line.put("key", (Long) kn[0]);
					}
					line.set("namespace", namespaceJson(kn[1]));
					line.set("value", read.value(kn[1]));
					LINES.add(JSON.writeValueAsString(line));
				}
			}
		}

		/** The state registered with the descriptor of its kind, read as JSON for the current key and a namespace. */
		private static Reader reader(KeyedStateBackend<Object> backend, StateSpec s, TypeSerializer<Object> ns) throws Exception {
			Object any = anyNamespace(s.namespace);
			TypeSerializer<Object> vs = valueSerializer(s.value);
			switch (s.kind) {
				case "value": {
					ValueStateDescriptor<Object> d = new ValueStateDescriptor<>(s.name, vs);
					backend.getPartitionedState(any, ns, d);
					return n -> json(backend.getPartitionedState(n, ns, d).value());
				}
				case "reducing": {
					ReducingStateDescriptor<Object> d = new ReducingStateDescriptor<>(s.name, new First(), vs);
					backend.getPartitionedState(any, ns, d);
					return n -> json(backend.getPartitionedState(n, ns, d).get());
				}
				case "folding": {
					FoldingStateDescriptor<Object, Object> d = new FoldingStateDescriptor<>(s.name, initial(s.value), new Fold(), vs); //V:110
					backend.getPartitionedState(any, ns, d); //V:110
					AggregatingStateDescriptor<Object, Object, Object> d = new AggregatingStateDescriptor<>(s.name, new Acc(s.value), vs); //V:23
					backend.getPartitionedState(any, ns, d); //V:23
					return n -> json(backend.getPartitionedState(n, ns, d).get());
				}
				case "aggregating": {
					AggregatingStateDescriptor<Object, Object, Object> d = new AggregatingStateDescriptor<>(s.name, new Acc(s.value), vs);
					backend.getPartitionedState(any, ns, d);
					return n -> json(backend.getPartitionedState(n, ns, d).get());
				}
				case "list": {
					ListStateDescriptor<Object> d = new ListStateDescriptor<>(s.name, vs);
					backend.getPartitionedState(any, ns, d);
					return n -> {
						Iterable<Object> elements = backend.getPartitionedState(n, ns, d).get();
						if (elements == null) {
							return JSON.getNodeFactory().nullNode();
						}
						ArrayNode a = JSON.createArrayNode();
						for (Object e : elements) {
							a.add(json(e));
						}
						return a;
					};
				}
				default:
					throw new IllegalArgumentException("state " + s.name + ": " + s.kind + " state is not read yet");
			}
		}

		private static JsonNode json(Object v) {
			if (v instanceof Long) {
				return JSON.getNodeFactory().numberNode((Long) v);
			}
			if (v instanceof String) {
				return JSON.getNodeFactory().textNode((String) v);
			}
			if (v instanceof Pojo) {
				ObjectNode o = JSON.createObjectNode();
				o.put("id", ((Pojo) v).id);
				o.put("name", ((Pojo) v).name);
				return o;
			}
			return JSON.getNodeFactory().nullNode();
		}

		@Override
		public void processElement(StreamRecord<Long> element) {}
	}

	public static void main(String[] args) throws Exception {
		if (args.length < 2) {
			System.err.println("usage: FlinkDump DIR MANIFEST --backend heap|rocksdb [--parallelism P]");
			System.exit(1);
		}
		String dir = args[0];
		String backend = "heap";
		Integer parallelism = null;
		for (int i = 2; i < args.length; i++) {
			switch (args[i]) {
				case "--backend": backend = args[++i]; break;
				case "--parallelism": parallelism = Integer.parseInt(args[++i]); break;
				default: System.err.println("unknown option " + args[i]); System.exit(1);
			}
		}
		JsonNode header;
		List<JsonNode> values = new ArrayList<>();
		try (BufferedReader r = new BufferedReader(new FileReader(args[1]))) {
			header = JSON.readTree(r.readLine());
			for (String l = r.readLine(); l != null; l = r.readLine()) {
				if (!l.trim().isEmpty()) {
					values.add(JSON.readTree(l));
				}
			}
		}
		Map<String, List<StateSpec>> byOperator = new LinkedHashMap<>();
		for (JsonNode n : header.get("states")) {
			StateSpec s = new StateSpec();
			s.vertex = n.get("vertex").asText();
			s.operator = n.get("operator").asText();
			s.name = n.get("state").asText();
			s.kind = n.get("kind").asText();
			s.key = n.get("key").asText();
			s.namespace = n.get("namespace").asText();
			s.value = n.get("value").asText();
			java.util.Set<String> seen = new java.util.HashSet<>();
			for (JsonNode v : values) {
				if (v.get("vertex").asText().equals(s.vertex) && v.get("state").asText().equals(s.name)
						&& seen.add(v.get("namespace").toString())) {
					s.namespaces.add(v.get("namespace").toString());
				}
			}
			byOperator.computeIfAbsent(s.operator, o -> new ArrayList<>()).add(s);
		}
		int p = parallelism != null ? parallelism : header.get("parallelism").asInt();

		Configuration envConf = new Configuration();
		envConf.setString("restart-strategy.type", "none"); //V:23
		envConf.setString("state.backend.type", backend.equals("rocksdb") ? "rocksdb" : "hashmap"); //V:23
		StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(envConf); //V:23
		StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(); //V:110
		env.setRestartStrategy(RestartStrategies.noRestart()); //V:110
		env.setStateBackend(backend.equals("rocksdb") ? new RocksDBStateBackend(new MemoryStateBackend()) : new MemoryStateBackend()); //V:110
		env.setParallelism(p);
		DataStream<Long> source = env.fromSequence(0, 0).setParallelism(1); //V:23
		DataStream<Long> source = env.generateSequence(0, 0).setParallelism(1); //V:110
		for (Map.Entry<String, List<StateSpec>> op : byOperator.entrySet()) {
			String keyType = op.getValue().get(0).key;
			DataStream<String> out;
			if (keyType.equals("long")) {
				out = source.keyBy(new LongKey(), Types.LONG).transform("dump " + op.getKey(), Types.STRING, new Dump(op.getValue()));
			} else if (keyType.equals("int")) {
				out = source.keyBy(new IntKey(), Types.INT).transform("dump " + op.getKey(), Types.STRING, new Dump(op.getValue()));
			} else if (keyType.equals("string")) {
				out = source.keyBy(new StringKey(), Types.STRING).transform("dump " + op.getKey(), Types.STRING, new Dump(op.getValue()));
			} else if (keyType.equals("tuple2-long-string")) {
				TypeInformation<Tuple2<Long, String>> t = new TupleTypeInfo<>(Types.LONG, Types.STRING);
				out = source.keyBy(new Tuple2Key(), t).transform("dump " + op.getKey(), Types.STRING, new Dump(op.getValue()));
			} else if (keyType.equals("pojo")) {
				out = source.keyBy(new PojoKey(), pojoType()).transform("dump " + op.getKey(), Types.STRING, new Dump(op.getValue()));
			} else if (keyType.equals("tuple1-long")) {
				TypeInformation<Tuple1<Long>> t = new TupleTypeInfo<>(Types.LONG);
				out = source.keyBy(new Tuple1Key(), t).transform("dump " + op.getKey(), Types.STRING, new Dump(op.getValue()));
			} else {
				throw new IllegalArgumentException("key type " + keyType + " is not read yet");
			}
			((org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator<String>) out).setUidHash(op.getKey());
		}
		JobGraph job = env.getStreamGraph().getJobGraph();
		// The manifest names keyed state only; the savepoint's function state has no operator here.
		job.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(dir, true));

		Configuration conf = new Configuration();
		conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
		conf.set(RestOptions.BIND_PORT, "0");
		MiniCluster mc = new MiniCluster(new MiniClusterConfiguration.Builder()
				.setConfiguration(conf).setNumTaskManagers(1).setNumSlotsPerTaskManager(p).build());
		int rc = 0;
		try {
			mc.start();
			mc.executeJobBlocking(job);
		} catch (Exception e) {
			System.err.println("job FAILED: " + e);
			for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
				System.err.println("  caused by: " + c);
			}
			rc = 2;
		} finally {
			mc.close();
		}
		List<String> lines = new ArrayList<>(LINES);
		java.util.Collections.sort(lines);
		for (String l : lines) {
			System.out.println(l);
		}
		System.exit(rc);
	}
}
