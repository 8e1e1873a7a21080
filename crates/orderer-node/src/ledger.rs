//! The file ledger: one append-only block file per channel.
//!
//! `<FileLedger.Location>/chains/<channel>/blocks.dat` holds one record per block:
//! `[u32 length LE][u32 CRC32C of the block LE][marshalled common.Block]`.
//!
//! * Writes go through one writer task per channel that appends every queued block,
//!   then calls `fdatasync` once (group commit). Only then are the blocks visible:
//!   the height published to Deliver never counts a block that a crash could lose.
//! * Opening scans the file: a torn last record (a crash mid-append) is truncated;
//!   every record's CRC, every block's data hash and the hash chain are verified.
//!   A corrupt block that is not the tail stops the open with its number.
//! * The block-number-to-offset index is rebuilt in memory by that scan.
//! * Deliver waits on [`Ledger::subscribe`] (a watch of the height): no polling.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use orderer_api::block::verify_block;
use orderer_api::proto::common::{Block, BlockHeader};
use prost::Message;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

const FILE_NAME: &str = "blocks.dat";
const RECORD_HEADER: usize = 8;
/// Blocks kept in memory for Deliver streams that follow the tail: at least this many...
const RECENT_BLOCKS: usize = 64;
/// ...and more while they fit in this many bytes.
const RECENT_BYTES: usize = 32 * 1024 * 1024;
/// Blocks waiting for the writer before `append` waits (backpressure on the chain).
const WRITE_QUEUE: usize = 64;
/// Upper bound on the bytes one `read_range` returns (at least one block).
const READ_CHUNK: u64 = 4 * 1024 * 1024;
/// The largest block record accepted when reading (guards against a garbage length).
const MAX_RECORD: u64 = u32::MAX as u64;

/// Errors of the ledger. The messages name the channel and the file.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("ledger {path}: block {number} at offset {offset} is corrupt: {reason}")]
    Corrupt {
        path: PathBuf,
        number: u64,
        offset: u64,
        reason: String,
    },
    #[error("ledger of channel {channel} has failed and accepts no more blocks: {reason}")]
    Failed { channel: String, reason: String },
    #[error("ledger of channel {channel}: block {got} appended, block {expected} expected")]
    OutOfOrder {
        channel: String,
        expected: u64,
        got: u64,
    },
    #[error("block {number} does not exist in channel {channel}: its height is {height}")]
    NotFound {
        channel: String,
        number: u64,
        height: u64,
    },
    #[error("ledger of channel {0} is closed")]
    Closed(String),
}

/// What opening found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub height: u64,
    /// Bytes of a torn tail that were cut off (0 when the file ended cleanly).
    pub truncated_bytes: u64,
}

#[derive(Debug, Default)]
struct Index {
    /// Offset of each durable block's record.
    offsets: Vec<u64>,
    /// End of the last durable record.
    end: u64,
}

impl Index {
    fn range(&self, number: u64) -> (u64, u64) {
        let i = number as usize;
        let start = self.offsets[i];
        let end = self.offsets.get(i + 1).copied().unwrap_or(self.end);
        (start, end)
    }
}

#[derive(Debug)]
enum WriteRequest {
    Block {
        number: u64,
        bytes: Bytes,
        /// The span of the cut that produced the block: parent of its commit span.
        cut: tracing::Span,
    },
    Close(oneshot::Sender<()>),
}

/// The newest blocks, shared by every Deliver stream near the tail. A stream behind
/// the cache reads the file into a buffer of its own: with 1,000 followers a little
/// behind a fast chain of small blocks, a cache of 64 blocks made each of them hold
/// its own copy of the same blocks.
#[derive(Debug, Default)]
struct Recent {
    blocks: VecDeque<(u64, Bytes)>,
    bytes: usize,
}

impl Recent {
    fn push(&mut self, number: u64, block: Bytes) {
        self.bytes += block.len();
        self.blocks.push_back((number, block));
        while self.blocks.len() > RECENT_BLOCKS && self.bytes > RECENT_BYTES {
            if let Some((_, old)) = self.blocks.pop_front() {
                self.bytes -= old.len();
            }
        }
    }
}

