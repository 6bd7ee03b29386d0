//! What the native forms would lose of a built-in Flink 1.1 operator (recognised by
//! `v0::operators`), and where. Converting those operators by their own rules is not
//! done yet; until it is, the native files that would drop their state silently (window
//! timers in raw operator state that no later WindowOperator reads, buffered panes,
//! in-flight splits, NFAs) or fail obscurely (Kafka offsets, RollingSink buckets) are
//! refused with the reason, and `verify` reports them. Flink 1.2.0's migration form
//! (`legacy-operator-state`, `keyed-state`) still carries everything: Flink 1.2 restores
//! these operators from it.

pub use crate::v0::operators::{Operator, ambiguous, detect, head};

/// What the native forms lose of an operator.
pub trait NativeLoss {
    /// Why the native forms cannot carry it.
    fn why(self) -> String;
    /// Whether the entry's raw operator bytes (`operator-state`) hold what is lost.
    fn in_operator_bytes(self) -> bool;
    /// Whether the lost state is the entry's function state (`managed-operator-state*`).
    fn in_function_state(self) -> bool;
    /// Whether it is the keyed state (the native keyed streams).
    fn in_keyed_state(self) -> bool;
}

impl NativeLoss for Operator {
    fn why(self) -> String {
        match self {
            Operator::WindowWithTimers => "its pending timers are in the operator's own bytes, which a Flink >= 1.2 WindowOperator never reads: restored that way, its windows would never fire. Timers are not carried yet; restore through Flink 1.2 (--target migration)".into(),
            Operator::AlignedWindow => "its buffered panes are in the operator's own bytes, which later Flink ignores (they would be dropped); converting them into a WindowOperator is not done yet".into(),
            Operator::CepKeyed | Operator::CepNonKeyed => "CEP state of Flink 1.1 cannot be carried: its NFA and buffered events are Java- and Kryo-serialized 1.1 objects that no later Flink reads; drain the job (let pending matches complete) before the upgrade".into(),
            Operator::FileReader => "its in-flight splits are in the operator's own bytes, which later Flink ignores (they would be dropped); carrying them is not done yet".into(),
            Operator::Kafka => "its offsets are a 1.1 HashMap that later Flink cannot read as list state (a ClassCastException at restore); carrying them is not done yet".into(),
            Operator::RollingSink => "RollingSink is gone from later Flink (its state class cannot be loaded); BucketingSink state is not written yet".into(),
        }
    }

    fn in_operator_bytes(self) -> bool {
        matches!(
            self,
            Operator::WindowWithTimers
                | Operator::AlignedWindow
                | Operator::CepNonKeyed
                | Operator::FileReader
        )
    }

    fn in_function_state(self) -> bool {
        matches!(self, Operator::Kafka | Operator::RollingSink)
    }

    fn in_keyed_state(self) -> bool {
        self == Operator::CepKeyed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_says_what_it_loses_and_where() {
        for op in [
            Operator::WindowWithTimers,
            Operator::AlignedWindow,
            Operator::CepKeyed,
            Operator::CepNonKeyed,
            Operator::FileReader,
            Operator::Kafka,
            Operator::RollingSink,
        ] {
            let places = [
                op.in_operator_bytes(),
                op.in_function_state(),
                op.in_keyed_state(),
            ];
            assert_eq!(places.iter().filter(|&&p| p).count(), 1, "{op:?}");
            assert!(!op.why().is_empty());
        }
        assert!(
            Operator::CepKeyed
                .why()
                .starts_with("CEP state of Flink 1.1 cannot be carried: ")
        );
    }
}
