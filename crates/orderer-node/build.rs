//! Generates the `orderer.AtomicBroadcast` server stub with custom codecs: Broadcast
//! and Deliver receive each request as raw bytes (the envelope exactly as sent) and
//! Deliver sends stored blocks without decoding and re-encoding them.

use tonic_build::manual::{Builder, Method, Service};

fn main() {
    let broadcast = Method::builder()
        .name("broadcast")
        .route_name("Broadcast")
        .input_type("bytes::Bytes")
        .output_type("orderer_api::proto::orderer::BroadcastResponse")
        .codec_path("crate::server::codec::BroadcastCodec")
        .client_streaming()
        .server_streaming()
        .build();
    let deliver = Method::builder()
        .name("deliver")
        .route_name("Deliver")
        .input_type("bytes::Bytes")
        .output_type("crate::server::codec::DeliverFrame")
        .codec_path("crate::server::codec::DeliverCodec")
        .client_streaming()
        .server_streaming()
        .build();
    let service = Service::builder()
        .name("AtomicBroadcast")
        .package("orderer")
        .method(broadcast)
        .method(deliver)
        .build();
    Builder::new()
        .build_client(false)
        .build_transport(false)
        .compile(&[service]);
}
