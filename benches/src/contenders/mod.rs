//! The designs, in the order the reports list them.

mod left_right;
mod naive_cow;
mod rwlock;
mod snapstate;
mod snapstate_inline;

pub use self::left_right::{LeftRight, LeftRightProducer, LeftRightReader, Replica};
pub use self::naive_cow::{CowProducer, CowReader, NaiveCow};
pub use self::rwlock::{DeepCopyReader, HeldLockReader, LockProducer, RwLockDeepCopy, RwLockHeld};
pub use self::snapstate::{
    EngineProducer, EngineReader, EngineSnapshot, Snapstate, engine_config, start_journaled,
    start_with,
};
pub use self::snapstate_inline::{InlineProducer, SnapstateInline};

/// Every contender's name, in report order.
pub const NAMES: [&str; 6] = [
    "snapstate",
    "snapstate_inline",
    "rwlock_deep_copy",
    "rwlock_held",
    "naive_cow",
    "left_right",
];

/// The contenders that can journal (`--journal`): snapstate's two writers, which share
/// `EngineConfig` and the journal.
pub const JOURNALED: [&str; 2] = ["snapstate", "snapstate_inline"];
