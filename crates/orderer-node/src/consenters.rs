//! The consenters compiled into this binary, keyed by `Orderer.OrdererType`.

use std::collections::BTreeMap;
use std::sync::Arc;

use orderer_api::{Consenter, ConsenterKind};

/// Factories of chains, one per consensus kind.
#[derive(Debug, Clone, Default)]
pub struct Consenters {
    by_kind: BTreeMap<ConsenterKind, Arc<dyn Consenter>>,
}

impl Consenters {
    /// Every consenter built into this binary.
    pub fn builtin() -> Self {
        let mut c = Consenters::default();
        c.register(Arc::new(orderer_solo::SoloConsenter::new()));
        c
    }

    pub fn register(&mut self, consenter: Arc<dyn Consenter>) {
        self.by_kind.insert(consenter.kind(), consenter);
    }

    /// The consenter for `kind`, or a message saying it is not in this build.
    pub fn get(&self, kind: ConsenterKind) -> Result<Arc<dyn Consenter>, String> {
        self.by_kind.get(&kind).cloned().ok_or_else(|| {
            let built: Vec<_> = self.by_kind.keys().map(|k| k.as_str()).collect();
            format!(
                "Orderer.OrdererType {kind} is not compiled into this orderer (it has: {})",
                built.join(", ")
            )
        })
    }
}
