//! `corral dashboard`: the live operator console.
//!
//! One loop owns the [`App`]. Keys, mouse, resizes (an input thread), Watch events (a task
//! per connection), action results (a task per action), signals and a clock tick all arrive
//! as [`Msg`]s on one channel; [`update`] turns each into state and [`Command`]s, which the
//! loop runs. The screen is drawn only when the state changed, at most once per frame
//! interval, so bursts of events cost one redraw and an idle dashboard costs nothing.

pub mod action;
pub mod app;
pub mod clock;
pub mod dialogs;
pub mod header;
pub mod input;
pub mod keys;
pub mod prompt;
pub mod selection;
pub mod status;
pub mod stream;
pub mod term;
pub mod text;
pub mod theme;
pub mod update;
pub mod view;
pub mod watch;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_truth;

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use corral_shared::client::Client;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::app::{App, Command, Msg};
use self::clock::Stamp;
use self::term::Screen;
use self::update::update;
use crate::error::CliError;

/// The shortest time between two redraws.
const FRAME: Duration = Duration::from_millis(33);
/// How often the clock is looked at (ages on screen change each second).
const TICK: Duration = Duration::from_millis(250);

/// Whether colours may be used: not when `NO_COLOR` is set to anything but "".
pub fn colors_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// What the dashboard may know besides the daemon it watches.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Sockets of other members of the same cluster, watched when the first cannot be.
    pub fallbacks: Vec<std::path::PathBuf>,
    /// Lines shown under the title (`corral demo`: PIDs and directories).
    pub about: Vec<String>,
}

/// Runs the dashboard against the daemon behind `client` until the user quits.
pub async fn run(client: Client, options: Options) -> Result<(), CliError> {
    if !std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "corral dashboard needs a terminal on standard output; in scripts use \
             'corral cluster list' or 'corral query'"
                .into(),
        ));
    }
    let mut screen = Screen::enter()?;
    let size = screen.terminal.size()?;
    let fallbacks: Vec<String> = options
        .fallbacks
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut app = App::new(
        &client.place().to_string(),
        colors_allowed(),
        (size.width, size.height),
        Stamp::now(),
    )
    .with_fallbacks(&fallbacks)
    .with_about(options.about);
    // Actions go to the member being watched.
    let client_of = |app: &App| {
        if app.watching == 0 {
            client.clone()
        } else {
            Client::unix(app.source.clone().into())
        }
    };
    let (tx, mut rx) = unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let input = term::spawn_input(tx.clone(), stop.clone());
    // Tasks die with the set when the dashboard returns.
    let mut tasks = JoinSet::new();
    tasks.spawn(signals(tx.clone()));
    tasks.spawn(ticks(tx.clone()));

    let result = async {
        let mut commands = app.start();
        let mut stream: Option<tokio::task::AbortHandle> = None;
        let mut last_draw: Option<Instant> = None;
        loop {
            for command in commands.drain(..) {
                match command {
                    Command::Quit => return Ok(()),
                    Command::Connect { after } => {
                        let (tx, client) = (tx.clone(), client_of(&app));
                        // One stream at a time: a refused one (another cluster) is dropped.
                        if let Some(old) = stream.take() {
                            old.abort();
                        }
                        stream = Some(tasks.spawn(async move {
                            tokio::time::sleep(after).await;
                            let error = watch::pump(client, &tx).await;
                            let _ = tx.send(Msg::StreamEnded {
                                error,
                                at: Stamp::now(),
                            });
                        }));
                    }
                    Command::Run(action) => {
                        let (tx, client) = (tx.clone(), client_of(&app));
                        tasks.spawn(async move {
                            let result = action::perform(&client, &action).await;
                            let _ = tx.send(Msg::Done {
                                action,
                                result,
                                at: Stamp::now(),
                            });
                        });
                    }
                }
            }
            while tasks.try_join_next().is_some() {}

            let next_frame = last_draw.map(|t| t + FRAME);
            if app.dirty && next_frame.is_none_or(|t| t <= Instant::now()) {
                screen.terminal.draw(|frame| view::draw(frame, &app))?;
                app.dirty = false;
                last_draw = Some(Instant::now());
            }
            let msg = match (app.dirty, next_frame) {
                // Changed, but drawn too recently: wait for the frame or more news.
                (true, Some(at)) => tokio::select! {
                    msg = rx.recv() => msg,
                    () = tokio::time::sleep_until(at) => continue,
                },
                _ => rx.recv().await,
            };
            let Some(msg) = msg else {
                return Ok(());
            };
            commands = update(&mut app, msg);
            // Coalesce whatever else is already queued into the same frame.
            while commands.is_empty() {
                let Ok(msg) = rx.try_recv() else { break };
                commands = update(&mut app, msg);
            }
        }
    }
    .await;

    stop.store(true, Ordering::Relaxed);
    tasks.shutdown().await;
    drop(screen);
    let _ = input.join();
    result.map_err(|e: std::io::Error| CliError::Output(e))
}

/// Sends [`Msg::Interrupted`] on SIGTERM or SIGHUP (Ctrl-C arrives as a key in raw mode).
async fn signals(tx: UnboundedSender<Msg>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hangup.recv() => {}
    }
    let _ = tx.send(Msg::Interrupted);
}

/// Sends the time a few times a second.
async fn ticks(tx: UnboundedSender<Msg>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if tx.send(Msg::Tick(Stamp::now())).is_err() {
            return;
        }
    }
}
