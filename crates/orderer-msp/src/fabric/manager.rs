//! The MSPs of a channel by MSP ID, as the channel's identity deserializer. The same
//! few creators sign thousands of envelopes, so validated identities are cached by
//! their serialized bytes; only the validity period is checked on every use.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use orderer_api::policies::{Identity, IdentityDeserializer, MspRefusal};
use orderer_api::proto::msp::{MspConfig, SerializedIdentity};
use prost::Message;

use super::error::{DeserializeError, SetupError};
use super::identity::FabricIdentity;
use super::msp::FabricMsp;

/// Identities cached by default.
const CACHE_SIZE: usize = 16_384;

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Two generations of identities. When the current generation is full it becomes the
/// previous one and the previous one is dropped; a hit in the previous generation moves
/// the entry back to the current one. So at most `2 * generation` identities are held
/// and those in use stay: an approximate LRU without per-hit bookkeeping.
struct Cache {
    generation: usize,
    current: HashMap<Vec<u8>, Arc<FabricIdentity>>,
    previous: HashMap<Vec<u8>, Arc<FabricIdentity>>,
}

impl Cache {
    fn new(size: usize) -> Self {
        Cache {
            generation: (size / 2).max(1),
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    fn insert(&mut self, key: Vec<u8>, id: Arc<FabricIdentity>) {
        if self.current.len() >= self.generation {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, id);
    }
}

/// A channel's MSPs: deserializes and validates the identities of signatures.
pub struct MspManager {
    msps: BTreeMap<String, Arc<FabricMsp>>,
    cache: RwLock<Cache>,
    clock: Clock,
    check_time: bool,
}

impl std::fmt::Debug for MspManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MspManager")
            .field("msps", &self.msps.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MspManager {
    /// The manager of these MSPs; two MSPs with the same ID are an error.
    pub fn new(msps: impl IntoIterator<Item = FabricMsp>) -> Result<Self, SetupError> {
        let mut map = BTreeMap::new();
        for msp in msps {
            let id = msp.id().to_owned();
            if map.insert(id.clone(), Arc::new(msp)).is_some() {
                return Err(SetupError::Duplicate(id));
            }
        }
        Ok(MspManager {
            msps: map,
            cache: RwLock::new(Cache::new(CACHE_SIZE)),
            clock: Arc::new(crate::now),
            check_time: true,
        })
    }

    /// The manager of the MSPs of these `MSPConfig`s.
    pub fn from_msp_configs<'a>(
        configs: impl IntoIterator<Item = &'a MspConfig>,
    ) -> Result<Self, SetupError> {
        let msps = configs
            .into_iter()
            .map(FabricMsp::from_msp_config)
            .collect::<Result<Vec<_>, _>>()?;
        MspManager::new(msps)
    }

    /// The same manager reading the time (seconds since the epoch) from `clock`.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether identities outside their validity period are refused (the default).
    /// Fabric's MSP itself does not check it: Fabric orderers refuse an expired
    /// envelope creator (`ExpirationRejectRule`) but accept, say, a configuration
    /// update signed by an expired admin. Turn it off to evaluate such signatures as
    /// Fabric does, and check creators with [`FabricIdentity::check_time`].
    pub fn check_validity_period(mut self, on: bool) -> Self {
        self.check_time = on;
        self
    }

    /// The same manager caching at most about `size` validated identities (default
    /// 16384).
    pub fn with_cache_size(mut self, size: usize) -> Self {
        self.cache = RwLock::new(Cache::new(size));
        self
    }

    /// The MSP with this ID.
    pub fn msp(&self, id: &str) -> Option<&Arc<FabricMsp>> {
        self.msps.get(id)
    }

    /// The IDs of the MSPs, sorted.
    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.msps.keys().map(String::as_str)
    }

    /// How many validated identities are cached.
    pub fn cached_identities(&self) -> usize {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache.current.len() + cache.previous.len()
    }

    /// Deserializes and validates a marshalled `msp.SerializedIdentity` (cached), and
    /// checks that it is valid at `now` (seconds since the epoch) unless that check is
    /// off ([`MspManager::check_validity_period`]).
    pub fn deserialize_at(
        &self,
        serialized: &[u8],
        now: i64,
    ) -> Result<Arc<FabricIdentity>, DeserializeError> {
        let identity = match self.cached(serialized) {
            Some(id) => id,
            None => {
                let id = Arc::new(self.validate(serialized)?);
                self.cache
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(serialized.to_vec(), Arc::clone(&id));
                id
            }
        };
        if self.check_time {
            identity.check_time(now)?;
        }
        Ok(identity)
    }

    fn cached(&self, key: &[u8]) -> Option<Arc<FabricIdentity>> {
        {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(id) = cache.current.get(key) {
                return Some(Arc::clone(id));
            }
            if !cache.previous.contains_key(key) {
                return None;
            }
        }
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let id = cache.previous.remove(key)?;
        cache.insert(key.to_vec(), Arc::clone(&id));
        Some(id)
    }

    fn validate(&self, serialized: &[u8]) -> Result<FabricIdentity, DeserializeError> {
        if serialized.is_empty() {
            return Err(DeserializeError::NoCreator);
        }
        let id = SerializedIdentity::decode(serialized)
            .map_err(DeserializeError::NotSerializedIdentity)?;
        let msp = self
            .msps
            .get(&id.mspid)
            .ok_or_else(|| DeserializeError::UnknownMsp {
                msp: id.mspid.clone(),
            })?;
        msp.identity_from_pem(&id.id_bytes)
    }
}

impl IdentityDeserializer for MspManager {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspRefusal> {
        let id: Arc<dyn Identity> = self.deserialize_at(serialized, (self.clock)())?;
        Ok(id)
    }
}
