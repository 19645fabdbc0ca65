//! A disk or partition read through a block ring, as ext4srv's block source. The ring's data
//! region (4 MiB, the most a block ring has) is two things:
//!
//! - ext4srv's block cache: 960 pages of 4 KiB ([`CACHE_PAGES`]) that the disk fills by DMA
//!   ([`BlockDevice::fill_pages`]: each miss, read-ahead included, is one batch of requests
//!   and one doorbell), and that the cache reads its hits from;
//! - a 256 KiB staging area for the few reads that bypass the cache ([`BlockDevice::read_at`]:
//!   the superblock check before the cache is set up), copied out after the DMA.

use alloc::format;
use alloc::string::String;

use ext4srv::device::{BlockDevice, DeviceError, PageFill};
use lux9_blk::ring::{Request, Response, Server, Status};
use lux9_rt::shared::{BlockRing, Memory};

/// Slots each way in the ring.
const ENTRIES: u32 = 64;
/// Pages of the staging area at the start of the data region: 256 KiB.
const STAGING_PAGES: usize = 64;
/// Pages of the block cache, after the staging area: 3.75 MiB.
pub const CACHE_PAGES: usize = 960;
/// Pages of the data region: 4 MiB, the most the kernel gives a block ring.
const DATA_PAGES: usize = STAGING_PAGES + CACHE_PAGES;
/// Bytes per request: 32 KiB, 8 requests per doorbell.
const REQUEST_BYTES: usize = 32 * 1024;

/// One disk or partition (`part` 0: the whole disk) behind a block ring.
pub struct RingDevice {
    ring: BlockRing,
    server: Server<Memory>,
    sector_size: u64,
    size: u64,
    next_id: u64,
}

impl RingDevice {
    /// Opens a block ring on partition `part` of disk number `disk` (the order of
    /// `SysInfo::Disks`), which holds `sectors` sectors of `sector_size` bytes.
    pub fn open(disk: usize, part: u32, sector_size: u32, sectors: u64) -> Result<Self, String> {
        let ring = BlockRing::create(disk, part, ENTRIES, DATA_PAGES)
            .map_err(|e| format!("cannot open a block ring: {e}"))?;
        let server = ring.server().map_err(|e| format!("block ring: {e:?}"))?;
        Ok(Self {
            ring,
            server,
            sector_size: u64::from(sector_size),
            size: sectors * u64::from(sector_size),
            next_id: 1,
        })
    }

    /// Reads whole sectors `first..first + len / sector_size` into the data region from 0.
    fn fill(&mut self, first: u64, len: usize) -> Result<(), DeviceError> {
        let per = REQUEST_BYTES as u64 / self.sector_size;
        let count = len as u64 / self.sector_size;
        let mut requests = alloc::vec::Vec::new();
        let mut at = 0;
        while at < count {
            let n = per.min(count - at);
            requests.push(Request::read(
                self.next_id,
                first + at,
                n as u32,
                at * self.sector_size,
            ));
            self.next_id += 1;
            at += n;
        }
        self.run(&requests)
    }

    /// Submits `requests` with one doorbell and waits for every answer.
    fn run(&mut self, requests: &[Request]) -> Result<(), DeviceError> {
        for batch in requests.chunks(ENTRIES as usize) {
            self.run_batch(batch)?;
        }
        Ok(())
    }

    fn run_batch(&mut self, requests: &[Request]) -> Result<(), DeviceError> {
        let sent = self
            .server
            .submit(requests)
            .map_err(|e| DeviceError::Io(format!("block ring: {e:?}")))?;
        if sent != requests.len() {
            return Err(DeviceError::Io("block ring full".into()));
        }
        self.ring
            .submit()
            .map_err(|e| DeviceError::Io(format!("block ring: {e}")))?;
        let blank = Response {
            id: 0,
            status: Status::Ok,
            count: 0,
        };
        let mut responses = [blank; ENTRIES as usize];
        let got = self
            .server
            .poll(&mut responses[..requests.len()])
            .map_err(|e| DeviceError::Io(format!("block ring: {e:?}")))?;
        if got != requests.len() {
            return Err(DeviceError::Io(format!(
                "{got} answers to {} reads",
                requests.len()
            )));
        }
        match responses[..got].iter().find(|r| r.status != Status::Ok) {
            None => Ok(()),
            Some(bad) => Err(DeviceError::Io(format!(
                "the disk refused a read: {}",
                bad.status
            ))),
        }
    }
}

impl BlockDevice for RingDevice {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| end <= self.size)
            .ok_or(DeviceError::OutOfRange {
                offset,
                len: buf.len(),
                size: self.size,
            })?;
        let region = (STAGING_PAGES * 4096) as u64;
        let mut done = offset;
        while done < end {
            let first = done / self.sector_size;
            let skip = done - first * self.sector_size;
            // Whole sectors covering as much of the rest as the data region holds.
            let want = (end - done + skip).min(region);
            let len = want.div_ceil(self.sector_size) * self.sector_size;
            let len = len.min(region / self.sector_size * self.sector_size);
            self.fill(first, len as usize)?;
            let n = (len - skip).min(end - done) as usize;
            let at = (done - offset) as usize;
            self.ring.data().read(skip as usize, &mut buf[at..at + n]);
            done += n as u64;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn cache_pages(&self) -> usize {
        CACHE_PAGES
    }

    fn fill_pages(&mut self, fills: &[PageFill]) -> Result<(), DeviceError> {
        // One request per page (pages of a run need not be neighbours in the cache), all in
        // one doorbell: at most a quarter of the cache per miss, well under the ring's slots.
        let mut requests = alloc::vec::Vec::with_capacity(fills.len());
        for fill in fills {
            if fill.page >= CACHE_PAGES
                || fill.len == 0
                || fill.len > 4096
                || !fill.offset.is_multiple_of(self.sector_size)
                || !(fill.len as u64).is_multiple_of(self.sector_size)
                || fill.offset + fill.len as u64 > self.size
            {
                return Err(DeviceError::Io(format!("bad cache fill {fill:?}")));
            }
            requests.push(Request::read(
                self.next_id,
                fill.offset / self.sector_size,
                (fill.len as u64 / self.sector_size) as u32,
                ((STAGING_PAGES + fill.page) * 4096) as u64,
            ));
            self.next_id += 1;
        }
        self.run(&requests)
    }

    fn read_page(&self, page: usize, in_page: usize, buf: &mut [u8]) {
        self.ring
            .data()
            .read((STAGING_PAGES + page) * 4096 + in_page, buf);
    }
}
