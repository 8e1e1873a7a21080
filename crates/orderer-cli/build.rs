//! Generates the `orderer.AtomicBroadcast` client on `orderer_api`'s Fabric types.

use tonic_build::manual::{Builder, Method, Service};

fn method(name: &str, route: &str, output: &str) -> Method {
    Method::builder()
        .name(name)
        .route_name(route)
        .input_type("orderer_api::proto::common::Envelope")
        .output_type(output)
        .codec_path("tonic_prost::ProstCodec")
        .client_streaming()
        .server_streaming()
        .build()
}

fn main() {
    let service = Service::builder()
        .name("AtomicBroadcast")
        .package("orderer")
        .method(method(
            "broadcast",
            "Broadcast",
            "orderer_api::proto::orderer::BroadcastResponse",
        ))
        .method(method(
            "deliver",
            "Deliver",
            "orderer_api::proto::orderer::DeliverResponse",
        ))
        .build();
    Builder::new().build_server(false).compile(&[service]);
}
