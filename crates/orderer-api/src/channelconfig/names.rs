//! Fabric's rules for channel IDs and config keys.

use super::error::ConfigError;
use crate::proto::common::ConfigGroup;

/// The longest channel ID or config key Fabric accepts.
pub const MAX_NAME_LEN: usize = 249;

/// Why a text is not a channel ID Fabric accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelIdError {
    #[error("channel ID is empty")]
    Empty,
    #[error("channel ID is {len} characters long, the limit is {MAX_NAME_LEN}")]
    TooLong { len: usize },
    #[error(
        "channel ID {id:?} must start with a lowercase letter and hold only lowercase letters, digits, dots and hyphens"
    )]
    BadCharacters { id: String },
}

/// A channel ID as Fabric accepts it: lowercase ASCII letters, digits, dots and
/// hyphens, starting with a letter, at most 249 characters.
pub fn check_channel_id(id: &str) -> Result<(), ChannelIdError> {
    if id.is_empty() {
        return Err(ChannelIdError::Empty);
    }
    if id.len() > MAX_NAME_LEN {
        return Err(ChannelIdError::TooLong { len: id.len() });
    }
    let bytes = id.as_bytes();
    let valid = bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid {
        return Err(ChannelIdError::BadCharacters { id: id.to_owned() });
    }
    Ok(())
}

/// Why a group, value or policy key is not one Fabric accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum KeyError {
    #[error("empty key")]
    Empty,
    #[error("key is longer than {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("key {0:?} is not allowed")]
    Dots(String),
    #[error("key {0:?} may hold only letters, digits, dots and hyphens")]
    BadCharacters(String),
}

/// A group, value or policy key as Fabric accepts it: ASCII letters, digits, dots
/// and hyphens, at most 249 characters, and neither `.` nor `..`.
fn check_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_NAME_LEN {
        return Err(KeyError::TooLong);
    }
    if key == "." || key == ".." {
        return Err(KeyError::Dots(key.to_owned()));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(KeyError::BadCharacters(key.to_owned()));
    }
    Ok(())
}

/// Checks every key under `root` (whose path is `root_path`). Walks with its own
/// stack: a config tree built in memory can be deeper than any decoder would allow.
pub(crate) fn check_keys(root_path: &str, root: &ConfigGroup) -> Result<(), ConfigError> {
    let mut stack = vec![(root_path.to_owned(), root)];
    while let Some((path, group)) = stack.pop() {
        let keys = group
            .groups
            .keys()
            .chain(group.values.keys())
            .chain(group.policies.keys());
        for key in keys {
            check_key(key).map_err(|why| ConfigError::structure(&path, why.to_string()))?;
        }
        for (name, child) in &group.groups {
            stack.push((format!("{path}/{name}"), child));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_follow_fabric() {
        for ok in ["mychannel", "a", "sys-chan.1", &"a".repeat(249)] {
            assert_eq!(check_channel_id(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "MyChannel",
            "1chan",
            "-chan",
            "my_channel",
            "my channel",
            &"a".repeat(250),
        ] {
            assert!(check_channel_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_follow_fabric() {
        for ok in [
            "Orderer",
            "SampleOrg",
            "org-1.example",
            "V1_4_2".replace('_', "-").as_str(),
        ] {
            assert_eq!(check_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "my org", "org_1", &"k".repeat(250)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn name_errors_keep_their_wording() {
        assert_eq!(
            check_channel_id(&"a".repeat(250)).unwrap_err().to_string(),
            "channel ID is 250 characters long, the limit is 249"
        );
        assert_eq!(
            check_key("..").unwrap_err().to_string(),
            "key \"..\" is not allowed"
        );
        assert_eq!(check_key("a/b"), Err(KeyError::BadCharacters("a/b".into())));
    }
}
