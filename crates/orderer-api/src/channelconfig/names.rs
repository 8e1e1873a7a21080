//! Fabric's rules for channel IDs and config keys.

use super::error::ConfigError;
use crate::proto::common::ConfigGroup;

/// The longest channel ID or config key Fabric accepts.
pub const MAX_NAME_LEN: usize = 249;

/// A channel ID as Fabric accepts it: lowercase ASCII letters, digits, dots and
/// hyphens, starting with a letter, at most 249 characters.
pub fn check_channel_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("channel ID is empty".into());
    }
    if id.len() > MAX_NAME_LEN {
        return Err(format!(
            "channel ID is {} characters long, the limit is {MAX_NAME_LEN}",
            id.len()
        ));
    }
    let bytes = id.as_bytes();
    let valid = bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid {
        return Err(format!(
            "channel ID {id:?} must start with a lowercase letter and hold only lowercase letters, digits, dots and hyphens"
        ));
    }
    Ok(())
}

/// A group, value or policy key as Fabric accepts it: ASCII letters, digits, dots
/// and hyphens, at most 249 characters, and neither `.` nor `..`.
fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("empty key".into());
    }
    if key.len() > MAX_NAME_LEN {
        return Err(format!("key is longer than {MAX_NAME_LEN} characters"));
    }
    if key == "." || key == ".." {
        return Err(format!("key {key:?} is not allowed"));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(format!(
            "key {key:?} may hold only letters, digits, dots and hyphens"
        ));
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
            check_key(key).map_err(|why| ConfigError::structure(&path, why))?;
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
}
