//! Which configurations may follow which: the checks Fabric makes between a
//! channel's current bundle and the one a config block would install.

use std::collections::BTreeMap;

use super::error::ConfigError;
use super::{
    APPLICATION_GROUP, ApplicationValues, CONSORTIUMS_GROUP, ChannelValues, Consortium,
    ORDERER_GROUP, OrdererValues, keys,
};

impl ChannelValues {
    /// Checks that `next` may replace `self` as the channel's configuration:
    ///
    /// * same channel, and `next`'s sequence is one more;
    /// * the consensus type does not change (this orderer has no migration path:
    ///   Fabric migrates only from Kafka to etcdraft, which it does not run);
    /// * no organization changes its MSP ID (identities would change owner);
    /// * the Application group, once present, stays; the Consortiums group neither
    ///   appears nor disappears (a channel cannot become or stop being a system
    ///   channel).
    ///
    /// Each configuration is valid on its own already; this checks the step.
    pub fn check_successor(&self, next: &ChannelValues) -> Result<(), ConfigError> {
        if next.channel_id != self.channel_id {
            return Err(ConfigError::invalid(
                "ChannelHeader.channel_id",
                format!(
                    "a config for channel {} cannot follow one for channel {}",
                    next.channel_id, self.channel_id
                ),
            ));
        }
        if Some(next.sequence()) != self.sequence().checked_add(1) {
            return Err(ConfigError::invalid(
                "Config.sequence",
                format!(
                    "sequence {} cannot follow sequence {}: each config adds one",
                    next.sequence(),
                    self.sequence()
                ),
            ));
        }
        let (ours, theirs) = (self.orderer.consenter_kind(), next.orderer.consenter_kind());
        if ours != theirs {
            return Err(ConfigError::invalid(
                format!("/Channel/{ORDERER_GROUP}/{}", keys::CONSENSUS_TYPE),
                format!("the consensus type cannot change from {ours} to {theirs}"),
            ));
        }

        same_msp_ids(
            &format!("/Channel/{ORDERER_GROUP}"),
            &orderer_ids(&self.orderer),
            &orderer_ids(&next.orderer),
        )?;

        if let Some(app) = &self.application {
            let app_path = format!("/Channel/{APPLICATION_GROUP}");
            let next_app = next.application.as_ref().ok_or_else(|| {
                ConfigError::structure(&app_path, "the Application group cannot be removed")
            })?;
            same_msp_ids(&app_path, &application_ids(app), &application_ids(next_app))?;
        }

        let consortiums_path = format!("/Channel/{CONSORTIUMS_GROUP}");
        match (&self.consortiums, &next.consortiums) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(ConfigError::structure(
                    consortiums_path,
                    "the Consortiums group cannot be removed",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::structure(
                    consortiums_path,
                    "the Consortiums group cannot be added to a channel without one",
                ));
            }
            (Some(ours), Some(theirs)) => {
                for (name, consortium) in ours.consortiums() {
                    if let Some(next_consortium) = theirs.get(name) {
                        same_msp_ids(
                            &format!("{consortiums_path}/{name}"),
                            &consortium_ids(consortium),
                            &consortium_ids(next_consortium),
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Organization group name to MSP ID.
type MspIds<'a> = BTreeMap<&'a str, &'a str>;

fn orderer_ids(o: &OrdererValues) -> MspIds<'_> {
    o.organizations()
        .iter()
        .map(|(name, org)| (name.as_str(), org.org().msp_id()))
        .collect()
}

fn application_ids(a: &ApplicationValues) -> MspIds<'_> {
    a.organizations()
        .iter()
        .map(|(name, org)| (name.as_str(), org.org().msp_id()))
        .collect()
}

fn consortium_ids(c: &Consortium) -> MspIds<'_> {
    c.organizations()
        .iter()
        .map(|(name, org)| (name.as_str(), org.msp_id()))
        .collect()
}

/// Organizations present in both maps keep their MSP ID; added or removed ones are
/// fine.
fn same_msp_ids(
    group_path: &str,
    ours: &MspIds<'_>,
    theirs: &MspIds<'_>,
) -> Result<(), ConfigError> {
    for (name, id) in ours {
        let Some(next_id) = theirs.get(name) else {
            continue;
        };
        if next_id != id {
            return Err(ConfigError::invalid(
                format!("{group_path}/{name}/{}", keys::MSP),
                format!(
                    "organization {name} cannot change its MSP ID from {} to {}",
                    id, next_id
                ),
            ));
        }
    }
    Ok(())
}
