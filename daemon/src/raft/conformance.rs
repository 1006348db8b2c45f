//! openraft's own storage test suite run against the log store and the state machine, each
//! built on fresh databases in a temporary directory. One test per case of the suite, so a
//! failure names the case.

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::{NodeId, TypeConfig};
use crate::db::local::LocalDb;

/// Builds a log store and a state machine as a member does, in a directory of their own.
struct InTempDir;

type Conformance = Suite<TypeConfig, LogStore, StateMachine, InTempDir, tempfile::TempDir>;

fn build_error(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    openraft::StorageIOError::read(&e).into()
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for InTempDir {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().map_err(build_error)?;
        let log = LogStore::new(LocalDb::open(&dir.path().join("local.db")).map_err(build_error)?);
        let sm = StateMachine::open(&dir.path().join("global.db"), &dir.path().join("snapshots"))
            .map_err(build_error)?;
        Ok((dir, log, sm))
    }
}

/// Runs one case of the suite on a fresh store, in a runtime of its own (as the suite does).
fn run<F, Fut>(case: F)
where
    F: FnOnce(LogStore, StateMachine) -> Fut,
    Fut: std::future::Future<Output = Result<(), StorageError<NodeId>>>,
{
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_dir, log, sm) = InTempDir.build().await.unwrap();
        case(log, sm).await.unwrap();
    });
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(Conformance::$name);
            }
        )*
    };
}

cases!(
    last_membership_in_log_initial,
    last_membership_in_log,
    last_membership_in_log_multi_step,
    get_membership_initial,
    get_membership_from_log_and_empty_sm,
    get_membership_from_empty_log_and_sm,
    get_membership_from_log_le_sm_last_applied,
    get_membership_from_log_gt_sm_last_applied_1,
    get_membership_from_log_gt_sm_last_applied_2,
    get_initial_state_without_init,
    get_initial_state_membership_from_log_and_sm,
    get_initial_state_with_state,
    get_initial_state_last_log_gt_sm,
    get_initial_state_last_log_lt_sm,
    get_initial_state_log_ids,
    get_initial_state_re_apply_committed,
    save_vote,
    get_log_entries,
    limited_get_log_entries,
    try_get_log_entry,
    initial_logs,
    get_log_state,
    get_log_id,
    last_id_in_log,
    last_applied_state,
    purge_logs_upto_0,
    purge_logs_upto_5,
    purge_logs_upto_20,
    delete_logs_since_11,
    delete_logs_since_0,
    append_to_log,
    snapshot_meta,
    apply_single,
    apply_multiple,
);

#[test]
fn transfer_snapshot() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(Conformance::transfer_snapshot(&InTempDir))
        .unwrap();
}

/// The whole suite as openraft runs it, so a case added to it in a later openraft runs too.
#[test]
fn the_whole_suite() {
    Conformance::test_all(InTempDir).unwrap();
}
