//! Signed data of envelopes and config updates (protoutil/signeddata.go).

use bytes::Bytes;
use prost::Message;

use crate::policies::{SignedData, SignedDataError};
use crate::proto::common::{
    ConfigSignature, ConfigUpdateEnvelope, Envelope, Header, Payload, SignatureHeader,
};

fn signature_header(creator: &str) -> Bytes {
    SignatureHeader {
        creator: Bytes::copy_from_slice(creator.as_bytes()),
        nonce: Bytes::from_static(b"nonce"),
    }
    .encode_to_vec()
    .into()
}

#[test]
fn envelope_signed_data_is_payload_creator_and_signature() {
    let payload = Payload {
        header: Some(Header {
            channel_header: Bytes::from_static(b"ignored here"),
            signature_header: signature_header("Org1MSP::a"),
        }),
        data: Bytes::from_static(b"tx"),
    };
    let envelope = Envelope {
        payload: payload.encode_to_vec().into(),
        signature: Bytes::from_static(b"sig"),
    };
    let signed = SignedData::from_envelope(&envelope).unwrap();
    assert_eq!(
        signed,
        SignedData {
            data: envelope.payload.clone(),
            identity: Bytes::from_static(b"Org1MSP::a"),
            signature: Bytes::from_static(b"sig"),
        }
    );
}

#[test]
fn malformed_envelopes_are_errors() {
    let no_header = Envelope {
        payload: Payload::default().encode_to_vec().into(),
        signature: Bytes::new(),
    };
    // An empty payload decodes to a payload without header.
    for envelope in [no_header, Envelope::default()] {
        assert_eq!(
            SignedData::from_envelope(&envelope),
            Err(SignedDataError::MissingHeader)
        );
    }
    let garbage = Envelope {
        payload: Bytes::from_static(&[0xff, 0xff, 0xff]),
        signature: Bytes::new(),
    };
    assert!(matches!(
        SignedData::from_envelope(&garbage),
        Err(SignedDataError::MalformedPayload(_))
    ));
    let bad_header = Payload {
        header: Some(Header {
            channel_header: Bytes::new(),
            signature_header: Bytes::from_static(&[0x0a, 0x10, 0x01]),
        }),
        data: Bytes::new(),
    };
    let envelope = Envelope {
        payload: bad_header.encode_to_vec().into(),
        signature: Bytes::new(),
    };
    assert!(matches!(
        SignedData::from_envelope(&envelope),
        Err(SignedDataError::MalformedSignatureHeader(_))
    ));
}

#[test]
fn config_update_signed_data_is_header_then_update() {
    let (h1, h2) = (
        signature_header("Org1MSP:admin:a"),
        signature_header("Org2MSP:admin:b"),
    );
    let envelope = ConfigUpdateEnvelope {
        config_update: Bytes::from_static(b"UPDATE"),
        signatures: vec![
            ConfigSignature {
                signature_header: h1.clone(),
                signature: Bytes::from_static(b"s1"),
            },
            ConfigSignature {
                signature_header: h2.clone(),
                signature: Bytes::from_static(b"s2"),
            },
        ],
    };
    let signed = SignedData::from_config_update_envelope(&envelope).unwrap();
    assert_eq!(signed.len(), 2);
    assert_eq!(signed[0].data, [&h1[..], b"UPDATE"].concat());
    assert_eq!(signed[0].identity, Bytes::from_static(b"Org1MSP:admin:a"));
    assert_eq!(signed[0].signature, Bytes::from_static(b"s1"));
    assert_eq!(signed[1].data, [&h2[..], b"UPDATE"].concat());
    assert_eq!(signed[1].identity, Bytes::from_static(b"Org2MSP:admin:b"));

    let unsigned = ConfigUpdateEnvelope {
        config_update: Bytes::from_static(b"UPDATE"),
        signatures: vec![],
    };
    assert_eq!(
        SignedData::from_config_update_envelope(&unsigned),
        Ok(vec![])
    );
}

#[test]
fn malformed_config_signature_header_names_its_index() {
    let envelope = ConfigUpdateEnvelope {
        config_update: Bytes::new(),
        signatures: vec![
            ConfigSignature {
                signature_header: signature_header("Org1MSP::a"),
                signature: Bytes::new(),
            },
            ConfigSignature {
                signature_header: Bytes::from_static(&[0xff]),
                signature: Bytes::new(),
            },
        ],
    };
    let err = SignedData::from_config_update_envelope(&envelope).unwrap_err();
    assert!(
        matches!(
            err,
            SignedDataError::MalformedConfigSignatureHeader { index: 1, .. }
        ),
        "{err}"
    );
}

/// Whatever the bytes, extraction returns and never panics.
#[test]
fn arbitrary_bytes_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let envelope = Envelope {
            payload: bytes.clone().into(),
            signature: Bytes::new(),
        };
        let _ = SignedData::from_envelope(&envelope);
        let _ = crate::policies::signature::CompiledSignaturePolicy::decode(bytes.clone().into());
        let update = ConfigUpdateEnvelope {
            config_update: Bytes::new(),
            signatures: vec![ConfigSignature {
                signature_header: bytes.into(),
                signature: Bytes::new(),
            }],
        };
        let _ = SignedData::from_config_update_envelope(&update);
    }
}
