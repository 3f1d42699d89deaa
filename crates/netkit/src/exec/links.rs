//! The link-index cache of one execution. A subnet's address and route
//! name the same two devices, and each lookup is a netlink round trip, so
//! indexes are learnt on first use by (namespace, name). Ops that delete or
//! replace a link forget its entry.

use std::{collections::HashMap, sync::Mutex};

use crate::{conn::Conns, error::Result, link};

#[derive(Default)]
pub(super) struct LinkIndexes(Mutex<HashMap<(String, String), u32>>);

impl LinkIndexes {
    /// The index of link `dev` in `ns`, from the cache or the kernel
    /// (ENODEV under `what` if there is none).
    pub(super) async fn get(
        &self,
        conns: &Conns,
        ns: &str,
        dev: &str,
        what: impl Fn() -> String,
    ) -> Result<u32> {
        let key = (ns.to_string(), dev.to_string());
        if let Some(&i) = self.0.lock().unwrap().get(&key) {
            return Ok(i);
        }
        let i = link::index_of(&conns.get(ns).await?, ns, dev, what).await?;
        self.0.lock().unwrap().insert(key, i);
        Ok(i)
    }

    /// Forgets link `dev` of `ns` (deleted, or about to be replaced).
    pub(super) fn forget(&self, ns: &str, dev: &str) {
        self.0
            .lock()
            .unwrap()
            .remove(&(ns.to_string(), dev.to_string()));
    }

    /// Forgets every link of `ns`.
    pub(super) fn forget_ns(&self, ns: &str) {
        self.0.lock().unwrap().retain(|(n, _), _| n != ns);
    }
}
