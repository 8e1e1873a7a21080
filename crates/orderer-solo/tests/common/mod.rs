//! The conformance harness of solo, shared by the solo test files.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orderer_api::testing::conformance::Harness;
use orderer_api::{BatchSize, ChannelConfig, Consenter, ConsenterKind};
use orderer_solo::SoloConsenter;

pub(crate) struct Solo;

#[async_trait]
impl Harness for Solo {
    async fn consenter(&self) -> Arc<dyn Consenter> {
        Arc::new(SoloConsenter::new())
    }

    fn channel(&self, test: &str, batch_size: BatchSize, batch_timeout: Duration) -> ChannelConfig {
        ChannelConfig {
            channel_id: format!("solo-{test}"),
            consensus_type: ConsenterKind::Solo,
            batch_size,
            batch_timeout,
        }
    }
}
