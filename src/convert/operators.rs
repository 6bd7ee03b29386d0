//! What the converted forms would lose of a built-in Flink 1.1 operator (recognised by
//! `v0::operators`), and where. A WindowOperator's timers are carried to every target
//! (`convert/timers.rs`); the other operators' native files, which would drop
//! their state silently (buffered panes, in-flight splits, NFAs) or fail obscurely
//! (Kafka offsets, RollingSink buckets), are refused with the reason, and `verify`
//! reports them. Flink 1.2.0's migration form
//! (`legacy-operator-state`, `keyed-state`) still carries everything: Flink 1.2 restores
//! these operators from it.

use super::FileKind;
pub use crate::v0::operators::{Operator, ambiguous, detect, head};

/// What the converted forms lose of an operator, and where.
pub trait NativeLoss {
    /// Why the forms that would hold it cannot carry it.
    fn why(self) -> String;
    /// Whether a file of `kind` would drop (or garble) the operator's state: such a
    /// file is refused with [`NativeLoss::why`], and so is any `_metadata` naming it.
    fn lost_in(self, kind: FileKind) -> bool;
    /// Whether the operator's own bytes are its timers, which the native targets carry
    /// as `raw-keyed-state` and the modern one in its keyed stream (so they are not raw
    /// operator state).
    fn bytes_are_timers(self) -> bool;
    /// How the native targets carry it, in a few words (what `inspect` shows).
    fn carried(self) -> &'static str;
}

impl NativeLoss for Operator {
    fn why(self) -> String {
        match self {
            Operator::WindowWithTimers => "its pending timers cannot be carried (restored without them, its windows would never fire)".into(),
            Operator::AlignedWindow => "its buffered panes are in the operator's own bytes, which later Flink ignores (they would be dropped); say what the operator was with --window VERTEX/chain-K=tumbling:SIZE|sliding:SIZE:SLIDE,reduce|apply,key=SERIALIZER,value=SERIALIZER to convert them into a WindowOperator".into(),
            Operator::CepKeyed | Operator::CepNonKeyed => "CEP state of Flink 1.1 cannot be carried: its NFA and buffered events are Java- and Kryo-serialized 1.1 objects that no later Flink reads; drain the job (let pending matches complete) before the upgrade".into(),
            Operator::FileReader => "its in-flight splits are in the operator's own bytes, which later Flink ignores (they would be dropped); carrying them is not done yet".into(),
            Operator::Kafka => "its offsets are not a HashMap of KafkaTopicPartition and Long".into(),
            Operator::RollingSink => "RollingSink is gone from later Flink (its state class cannot be loaded); BucketingSink state is not written yet".into(),
            Operator::FileMonitoring => "its modification time is not a java.lang.Long".into(),
        }
    }

    fn lost_in(self, kind: FileKind) -> bool {
        match self {
            Operator::WindowWithTimers | Operator::FileMonitoring | Operator::Kafka => false,
            Operator::AlignedWindow | Operator::CepNonKeyed | Operator::FileReader => {
                kind == FileKind::OperatorState
            }
            Operator::RollingSink => matches!(
                kind,
                FileKind::ManagedOperatorState | FileKind::ManagedOperatorStateV5
            ),
            Operator::CepKeyed => matches!(
                kind,
                FileKind::ManagedKeyedState | FileKind::ManagedKeyedStateV6
            ),
        }
    }

    fn bytes_are_timers(self) -> bool {
        self == Operator::WindowWithTimers
    }

    fn carried(self) -> &'static str {
        match self {
            Operator::WindowWithTimers => "contents and timers converted on every target",
            Operator::AlignedWindow => {
                "its panes converted into a WindowOperator when --window names it"
            }
            Operator::Kafka => "offsets converted for flink-1.10 and flink-1.2",
            Operator::FileMonitoring => "its modification time converted on every target",
            Operator::CepKeyed
            | Operator::CepNonKeyed
            | Operator::FileReader
            | Operator::RollingSink => "not carried by the native targets",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_says_what_it_loses_and_where() {
        // Carried by their own rules: window timers (convert/timers.rs), the monitoring
        // function's time (convert/monitoring.rs), Kafka offsets (convert/kafka.rs).
        let carried = [
            Operator::WindowWithTimers,
            Operator::FileMonitoring,
            Operator::Kafka,
        ];
        for op in [
            Operator::WindowWithTimers,
            Operator::AlignedWindow,
            Operator::CepKeyed,
            Operator::CepNonKeyed,
            Operator::FileReader,
            Operator::Kafka,
            Operator::RollingSink,
            Operator::FileMonitoring,
        ] {
            let lost = FileKind::ALL.iter().filter(|&&k| op.lost_in(k)).count();
            assert_eq!(lost == 0, carried.contains(&op), "{op:?}");
            assert!(!op.why().is_empty());
            // Nothing is lost in the faithful forms.
            for k in [
                FileKind::LegacyOperatorState,
                FileKind::FunctionState,
                FileKind::KeyedState,
            ] {
                assert!(!op.lost_in(k), "{op:?} in {k:?}");
            }
        }
        assert!(
            Operator::CepKeyed
                .why()
                .starts_with("CEP state of Flink 1.1 cannot be carried: ")
        );
    }
}
