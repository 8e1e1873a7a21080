//! Corrupted inputs are refused with an error, never a panic: identities, signatures,
//! principals and MSP configurations, each mutated byte by byte.

use orderer_api::policies::IdentityDeserializer;
use orderer_api::proto::common::msp_role::MspRoleType;
use orderer_msp::{FabricMsp, MspManager, msp_config, pem_encode};
use prost::Message;

use crate::common::*;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=(self.next() % 4) {
            if out.is_empty() {
                break;
            }
            let i = (self.next() as usize) % out.len();
            match self.next() % 3 {
                0 => out[i] ^= 1 << (self.next() % 8),
                1 => out[i] = self.next() as u8,
                _ => out.truncate(i),
            }
        }
        out
    }
}

#[test]
fn mutated_inputs_are_refused_without_panicking() {
    let org = Org::new(ORG1, true);
    let mut c = org.config.clone();
    c.revocation_list = vec![b(&org.ca.crl(&[]).unwrap())];
    let m = MspManager::new([FabricMsp::from_config(&c).unwrap()]).unwrap();
    let (cert, key) = org.issue("alice", &["client"]);
    let der = der(&cert);
    let sig = sign(ORG1, &cert, &key, b"m");
    let id = m.deserialize_identity(&serialized(ORG1, &cert)).unwrap();
    let principal = combined(vec![
        role(ORG1, MspRoleType::Client),
        identity_principal(ORG1, &cert),
    ]);
    let config = msp_config(&c).encode_to_vec();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..600 {
        let bad = rng.mutate(&der);
        let pem = String::from_utf8(pem_encode("CERTIFICATE", &bad)).unwrap();
        let _ = m.deserialize_identity(&serialized(ORG1, &pem));
        let _ = m.deserialize_identity(&rng.mutate(&serialized(ORG1, &cert)));
        let _ = id.verify(b"m", &rng.mutate(&sig));
        let mut p = principal.clone();
        p.principal = rng.mutate(&principal.principal).into();
        let _ = id.satisfies_principal(&p);
        if let Ok(mc) = orderer_api::proto::msp::MspConfig::decode(&*rng.mutate(&config)) {
            let _ = FabricMsp::from_msp_config(&mc);
        }
        let mut broken = c.clone();
        broken.revocation_list = vec![rng.mutate(&c.revocation_list[0]).into()];
        broken.root_certs = vec![rng.mutate(&c.root_certs[0]).into()];
        let _ = FabricMsp::from_config(&broken);
    }
}