#[derive(Debug)]
struct Inner {
    channel: String,
    path: PathBuf,
    reader: File,
    index: RwLock<Index>,
    recent: RwLock<Recent>,
    height: watch::Sender<u64>,
    failed: Mutex<Option<String>>,
    queue: mpsc::Sender<WriteRequest>,
}

/// The block store of one channel. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

impl Ledger {
    /// Opens (creating if needed) the ledger of `channel` under `root`, recovers it,
    /// and starts its writer task.
    pub async fn open(root: &Path, channel: &str) -> Result<(Ledger, Recovery), LedgerError> {
        let dir = root.join("chains").join(channel);
        let channel_owned = channel.to_owned();
        let (file, reader, index, recent, recovery, path) =
            tokio::task::spawn_blocking(move || recover(&dir, &channel_owned))
                .await
                .map_err(|e| LedgerError::Io {
                    path: root.to_path_buf(),
                    op: "recovery task",
                    source: io::Error::other(e.to_string()),
                })??;
        crate::metrics::ledger_height(channel, recovery.height);
        let (height, _) = watch::channel(recovery.height);
        let (queue, rx) = mpsc::channel(WRITE_QUEUE);
        let end = index.end;
        let inner = Arc::new(Inner {
            channel: channel.to_owned(),
            path,
            reader,
            index: RwLock::new(index),
            recent: RwLock::new(recent),
            height,
            failed: Mutex::new(None),
            queue,
        });
        let writer = Writer {
            inner: Arc::clone(&inner),
            file: Some(file),
            end,
            next_number: recovery.height,
        };
        tokio::spawn(writer.run(rx));
        Ok((Ledger { inner }, recovery))
    }

    pub fn channel(&self) -> &str {
        &self.inner.channel
    }

    /// Number of durable blocks.
    pub fn height(&self) -> u64 {
        *self.inner.height.borrow()
    }

