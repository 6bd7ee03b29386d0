/*
 * The POJO of synthetic savepoints (`synth --key-type pojo`, `--value-type pojo`): the
 * class savepointfs's synth names in its PojoSerializer. Flink orders a POJO's fields by
 * name (id, name); hashCode is Tuple2(id, name)'s, which synth assigns key groups by.
 */
package savepointfs.synth;

import java.util.Objects;

public class Pojo implements java.io.Serializable {
	private static final long serialVersionUID = 1L;

	public long id;
	public String name;

	public Pojo() {}

	public Pojo(long id, String name) {
		this.id = id;
		this.name = name;
	}

	@Override
	public int hashCode() {
		return 31 * Long.hashCode(id) + (name == null ? 0 : name.hashCode());
	}

	@Override
	public boolean equals(Object o) {
		return o instanceof Pojo && ((Pojo) o).id == id && Objects.equals(((Pojo) o).name, name);
	}
}
