//! `corrald` / `corrald serve`: run the member until asked to stop.

use anyhow::Context;
use corral_daemon::node::{DataDir, start};

pub async fn run(verbose: u8) -> anyhow::Result<()> {
    let default = match verbose {
        0 => "warn,corral_daemon=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CORRAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log line that cannot be written (the log's disk is full) is lost, not reported
        // with eprintln!, which panics then: in Raft's core that stopped the database, and
        // in the main task the daemon, just while it was waiting for space to return.
        .log_internal_errors(false)
        .finish()
        .with(tracing_subscriber::filter::filter_fn(
            corral_daemon::raft::log_event_wanted,
        ))
        .with(corral_daemon::events::logging::Layer)
        .init();

    let dir = corral_shared::paths::corral_dir();
    let started = start(DataDir::new(&dir))
        .await
        .with_context(|| format!("cannot start the daemon in {}", dir.display()))?;
    let node = started.node.clone();
    tracing::info!(dir = %dir.display(), id = node.id(), "corrald is serving");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = node.shutdown_requested() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        why = node.raft_failed() => {
            tracing::error!("{why}; corrald stops so that it can be restarted (see the errors above)");
            node.stop().await;
            anyhow::bail!("{why}: restart corrald; if it fails again, see 'corral cluster doctor'");
        }
    }
    tracing::info!("shutting down");
    // Bounded: a member that cannot hand over (quorum lost) still stops.
    let handover = corral_daemon::cluster::handover::leave_gracefully(&node);
    match tokio::time::timeout(corral_daemon::cluster::handover::HANDOVER, handover).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("stopping without a full handover: {e}"),
        Err(_) => tracing::warn!("stopping without a full handover: it took too long"),
    }
    node.stop().await;
    drop(started);
    Ok(())
}