    /// The height now and every time it grows.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.height.subscribe()
    }

    /// Why the ledger stopped accepting blocks, if it did.
    pub fn failure(&self) -> Option<String> {
        lock(&self.inner.failed).clone()
    }

    /// Queues a marshalled block for writing. Blocks must come in number order.
    /// Resolves when queued; the block is visible once durable (see [`Self::subscribe`]).
    pub async fn append(&self, number: u64, bytes: Bytes) -> Result<(), LedgerError> {
        self.append_traced(number, bytes, tracing::Span::none())
            .await
    }

    /// [`Self::append`], with the span of the cut that produced the block, parent of
    /// the block's `ledger.commit` span.
    pub async fn append_traced(
        &self,
        number: u64,
        bytes: Bytes,
        cut: tracing::Span,
    ) -> Result<(), LedgerError> {
        if let Some(reason) = self.failure() {
            return Err(LedgerError::Failed {
                channel: self.inner.channel.clone(),
                reason,
            });
        }
        self.inner
            .queue
            .send(WriteRequest::Block { number, bytes, cut })
            .await
            .map_err(|_| self.closed_error())
    }

    /// Appends and waits until the block is durable.
    pub async fn append_durable(&self, number: u64, bytes: Bytes) -> Result<(), LedgerError> {
        let mut height = self.subscribe();
        self.append(number, bytes).await?;
        loop {
            if *height.borrow_and_update() > number {
                return Ok(());
            }
            if height.changed().await.is_err() || self.failure().is_some() {
                return Err(self.closed_error());
            }
        }
    }

    fn closed_error(&self) -> LedgerError {
        match self.failure() {
            Some(reason) => LedgerError::Failed {
                channel: self.inner.channel.clone(),
                reason,
            },
            None => LedgerError::Closed(self.inner.channel.clone()),
        }
    }

    /// Writes everything queued, makes it durable, and stops the writer.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.queue.send(WriteRequest::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Marshalled blocks from `start`: at least one, as many as fit in a read chunk,
    /// never past the height. `start` must be below the height.
    pub async fn read_range(
        &self,
        start: u64,
        max_blocks: usize,
    ) -> Result<Vec<Bytes>, LedgerError> {
        let height = self.height();
        if start >= height {
            return Err(LedgerError::NotFound {
                channel: self.inner.channel.clone(),
                number: start,
                height,
            });
        }
        if let Some(hit) = self.recent_range(start, max_blocks) {
            return Ok(hit);
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || read_records(&inner, start, height, max_blocks))
            .await
            .map_err(|e| LedgerError::Io {
                path: self.inner.path.clone(),
                op: "read task",
                source: io::Error::other(e.to_string()),
            })?
    }

    /// One marshalled block.
    pub async fn block_bytes(&self, number: u64) -> Result<Bytes, LedgerError> {
        let mut v = self.read_range(number, 1).await?;
        v.pop().ok_or_else(|| LedgerError::NotFound {
            channel: self.inner.channel.clone(),
            number,
            height: self.height(),
        })
    }

    /// One decoded block.
    pub async fn block(&self, number: u64) -> Result<Block, LedgerError> {
        let bytes = self.block_bytes(number).await?;
        Block::decode(bytes).map_err(|e| LedgerError::Corrupt {
            path: self.inner.path.clone(),
            number,
            offset: 0,
            reason: e.to_string(),
        })
    }

    fn recent_range(&self, start: u64, max_blocks: usize) -> Option<Vec<Bytes>> {
        let recent = read(&self.inner.recent);
        let first = recent.blocks.front()?.0;
        if start < first {
            return None;
        }
        let skip = (start - first) as usize;
        let out: Vec<Bytes> = recent
            .blocks
            .iter()
            .skip(skip)
            .take(max_blocks.max(1))
            .map(|(_, b)| b.clone())
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data behind these locks stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> LedgerError + 'a {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Reads the records of blocks `start..` (bounded by `height`, `max_blocks` and
/// [`READ_CHUNK`]) with one positional read, checking each CRC.
fn read_records(
    inner: &Inner,
    start: u64,
    height: u64,
    max_blocks: usize,
) -> Result<Vec<Bytes>, LedgerError> {
    let (region_start, mut region_end, mut count) = {
        let index = read(&inner.index);
        let (s, e) = index.range(start);
        let mut end = e;
        let mut count = 1u64;
        while start + count < height
            && (count as usize) < max_blocks
            && index.range(start + count).1 - s <= READ_CHUNK
        {
            end = index.range(start + count).1;
            count += 1;
        }
        (s, end, count)
    };
    if region_end < region_start {
        region_end = region_start;
        count = 0;
    }
    let buf = read_exact_at(
        &inner.reader,
        (region_end - region_start) as usize,
        region_start,
    )
    .map_err(io_err(&inner.path, "read"))?;
    let buf = Bytes::from(buf);
    let mut out = Vec::with_capacity(count as usize);
    let mut pos = 0usize;
    for i in 0..count {
        let number = start + i;
        let corrupt = |reason: &str| LedgerError::Corrupt {
            path: inner.path.clone(),
            number,
            offset: region_start + pos as u64,
            reason: reason.to_owned(),
        };
        let header = buf
            .get(pos..pos + RECORD_HEADER)
            .ok_or_else(|| corrupt("short record"))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let body_start = pos + RECORD_HEADER;
        if body_start + len > buf.len() {
            return Err(corrupt("record longer than its index entry"));
        }
        let body = buf.slice(body_start..body_start + len);
        if crc32c::crc32c(&body) != crc {
            return Err(corrupt("CRC mismatch"));
        }
        out.push(body);
        pos = body_start + len;
    }
    Ok(out)
}

/// `len` bytes of `file` at `offset`, read into fresh memory that is not zeroed
/// first: zeroing up to READ_CHUNK bytes before each read cost 8% of the orderer's
/// CPU in a replay.
fn read_exact_at(file: &File, len: usize, offset: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        if rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    // The allocation may be larger than asked for, and pread fills all of it.
    buf.truncate(len);
    Ok(buf)
}

type Recovered = (File, File, Index, Recent, Recovery, PathBuf);

/// Opens the block file, truncates a torn tail, verifies every block and the chain.
fn recover(dir: &Path, channel: &str) -> Result<Recovered, LedgerError> {
    let path = dir.join(FILE_NAME);
    let created = !path.exists();
    std::fs::create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(io_err(&path, "open"))?;
    if created {
        // Make the new file's directory entry durable before any block is acknowledged.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir, "sync directory"))?;
    }
    let len = file.metadata().map_err(io_err(&path, "stat"))?.len();

    let mut index = Index::default();
    let mut recent = Recent::default();
    let mut prev: Option<BlockHeader> = None;
    let mut offset = 0u64;
    let mut torn: Option<String> = None;
    let mut reader =
        BufReader::with_capacity(1 << 20, File::open(&path).map_err(io_err(&path, "open"))?);
    while offset < len {
        let number = index.offsets.len() as u64;
        let remaining = len - offset;
        if remaining < RECORD_HEADER as u64 {
            torn = Some(format!("{remaining} bytes of a record header"));
            break;
        }
        let mut header = [0u8; RECORD_HEADER];
        reader
            .read_exact(&mut header)
            .map_err(io_err(&path, "read"))?;
        let body_len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if body_len > remaining - RECORD_HEADER as u64 || body_len > MAX_RECORD {
            torn = Some(format!(
                "a record of {body_len} bytes with {} left in the file",
                remaining - RECORD_HEADER as u64
            ));
            break;
        }
        let mut body = vec![0u8; body_len as usize];
        reader
            .read_exact(&mut body)
            .map_err(io_err(&path, "read"))?;
        let record_end = offset + RECORD_HEADER as u64 + body_len;
        if crc32c::crc32c(&body) != crc {
            if record_end == len {
                torn = Some("a last record whose CRC does not match".into());
                break;
            }
            return Err(LedgerError::Corrupt {
                path,
                number,
                offset,
                reason: format!(
                    "CRC mismatch with {} bytes of later records after it",
                    len - record_end
                ),
            });
        }
        let body = Bytes::from(body);
        let corrupt = |reason: String| LedgerError::Corrupt {
            path: path.clone(),
            number,
            offset,
            reason,
        };
        let block =
            Block::decode(body.clone()).map_err(|e| corrupt(format!("not a block: {e}")))?;
        let header = block
            .header
            .clone()
            .ok_or_else(|| corrupt("block has no header".into()))?;
        if header.number != number {
            return Err(corrupt(format!(
                "record holds block number {}",
                header.number
            )));
        }
        verify_block(&block, prev.as_ref()).map_err(|e| corrupt(e.to_string()))?;
        prev = Some(header);
        index.offsets.push(offset);
        recent.push(number, body);
        offset = record_end;
    }
    index.end = offset;
    let mut truncated_bytes = 0;
    if let Some(what) = torn {
        truncated_bytes = len - offset;
        warn!(
            channel,
            file = %path.display(),
            offset,
            bytes = truncated_bytes,
            "truncating a torn write at the end of the ledger: {what}"
        );
        file.set_len(offset).map_err(io_err(&path, "truncate"))?;
        file.sync_all().map_err(io_err(&path, "sync"))?;
    }
    let height = index.offsets.len() as u64;
    let reader = File::open(&path).map_err(io_err(&path, "open for reading"))?;
    info!(channel, height, file = %path.display(), "ledger opened; hash chain verified");
    Ok((
        file,
        reader,
        index,
        recent,
        Recovery {
            height,
            truncated_bytes,
        },
        path,
    ))
}

struct Writer {
    inner: Arc<Inner>,
    file: Option<File>,
    end: u64,
    next_number: u64,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<WriteRequest>) {
        let mut batch = Vec::with_capacity(WRITE_QUEUE);
        loop {
            if rx.recv_many(&mut batch, WRITE_QUEUE).await == 0 {
                return;
            }
            let mut blocks = Vec::with_capacity(batch.len());
            let mut closers = Vec::new();
            for req in batch.drain(..) {
                match req {
                    WriteRequest::Block { number, bytes, cut } => {
                        let commit = tracing::trace_span!(parent: &cut, "ledger.commit", channel = %self.inner.channel, number);
                        blocks.push((number, bytes, commit));
                    }
                    WriteRequest::Close(tx) => closers.push(tx),
                }
            }
            if !blocks.is_empty() && !self.failed() {
                if let Err(e) = self.write(blocks).await {
                    error!(channel = %self.inner.channel, error = %e, "ledger write failed; the channel accepts no more blocks");
                    *lock(&self.inner.failed) = Some(e.to_string());
                    // Wake Deliver and append_durable waiters so they see the failure.
                    self.inner.height.send_modify(|_| {});
                }
            }
            if !closers.is_empty() {
                debug!(channel = %self.inner.channel, "ledger closed");
                for tx in closers {
                    let _ = tx.send(());
                }
                return;
            }
        }
    }

    fn failed(&self) -> bool {
        lock(&self.inner.failed).is_some()
    }

    /// Appends the blocks and syncs once; publishes them when durable.
    async fn write(&mut self, traced: Vec<(u64, Bytes, tracing::Span)>) -> Result<(), LedgerError> {
        let started = std::time::Instant::now();
        let (blocks, spans): (Vec<(u64, Bytes)>, Vec<tracing::Span>) =
            traced.into_iter().map(|(n, b, s)| ((n, b), s)).unzip();
        for (number, _) in &blocks {
            if *number != self.next_number {
                return Err(LedgerError::OutOfOrder {
                    channel: self.inner.channel.clone(),
                    expected: self.next_number,
                    got: *number,
                });
            }
            self.next_number += 1;
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| LedgerError::Closed(self.inner.channel.clone()))?;
        let path = self.inner.path.clone();
        let start = self.end;
        let (file, result) = tokio::task::spawn_blocking(move || {
            let r = append_records(&file, &path, start, &blocks).map(|offsets| (offsets, blocks));
            (file, r)
        })
        .await
        .map_err(|e| LedgerError::Io {
            path: self.inner.path.clone(),
            op: "write task",
            source: io::Error::other(e.to_string()),
        })?;
        self.file = Some(file);
        let (offsets, blocks) = result?;
        self.end = offsets.last().map(|(_, end)| *end).unwrap_or(self.end);
        {
            let mut index = write(&self.inner.index);
            for (start, _) in &offsets {
                index.offsets.push(*start);
            }
            index.end = self.end;
        }
        {
            let mut recent = write(&self.inner.recent);
            for (number, bytes) in blocks {
                recent.push(number, bytes);
            }
        }
        self.inner.height.send_replace(self.next_number);
        let took = started.elapsed();
        for _ in &spans {
            crate::metrics::ledger_commit(&self.inner.channel, took);
        }
        crate::metrics::ledger_height(&self.inner.channel, self.next_number);
        // Closing the commit spans here makes them cover the write and the sync.
        drop(spans);
        Ok(())
    }
}

