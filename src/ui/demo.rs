//! Demo mode: a real registry hub holding the demo world, served over HTTP
//! on 127.0.0.1 from this process (its own tokio runtime and threads), and
//! one terminal per demo site enrolled against it through the same code a
//! counter uses (`Terminal::enroll`, then a sync). Everything lives in a
//! temporary directory that goes when the kiosk closes.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use xinyi_demo::DemoWorld;
use xinyi_demo::seed::demo_hub;
use xinyi_hub::http::Server;
use xinyi_hub::hub::Hub;

use super::kiosk::{DEMO_CLERK, DEMO_SUPERVISOR};
use crate::store::{NewOperator, Role};
use crate::terminal::{Paths, Terminal, now};

/// The demo hub and its terminals.
#[derive(Debug)]
pub struct DemoHub {
    // Field order is drop order: the server stops before its runtime.
    server: Option<Server>,
    runtime: tokio::runtime::Runtime,
    hub: Arc<Hub>,
    world: Arc<DemoWorld>,
    url: String,
    enrolled: HashMap<String, Paths>,
    dir: tempfile::TempDir,
}

impl DemoHub {
    /// Builds the demo hub in a fresh temporary directory and serves it.
    pub fn start() -> Result<DemoHub> {
        let dir = tempfile::Builder::new()
            .prefix("xinyi-demo-")
            .tempdir()
            .context("creating the demo's temporary directory")?;
        let (hub, world) = demo_hub(&dir.path().join("hub"), now().date_utc8())
            .context("building the demo hub")?;
        let world = Arc::new(world);
        hub.enable_demo_codes(world.clone());
        let hub = Arc::new(hub);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("xinyi-demo-hub")
            .enable_all()
            .build()
            .context("starting the demo hub's runtime")?;
        let server = runtime
            .block_on(Server::start(hub.clone()))
            .context("serving the demo hub on 127.0.0.1")?;
        let url = server.url();
        tracing::info!("demo codes for a phone, fresh each minute: {url}/c/demo");
        Ok(DemoHub {
            server: Some(server),
            runtime,
            hub,
            world,
            url,
            enrolled: HashMap::new(),
            dir,
        })
    }

    pub fn world(&self) -> Arc<DemoWorld> {
        self.world.clone()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The terminal of `site`, enrolled and synced on first use, with the
    /// demo clerk and supervisor.
    pub fn terminal(&mut self, site: &str) -> Result<Terminal> {
        if let Some(paths) = self.enrolled.get(site) {
            return Terminal::open(paths).context("opening the demo terminal");
        }
        let paths = Paths::new(self.dir.path().join(format!("terminal-{site}")));
        let code = self
            .hub
            .create_enrollment_code(site, None)
            .with_context(|| format!("demo enrollment code for {site}"))?
            .code;
        let fingerprint = self.hub.registry_fingerprint();
        let mut term = self
            .runtime
            .block_on(Terminal::enroll(
                &paths,
                &self.url,
                &code,
                &format!("demo {site}"),
                &fingerprint,
                None,
            ))
            .context("enrolling the demo terminal")?;
        let (down, _) = self
            .runtime
            .block_on(term.sync(now()))
            .context("syncing the demo terminal")?;
        down.context("downloading the demo data")?;
        for (id, name, pin, role) in [
            (DEMO_CLERK.0, DEMO_CLERK.1, DEMO_CLERK.2, Role::Clerk),
            (
                DEMO_SUPERVISOR.0,
                DEMO_SUPERVISOR.1,
                DEMO_SUPERVISOR.2,
                Role::Supervisor,
            ),
        ] {
            term.put_operator(
                &NewOperator {
                    id,
                    name,
                    role,
                    pin,
                },
                None,
                now(),
            )
            .context("adding the demo operators")?;
        }
        self.enrolled.insert(site.to_owned(), paths);
        Ok(term)
    }
}

impl Drop for DemoHub {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.stop());
        }
    }
}
