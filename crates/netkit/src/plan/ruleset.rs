//! A table's content as a plan carries it.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::{error::Cause, nft};

/// The content of an nftables table: the JSON text of an array of
/// libnftables objects, kept as text. It goes to libnftables as given, and
/// a plan's ops that give the same text share one `Ruleset`, checked once:
/// hundreds of hosts with one policy would otherwise each be parsed into a
/// JSON tree, checked, serialised again and freed.
#[derive(Debug)]
pub struct Ruleset {
    text: Box<str>,
    /// (family, table) the objects were found to belong to.
    checked: Mutex<Option<(String, String)>>,
}

impl PartialEq for Ruleset {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Ruleset {
    pub fn from_objects(objects: &[Value]) -> Arc<Ruleset> {
        Self::from_text(Value::from(objects.to_vec()).to_string())
    }

    /// Takes JSON text as is; [`Ruleset::check`] says whether it is an
    /// array of objects fit for a table.
    pub fn from_text(text: impl Into<Box<str>>) -> Arc<Ruleset> {
        Arc::new(Ruleset {
            text: text.into(),
            checked: Mutex::new(None),
        })
    }

    /// The JSON array text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Checks the objects for table `family table` ([`nft::check_ruleset`]);
    /// remembered for the last table that passed.
    pub fn check(&self, family: &str, table: &str) -> Result<(), Cause> {
        let mut checked = self.checked.lock().unwrap();
        if checked
            .as_ref()
            .is_some_and(|(f, t)| f == family && t == table)
        {
            return Ok(());
        }
        let objects: Vec<Value> = serde_json::from_str(&self.text)
            .map_err(|e| Cause::invalid(format!("ruleset is not a JSON array of objects: {e}")))?;
        nft::check_ruleset(family, table, &objects)?;
        *checked = Some((family.to_string(), table.to_string()));
        Ok(())
    }
}
