//! Deliver's seek requests: decoding a `SeekInfo` and resolving its start and stop
//! positions against a chain's height, with Fabric's rules.

use bytes::Bytes;
use prost::Message;

use crate::proto::orderer::{SeekInfo, seek_position};

/// Why a seek request is malformed (BAD_REQUEST).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeekError {
    #[error("seek info is not a valid orderer.SeekInfo: {0}")]
    Malformed(String),
    #[error("seek info has no {0} position")]
    MissingPosition(&'static str),
    #[error("seek stop block {stop} is before the start block {start}")]
    StopBeforeStart { start: u64, stop: u64 },
}

/// The blocks a request asks for: `start..=stop`; `stop == u64::MAX` streams forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekRange {
    pub start: u64,
    pub stop: u64,
}

/// Decodes the payload data of a DELIVER_SEEK_INFO envelope.
pub fn decode(data: Bytes) -> Result<SeekInfo, SeekError> {
    SeekInfo::decode(data).map_err(|e| SeekError::Malformed(e.to_string()))
}

/// Resolves the positions of `seek` on a chain of `height` blocks: oldest is 0,
/// newest is the last block, next-commit (start only) is `height`; a stop of oldest
/// or next-commit means the start block.
pub fn resolve(seek: &SeekInfo, height: u64) -> Result<SeekRange, SeekError> {
    let start_pos = seek
        .start
        .as_ref()
        .and_then(|p| p.r#type.as_ref())
        .ok_or(SeekError::MissingPosition("start"))?;
    let stop_pos = seek
        .stop
        .as_ref()
        .and_then(|p| p.r#type.as_ref())
        .ok_or(SeekError::MissingPosition("stop"))?;
    let newest = height.saturating_sub(1);
    let start = match start_pos {
        seek_position::Type::Oldest(_) => 0,
        seek_position::Type::Newest(_) => newest,
        seek_position::Type::Specified(s) => s.number,
        seek_position::Type::NextCommit(_) => height,
    };
    let stop = match stop_pos {
        seek_position::Type::Oldest(_) | seek_position::Type::NextCommit(_) => start,
        // Newest..newest is one block, even if another is written meanwhile.
        seek_position::Type::Newest(_) if seek.start == seek.stop => start,
        seek_position::Type::Newest(_) => newest.max(start),
        seek_position::Type::Specified(s) => {
            if s.number < start {
                return Err(SeekError::StopBeforeStart {
                    start,
                    stop: s.number,
                });
            }
            s.number
        }
    };
    Ok(SeekRange { start, stop })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::orderer::{SeekNewest, SeekOldest, SeekPosition, SeekSpecified};

    fn pos(t: seek_position::Type) -> Option<SeekPosition> {
        Some(SeekPosition { r#type: Some(t) })
    }

    fn info(start: seek_position::Type, stop: seek_position::Type) -> SeekInfo {
        SeekInfo {
            start: pos(start),
            stop: pos(stop),
            ..Default::default()
        }
    }

    #[test]
    fn positions_resolve_like_fabric() {
        use seek_position::Type::*;
        let r = |s, t| resolve(&info(s, t), 10);
        assert_eq!(
            r(Oldest(SeekOldest {}), Newest(SeekNewest {})),
            Ok(SeekRange { start: 0, stop: 9 })
        );
        assert_eq!(
            r(Newest(SeekNewest {}), Newest(SeekNewest {})),
            Ok(SeekRange { start: 9, stop: 9 })
        );
        assert_eq!(
            r(
                Specified(SeekSpecified { number: 20 }),
                Newest(SeekNewest {})
            ),
            Ok(SeekRange {
                start: 20,
                stop: 20
            })
        );
        assert_eq!(
            r(
                Specified(SeekSpecified { number: 5 }),
                Specified(SeekSpecified { number: 3 })
            ),
            Err(SeekError::StopBeforeStart { start: 5, stop: 3 })
        );
        assert_eq!(
            resolve(&SeekInfo::default(), 1),
            Err(SeekError::MissingPosition("start"))
        );
        assert!(decode(Bytes::from_static(&[0xff, 0xff])).is_err());
    }
}
