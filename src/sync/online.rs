//! The online check at the counter (`measures.md`, "Limits hold for the
//! subject, not for the counter"). A scan asks the hub and waits at most
//! the site's deadline: the question goes to a small runtime on its own
//! thread, the counter waits on a channel with that deadline and decides
//! from its own data when nothing came back in time. A late answer is
//! dropped, never applied to a later scan; a slow hub holds up nothing but
//! its own request, which the runtime abandons at the deadline.

use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use xinyi_core::UnixTime;
use xinyi_core::wire::check::CheckRequest;

use super::client::{ClientError, HubClient};

/// What came of asking.
#[derive(Debug)]
pub enum Asked {
    /// The hub's signed answer (still to be opened with the pinned key)
    /// and the nonce it must echo.
    Answer { sealed: Vec<u8>, nonce: [u8; 16] },
    /// The hub could not be reached or refused.
    Failed(ClientError),
    /// Nothing within the deadline.
    TimedOut,
}

type Reply = Result<(Vec<u8>, [u8; 16]), ClientError>;

struct Job {
    request: CheckRequest,
    at: UnixTime,
    deadline: Duration,
    reply: mpsc::SyncSender<Reply>,
}

/// The thread that asks the hub; it ends when this is dropped.
#[derive(Debug)]
pub struct Online {
    jobs: UnboundedSender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("at", &self.at).finish()
    }
}

impl Online {
    /// Starts the asking thread for `client`.
    pub fn start(client: HubClient) -> std::io::Result<Online> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (jobs, mut queue) = unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("xinyi-online".into())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        let client = client.clone();
                        tokio::spawn(async move {
                            let asked = client.check(&job.request, job.at);
                            if let Ok(reply) = tokio::time::timeout(job.deadline, asked).await {
                                // The counter may have stopped waiting.
                                let _ = job.reply.try_send(reply);
                            }
                        });
                    }
                });
            })?;
        Ok(Online { jobs })
    }

    /// Asks `request`, signed at `at`, and waits at most `deadline`.
    pub fn ask(&self, request: CheckRequest, at: UnixTime, deadline: Duration) -> Asked {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            request,
            at,
            deadline,
            reply,
        };
        if self.jobs.send(job).is_err() {
            return Asked::TimedOut;
        }
        match answer.recv_timeout(deadline) {
            Ok(Ok((sealed, nonce))) => Asked::Answer { sealed, nonce },
            Ok(Err(e)) => Asked::Failed(e),
            Err(_) => Asked::TimedOut,
        }
    }
}
