//! Posture results shared by the checks of a sweep, or by the endpoints of one check.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::check::context::Context;
use crate::check::posture::run::run_posture;
use crate::report::{Mode, PostureProbe, Service};

type PostureKey = (SocketAddr, Service, Mode);

/// Posture results shared by the checks of one sweep. The protocol versions and suites a
/// server accepts belong to its listening socket, not to the domain asked for, so the many
/// domains one server hosts need them measured once: otherwise a sweep would open nine extra
/// connections per endpoint per domain to the same socket. Within one check the same holds for
/// several SRV targets that share an address.
#[derive(Debug)]
pub struct PostureCache {
    entries:
        Mutex<std::collections::HashMap<PostureKey, Arc<tokio::sync::OnceCell<Vec<PostureProbe>>>>>,
    /// Said in the `detail` of every reused probe.
    note: &'static str,
}

impl Default for PostureCache {
    fn default() -> Self {
        Self::new()
    }
}

impl PostureCache {
    /// The cache of a sweep.
    pub fn new() -> Self {
        PostureCache {
            entries: Mutex::default(),
            note: "measured once for this address and port during this sweep",
        }
    }

    /// The cache of one check, for its endpoints on one address and port.
    pub fn for_one_check() -> Self {
        PostureCache {
            entries: Mutex::default(),
            note: "measured once for this address and port during this check",
        }
    }

    /// The posture of `addr` for this service and mode: measured now by the first caller,
    /// awaited by concurrent ones, reused by later ones (whose copies say so in `detail`).
    pub async fn get_or_run(
        &self,
        ctx: &Context<'_>,
        service: Service,
        mode: Mode,
        addr: SocketAddr,
    ) -> Vec<PostureProbe> {
        let cell = {
            let mut entries = match self.entries.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            entries.entry((addr, service, mode)).or_default().clone()
        };
        let mut measured_here = false;
        let probes = cell
            .get_or_init(|| async {
                measured_here = true;
                run_posture(ctx, service, mode, addr).await
            })
            .await
            .clone();
        if measured_here {
            return probes;
        }
        probes
            .into_iter()
            .map(|mut p| {
                let note = self.note;
                p.detail = Some(match p.detail {
                    Some(d) => format!("{d} ({note})"),
                    None => note.to_owned(),
                });
                p
            })
            .collect()
    }
}
