//! SIGINT and SIGTERM during a run: the first asks the run to stop after the batch in flight
//! (it commits or rolls back, and the cursor says where to resume); the second exits at once
//! with 130, and the open transaction is rolled back by the server when the connection drops.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::exit::Exit;

/// Watches for SIGINT/SIGTERM until `token` is cancelled by someone else or the task is aborted.
/// `notice` prints a line (above the progress bar, if any).
pub(crate) fn watch(
    token: CancellationToken,
    notice: impl Fn(&str) + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut signals = match Signals::new() {
            Ok(s) => s,
            Err(e) => {
                notice(&format!(
                    "warning: cannot listen for SIGINT/SIGTERM ({e}); Ctrl-C will abort at once"
                ));
                return;
            }
        };
        let name = signals.next().await;
        // Said before the run is told, so it comes before the run's summary.
        notice(&format!(
            "{name}: stopping after the batch in flight (press Ctrl-C again to abort at once)"
        ));
        token.cancel();
        let name = signals.next().await;
        notice(&format!(
            "{name} again: aborting now; the batch in flight is rolled back"
        ));
        std::process::exit(i32::from(Exit::Interrupted.code()));
    })
}

/// The two signals, as one stream.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "interrupted (SIGINT)",
                _ = self.terminate.recv() => "terminated (SIGTERM)",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted (Ctrl-C)"
        }
    }
}