/// Appends one record per block and `fdatasync`s; returns each record's (start, end).
fn append_records(
    file: &File,
    path: &Path,
    start: u64,
    blocks: &[(u64, Bytes)],
) -> Result<Vec<(u64, u64)>, LedgerError> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut offsets = Vec::with_capacity(blocks.len());
    let mut pos = start;
    for (_, bytes) in blocks {
        let len = u32::try_from(bytes.len()).map_err(|_| LedgerError::Io {
            path: path.to_path_buf(),
            op: "append",
            source: io::Error::other(format!("block of {} bytes exceeds 4 GiB", bytes.len())),
        })?;
        out.write_all(&len.to_le_bytes())
            .map_err(io_err(path, "append"))?;
        out.write_all(&crc32c::crc32c(bytes).to_le_bytes())
            .map_err(io_err(path, "append"))?;
        out.write_all(bytes).map_err(io_err(path, "append"))?;
        let end = pos + RECORD_HEADER as u64 + bytes.len() as u64;
        offsets.push((pos, end));
        pos = end;
    }
    out.flush().map_err(io_err(path, "append"))?;
    drop(out);
    file.sync_data().map_err(io_err(path, "fdatasync"))?;
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_api::BlockAssembler;
    use orderer_api::testing::test_envelope;
    use std::os::unix::fs::FileExt;

    /// `n` chained blocks of two envelopes each, marshalled.
    fn chain(n: u64) -> Vec<Bytes> {
        let mut asm = BlockAssembler::empty();
        (0..n)
            .map(|i| {
                let block = asm.next_block(vec![
                    test_envelope("c", 2 * i, 300),
                    test_envelope("c", 2 * i + 1, 300),
                ]);
                asm.advance(block.header.as_ref().unwrap());
                Bytes::from(block.encode_to_vec())
            })
            .collect()
    }

    async fn write_all(ledger: &Ledger, blocks: &[Bytes], from: u64) {
        for (i, b) in blocks.iter().enumerate() {
            ledger
                .append_durable(from + i as u64, b.clone())
                .await
                .unwrap();
        }
    }

    fn file_of(dir: &Path) -> PathBuf {
        dir.join("chains").join("c").join(FILE_NAME)
    }

    #[tokio::test]
    async fn appends_are_durable_readable_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let blocks = chain(5);
        let (ledger, rec) = Ledger::open(dir.path(), "c").await.unwrap();
        assert_eq!(rec.height, 0);
        write_all(&ledger, &blocks, 0).await;
        assert_eq!(ledger.height(), 5);
        assert_eq!(ledger.read_range(0, 100).await.unwrap(), blocks);
        assert_eq!(ledger.block_bytes(3).await.unwrap(), blocks[3]);
        assert!(matches!(
            ledger.read_range(5, 1).await,
            Err(LedgerError::NotFound { height: 5, .. })
        ));
        ledger.close().await;

        let (ledger, rec) = Ledger::open(dir.path(), "c").await.unwrap();
        assert_eq!(
            rec,
            Recovery {
                height: 5,
                truncated_bytes: 0
            }
        );
        assert_eq!(ledger.read_range(0, 2).await.unwrap(), blocks[..2].to_vec());
        assert_eq!(ledger.block(4).await.unwrap().header.unwrap().number, 4);
        // The chain continues after a reopen.
        let more = chain(7);
        write_all(&ledger, &more[5..], 5).await;
        assert_eq!(ledger.height(), 7);
        ledger.close().await;
    }

    #[test]
    fn recent_cache_keeps_64_blocks_and_more_while_they_fit_in_its_bytes() {
        let mut small = Recent::default();
        for n in 0..1000 {
            small.push(n, Bytes::from(vec![0u8; 10_000]));
        }
        // 1000 blocks of 10 kB fit in 32 MiB.
        assert_eq!(small.blocks.len(), 1000);
        assert_eq!(small.bytes, 10_000_000);
        let mut large = Recent::default();
        for n in 0..100 {
            large.push(n, Bytes::from(vec![0u8; 1024 * 1024]));
        }
        assert_eq!(large.blocks.len(), RECENT_BLOCKS);
        assert_eq!(large.blocks.front().map(|b| b.0), Some(36));
        assert_eq!(large.bytes, RECENT_BLOCKS * 1024 * 1024);
    }

    #[tokio::test]
    async fn reads_from_disk_past_the_recent_cache() {
        let dir = tempfile::tempdir().unwrap();
        let blocks = chain(RECENT_BLOCKS as u64 + 10);
        let (ledger, _) = Ledger::open(dir.path(), "c").await.unwrap();
        write_all(&ledger, &blocks, 0).await;
        let mut got = Vec::new();
        while (got.len() as u64) < ledger.height() {
            got.extend(ledger.read_range(got.len() as u64, 7).await.unwrap());
        }
        assert_eq!(got, blocks);
        ledger.close().await;
    }

    async fn reopen_after_tail(tail: &[u8]) -> (Recovery, u64) {
        let dir = tempfile::tempdir().unwrap();
        let blocks = chain(3);
        let (ledger, _) = Ledger::open(dir.path(), "c").await.unwrap();
        write_all(&ledger, &blocks, 0).await;
        ledger.close().await;
        let clean_len = std::fs::metadata(file_of(dir.path())).unwrap().len();
        let mut f = OpenOptions::new()
            .append(true)
            .open(file_of(dir.path()))
            .unwrap();
        f.write_all(tail).unwrap();
        drop(f);
        let (ledger, rec) = Ledger::open(dir.path(), "c").await.unwrap();
        assert_eq!(
            std::fs::metadata(file_of(dir.path())).unwrap().len(),
            clean_len
        );
        assert_eq!(ledger.read_range(0, 10).await.unwrap(), blocks);
        // Writing continues where the intact chain ended.
        let next = chain(4).pop().unwrap();
        ledger.append_durable(3, next).await.unwrap();
        ledger.close().await;
        (rec, clean_len)
    }

    #[tokio::test]
    async fn torn_header_is_truncated() {
        let (rec, _) = reopen_after_tail(&[0x10, 0x00, 0x00]).await;
        assert_eq!(
            rec,
            Recovery {
                height: 3,
                truncated_bytes: 3
            }
        );
    }

    #[tokio::test]
    async fn torn_body_is_truncated() {
        // A header promising 1000 bytes, followed by only 20.
        let mut tail = 1000u32.to_le_bytes().to_vec();
        tail.extend(0u32.to_le_bytes());
        tail.extend([7u8; 20]);
        let (rec, _) = reopen_after_tail(&tail).await;
        assert_eq!(
            rec,
            Recovery {
                height: 3,
                truncated_bytes: 28
            }
        );
    }

    #[tokio::test]
    async fn complete_last_record_with_bad_crc_is_truncated() {
        // Length and size right, content never reached the disk (zeros).
        let block = chain(4).pop().unwrap();
        let mut tail = (block.len() as u32).to_le_bytes().to_vec();
        tail.extend(crc32c::crc32c(&block).to_le_bytes());
        tail.extend(vec![0u8; block.len()]);
        let (rec, _) = reopen_after_tail(&tail).await;
        assert_eq!(rec.height, 3);
        assert_eq!(rec.truncated_bytes, tail.len() as u64);
    }

    #[tokio::test]
    async fn corruption_before_the_tail_stops_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let blocks = chain(3);
        let (ledger, _) = Ledger::open(dir.path(), "c").await.unwrap();
        write_all(&ledger, &blocks, 0).await;
        ledger.close().await;
        // Flip a byte inside block 1's body.
        let offset = (RECORD_HEADER + blocks[0].len() + RECORD_HEADER + 10) as u64;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(file_of(dir.path()))
            .unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, offset).unwrap();
        f.write_all_at(&[b[0] ^ 0xff], offset).unwrap();
        drop(f);
        let err = Ledger::open(dir.path(), "c").await.unwrap_err();
        assert!(
            matches!(err, LedgerError::Corrupt { number: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("CRC mismatch"), "{err}");
    }

    #[tokio::test]
    async fn broken_hash_chain_stops_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut blocks = chain(3);
        // Block 2 from another chain: valid CRC and data hash, wrong previous hash.
        let mut asm = BlockAssembler::empty();
        let mut other = Vec::new();
        for i in 0..3 {
            let b = asm.next_block(vec![test_envelope("other", i, 100)]);
            asm.advance(b.header.as_ref().unwrap());
            other.push(b);
        }
        blocks[2] = Bytes::from(other[2].encode_to_vec());
        let (ledger, _) = Ledger::open(dir.path(), "c").await.unwrap();
        write_all(&ledger, &blocks, 0).await;
        ledger.close().await;
        let err = Ledger::open(dir.path(), "c").await.unwrap_err();
        assert!(
            matches!(err, LedgerError::Corrupt { number: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("previous_hash"), "{err}");
    }

    #[tokio::test]
    async fn subscribers_wake_when_blocks_become_durable() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path(), "c").await.unwrap();
        let mut height = ledger.subscribe();
        let blocks = chain(2);
        let waiter =
            tokio::spawn(async move { height.wait_for(|h| *h >= 2).await.map(|h| *h).unwrap() });
        ledger.append(0, blocks[0].clone()).await.unwrap();
        ledger.append(1, blocks[1].clone()).await.unwrap();
        assert_eq!(waiter.await.unwrap(), 2);
        ledger.close().await;
    }

    #[tokio::test]
    async fn out_of_order_append_fails_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(dir.path(), "c").await.unwrap();
        let blocks = chain(2);
        let err = ledger
            .append_durable(1, blocks[1].clone())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("block 1 appended, block 0 expected"),
            "{err}"
        );
        assert!(ledger.append(0, blocks[0].clone()).await.is_err());
        assert_eq!(ledger.height(), 0);
    }
}
