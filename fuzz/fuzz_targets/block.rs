//! What a client does with a delivered block: decode it, check its data hash and
//! header, read its orderer metadata and signatures.

#![no_main]

use libfuzzer_sys::fuzz_target;
use orderer_api::block::{orderer_metadata, signatures_metadata, verify_block};
use orderer_api::proto::common::Block;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(block) = Block::decode(data) else {
        return;
    };
    let _ = verify_block(&block, None);
    let _ = orderer_metadata(&block);
    let _ = signatures_metadata(&block);
});
