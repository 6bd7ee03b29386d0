//! What the converted forms would lose of a built-in Flink 1.1 operator (recognised by
//! `v0::operators`), and where. Window timers (`convert/timers.rs`), aligned windows
//! (`convert/aligned.rs`, given `--window`), the file monitoring function
//! (`convert/monitoring.rs`), Kafka offsets (`convert/kafka.rs`) and the file reader's
//! splits (`convert/file_reader.rs`) and RollingSink buckets (`convert/rolling_sink.rs`,
//! for Flinks that have BucketingSink) have rules of their own; the other operators'
//! native files, which would drop their state silently (buffered panes, NFAs), are refused with the reason, and `verify` reports
//! them. Flink 1.2.0's migration form (`legacy-operator-state`, `keyed-state`) still
//! carries everything: Flink 1.2 restores these operators from it.

use super::FileKind;
pub use crate::v0::operators::{Operator, ambiguous, detect, head};

/// What the converted forms lose of an operator, and where.
pub trait NativeLoss {
    /// Why the forms that would hold it cannot carry it.
    fn why(self) -> String;
    /// Whether a file of `kind` would drop (or garble) the operator's state: such a
    /// file is refused with [`NativeLoss::why`], and so is any `_metadata` naming it.
    fn lost_in(self, kind: FileKind) -> bool;
    /// Whether the targets carry the operator's own bytes in another form, so they are
    /// not raw operator state: a window's timers (`raw-keyed-state`, or the modern keyed
    /// stream), the file reader's splits (its `splits` list state).
    fn bytes_carried_elsewhere(self) -> bool;
    /// How the native targets carry it, in a few words (what `inspect` shows).
    fn carried(self) -> &'static str;
}

impl NativeLoss for Operator {
    fn why(self) -> String {
        match self {
            Operator::WindowWithTimers => "its pending timers cannot be carried (restored without them, its windows would never fire)".into(),
            Operator::AlignedWindow => "its buffered panes are in the operator's own bytes, which later Flink ignores (they would be dropped); say what the operator was with --window VERTEX/chain-K=tumbling:SIZE|sliding:SIZE:SLIDE,reduce|apply,key=SERIALIZER,value=SERIALIZER to convert them into a WindowOperator".into(),
            Operator::CepKeyed | Operator::CepNonKeyed => "CEP state of Flink 1.1 cannot be carried: its NFA and buffered events are Java- and Kryo-serialized 1.1 objects that no later Flink reads; drain the job (let pending matches complete) before the upgrade".into(),
            Operator::FileReader => "its splits are not Flink 1.1's current split, pending count, pending splits and format state".into(),
            Operator::Kafka => "its offsets are not a HashMap of KafkaTopicPartition and Long".into(),
            Operator::RollingSink => "BucketingSink, which restores a RollingSink's bucket, is gone from Flink 1.12 on: convert with --target flink-1.10, restore into a BucketingSink with the same uid there (it truncates the in-progress file and finalizes the pending ones), then stop it with a savepoint and move on to a FileSink".into(),
            Operator::FileMonitoring => "its modification time is not a java.lang.Long".into(),
        }
    }

    fn lost_in(self, kind: FileKind) -> bool {
        match self {
            Operator::WindowWithTimers
            | Operator::FileMonitoring
            | Operator::Kafka
            | Operator::FileReader => false,
            Operator::AlignedWindow | Operator::CepNonKeyed => kind == FileKind::OperatorState,
            Operator::RollingSink => kind == FileKind::ManagedOperatorStateV5,
            Operator::CepKeyed => matches!(
                kind,
                FileKind::ManagedKeyedState | FileKind::ManagedKeyedStateV6
            ),
        }
    }

    fn bytes_carried_elsewhere(self) -> bool {
        matches!(self, Operator::WindowWithTimers | Operator::FileReader)
    }

    fn carried(self) -> &'static str {
        match self {
            Operator::WindowWithTimers => "contents and timers converted on every target",
            Operator::AlignedWindow => {
                "its panes converted into a WindowOperator when --window names it"
            }
            Operator::Kafka => "offsets converted for flink-1.10 and flink-1.2",
            Operator::FileMonitoring => "its modification time converted on every target",
            Operator::FileReader => "its splits converted on every target",
            Operator::RollingSink => {
                "its bucket converted into BucketingSink state for flink-1.10 and flink-1.2"
            }
            Operator::CepKeyed | Operator::CepNonKeyed => "not carried by the native targets",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_says_what_it_loses_and_where() {
        // Carried by their own rules: window timers (convert/timers.rs), the monitoring
        // function's time (convert/monitoring.rs), Kafka offsets (convert/kafka.rs), the
        // file reader's splits (convert/file_reader.rs).
        let carried = [
            Operator::WindowWithTimers,
            Operator::FileMonitoring,
            Operator::Kafka,
            Operator::FileReader,
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
