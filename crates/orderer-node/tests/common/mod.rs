//! An in-process node on a free port with a temporary ledger, and clients for it.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use orderer_api::proto::orderer::BroadcastResponse;
use orderer_cli::proto_client::atomic_broadcast_client::AtomicBroadcastClient;
use orderer_node::RunningNode;
use orderer_node::config::{self, Config, ConfigSource};
use orderer_node::consenters::Consenters;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Generous bound on waiting for an event; only a broken node hits it.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The sample configuration on port 0 (the OS picks), the ledger in `dir`, plus `env`.
pub fn test_config(dir: &Path, env: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = vec![
        ("ORDERER_GENERAL_LISTENPORT".into(), "0".into()),
        (
            "ORDERER_FILELEDGER_LOCATION".into(),
            dir.display().to_string(),
        ),
        ("ORDERER_ORDERER_BATCHTIMEOUT".into(), "200ms".into()),
        (
            "ORDERER_OPERATIONS_LISTENADDRESS".into(),
            "127.0.0.1:0".into(),
        ),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    config::load_with_env(ConfigSource::Sample, &vars)
        .unwrap()
        .config
}

pub struct TestNode {
    pub node: Option<RunningNode>,
    pub dir: PathBuf,
}

impl TestNode {
    pub async fn start(dir: &Path, env: &[(&str, &str)]) -> TestNode {
        Self::start_with(dir, test_config(dir, env)).await
    }

    /// Starts a node with a configuration the test has adjusted.
    pub async fn start_with(dir: &Path, config: Config) -> TestNode {
        let node = orderer_node::start(config, Consenters::builtin())
            .await
            .unwrap();
        TestNode {
            node: Some(node),
            dir: dir.to_path_buf(),
        }
    }

    pub fn addr(&self) -> String {
        self.node.as_ref().unwrap().grpc_addr.to_string()
    }

    pub fn ops_addr(&self) -> String {
        self.node.as_ref().unwrap().ops_addr.to_string()
    }

    pub async fn client(&self) -> AtomicBroadcastClient<Channel> {
        orderer_cli::client::connect(&self.addr()).await.unwrap()
    }

    pub async fn raw_client(&self) -> tonic::client::Grpc<Channel> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr()))
            .unwrap()
            .connect()
            .await
            .unwrap();
        tonic::client::Grpc::new(channel)
    }

    pub async fn stop(mut self) {
        self.node.take().unwrap().shutdown().await.unwrap();
    }
}

/// Sends raw bytes as Broadcast requests: for envelopes no typed client can build.
pub async fn broadcast_raw(
    grpc: &mut tonic::client::Grpc<Channel>,
    requests: Vec<Bytes>,
) -> Result<Vec<BroadcastResponse>, tonic::Status> {
    grpc.ready().await.unwrap();
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/orderer.AtomicBroadcast/Broadcast");
    let mut stream = grpc
        .streaming(
            tonic::Request::new(tokio_stream::iter(requests)),
            path,
            RawCodec::<BroadcastResponse>::default(),
        )
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(r) = stream.message().await? {
        out.push(r);
    }
    Ok(out)
}

/// Encodes requests as given bytes; decodes responses with prost.
pub struct RawCodec<T>(std::marker::PhantomData<T>);

impl<T> Default for RawCodec<T> {
    fn default() -> Self {
        RawCodec(std::marker::PhantomData)
    }
}

pub struct RawEncoder;
pub struct ProstDecoder<T>(std::marker::PhantomData<T>);

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl<T: Message + Default> Decoder for ProstDecoder<T> {
    type Item = T;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<T>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        T::decode(bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl<T: Message + Default + Send + 'static> Codec for RawCodec<T> {
    type Encode = Bytes;
    type Decode = T;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<T>;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ProstDecoder<T> {
        ProstDecoder(std::marker::PhantomData)
    }
}
