// Prints, for each serializer a Flink 1.1 job could have used, one line:
//   label TAB hex(the serializer, Java-serialized) TAB hex(the snapshot Flink writes for it)
// so a test can feed the first to savepointfs and compare its snapshot with Flink's own.
// Compiled and run by tests/modern_snapshots.rs against each Flink release's flink-dist.
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshotSerializationUtil;
import org.apache.flink.api.common.typeutils.base.*;
import org.apache.flink.api.common.typeutils.base.array.*;
import org.apache.flink.api.java.tuple.Tuple1;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.ArrayListSerializer;
import org.apache.flink.runtime.state.JavaSerializer;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.windowing.windows.GlobalWindow;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.streaming.runtime.streamrecord.StreamElementSerializer;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

public class SnapshotReference {
	public static class Pojo { public long id; public String name; public Pojo() {} }
	public static class Outer { public Pojo inner; public int[] counts; public Tuple2<String, Long> pair; public Outer() {} }
	public static class NotPojo { private final int x; public NotPojo(int x) { this.x = x; } }

	static String hex(byte[] b) {
		StringBuilder h = new StringBuilder();
		for (byte x : b) h.append(String.format("%02x", x));
		return h.toString();
	}

	static String java(Object o) throws Exception {
		ByteArrayOutputStream bytes = new ByteArrayOutputStream();
		try (ObjectOutputStream out = new ObjectOutputStream(bytes)) { out.writeObject(o); }
		return hex(bytes.toByteArray());
	}

	static String snapshot(TypeSerializer<?> s) throws Exception {
		DataOutputSerializer out = new DataOutputSerializer(64);
		TypeSerializerSnapshotSerializationUtil.writeSerializerSnapshot(out, s.snapshotConfiguration());
		return hex(out.getCopyOfBuffer());
	}

	public static void main(String[] a) throws Exception {
		SerializerConfigImpl sc = new SerializerConfigImpl();
		Map<String, TypeSerializer<?>> m = new LinkedHashMap<>();
		m.put("Long", LongSerializer.INSTANCE);
		m.put("Int", IntSerializer.INSTANCE);
		m.put("Short", ShortSerializer.INSTANCE);
		m.put("Byte", ByteSerializer.INSTANCE);
		m.put("Boolean", BooleanSerializer.INSTANCE);
		m.put("Char", CharSerializer.INSTANCE);
		m.put("Float", FloatSerializer.INSTANCE);
		m.put("Double", DoubleSerializer.INSTANCE);
		m.put("String", StringSerializer.INSTANCE);
		m.put("Void", VoidSerializer.INSTANCE);
		m.put("boolean[]", BooleanPrimitiveArraySerializer.INSTANCE);
		m.put("byte[]", BytePrimitiveArraySerializer.INSTANCE);
		m.put("char[]", CharPrimitiveArraySerializer.INSTANCE);
		m.put("double[]", DoublePrimitiveArraySerializer.INSTANCE);
		m.put("float[]", FloatPrimitiveArraySerializer.INSTANCE);
		m.put("int[]", IntPrimitiveArraySerializer.INSTANCE);
		m.put("long[]", LongPrimitiveArraySerializer.INSTANCE);
		m.put("short[]", ShortPrimitiveArraySerializer.INSTANCE);
		m.put("String[]", StringArraySerializer.INSTANCE);
		m.put("RuntimeJava", new JavaSerializer<>());
		m.put("TimeWindow", new TimeWindow.Serializer());
		m.put("GlobalWindow", new GlobalWindow.Serializer());
		m.put("Tuple1<Long>", new TypeHint<Tuple1<Long>>() {}.getTypeInfo().createSerializer(sc));
		m.put("Tuple2<String,Long>", new TypeHint<Tuple2<String, Long>>() {}.getTypeInfo().createSerializer(sc));
		m.put("Tuple2<Tuple1<Long>,int[]>", new TypeHint<Tuple2<Tuple1<Long>, int[]>>() {}.getTypeInfo().createSerializer(sc));
		m.put("List<Long>", new ListSerializer<>(LongSerializer.INSTANCE));
		m.put("ArrayList<Tuple1<Long>>", new ArrayListSerializer<>(new TypeHint<Tuple1<Long>>() {}.getTypeInfo().createSerializer(sc)));
		m.put("StreamElement<Tuple2<String,Integer>>", new StreamElementSerializer<>(new TypeHint<Tuple2<String, Integer>>() {}.getTypeInfo().createSerializer(sc)));
		m.put("Map<String,Long>", new MapSerializer<>(StringSerializer.INSTANCE, LongSerializer.INSTANCE));
		m.put("Long[]", new GenericArraySerializer<>(Long.class, LongSerializer.INSTANCE));
		m.put("Enum", new EnumSerializer<>(java.util.concurrent.TimeUnit.class));
		m.put("Pojo", TypeInformation.of(Pojo.class).createSerializer(sc));
		m.put("Pojo(Pojo,int[],Tuple2)", TypeInformation.of(Outer.class).createSerializer(sc));
		m.put("Kryo", TypeInformation.of(NotPojo.class).createSerializer(sc));
		for (Map.Entry<String, TypeSerializer<?>> e : m.entrySet()) {
			System.out.println(e.getKey() + "\t" + java(e.getValue()) + "\t" + snapshot(e.getValue()));
		}
		// The namespace serializer of state without a namespace (1.1: VoidSerializer).
		System.out.println("VoidNamespace\t" + java(VoidSerializer.INSTANCE) + "\t" + snapshot(VoidNamespaceSerializer.INSTANCE));
	}
}
