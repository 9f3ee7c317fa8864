//! The id map of a load: every id of a table seen so far (in the warehouse and in the exports
//! being loaded) with its record's content hash, probed once per record to tell a new record
//! from a duplicate or a conflicting one (DATA-CONTRACT.md, "Bad input").
//!
//! It is the largest thing a load holds and, past a few million ids, the slowest: nearly every
//! probe of a large map misses the processor's caches. Hence its own layout, not a general map.
//! - An entry is 20 bytes: 96 bits of the id's hash (two different ids share them with a
//!   probability of about n^2 / 2^97: 6e-16 at ten million ids, 6e-14 at a hundred million)
//!   beside the full 64-bit content hash. A `HashMap<IdKey, i64>` took 24 and more.
//! - Three entries share one 64-byte cache line (a bucket), and an id is in one of two buckets
//!   picked by its bits (bucketed cuckoo hashing): a probe reads two lines, both known from the
//!   id alone, so the load asks for them ahead ([`IdMap::prefetch`]) a few records before it
//!   probes and the misses overlap. A general table (hashbrown) reads a line of control bytes
//!   and then the entry's line, two misses one after the other, the second not known ahead.
//!   When both buckets of a new id are full, an entry moves to its other bucket to make room
//!   (about 7% of the ids of a shard filled to the limit below; tested).
//! - Up to 7/8 of the entries are used; ids are spread over shards of 2^18 buckets (16 MiB)
//!   each, as many as the ids expected need, so the map is about 85% used whatever the count
//!   and a shard that fills up grows alone, not the whole map at once.
//! - An empty entry is all zero bits, so a fresh map is a mapping of zeroed pages that the
//!   system hands out lazily, as the ids arrive or (a large map) as a thread of its own asks
//!   for them beside the probes (`Prefault`), instead of being written through first on
//!   the probing thread. (The allocator's `alloc_zeroed` for 64-byte alignment is `malloc` and `memset`:
//!   at 100M lines the load then stood for 3 s on one core zeroing 2.3 GB before the first
//!   record, BENCHMARKS.md.)
//!
//! The std map was kept for the small maps of a load (customers, derived ids).

use std::alloc::{Layout, handle_alloc_error};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use memmap2::{MmapMut, MmapRaw};

use std::hash::{Hash, Hasher};

/// An id as the load remembers it: its 128-bit xxh3 hash, in place of a `String`; two different
/// ids share a key with a probability of about n^2 / 2^129 (1e-25 at ten million). The id map
/// of a table (idmap.rs) keeps 96 bits of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdKey(u64, u64);

impl IdKey {
    pub fn of(id: &str) -> IdKey {
        let h = xxhash_rust::xxh3::xxh3_128(id.as_bytes());
        IdKey(h as u64, (h >> 64) as u64)
    }

    /// The key's two 64-bit words.
    pub fn words(self) -> (u64, u64) {
        (self.0, self.1)
    }

    #[cfg(test)]
    pub fn of_words(a: u64, b: u64) -> IdKey {
        IdKey(a, b)
    }
}

impl Hash for IdKey {
    /// The key is already a good hash: the map's hasher gets one word of it.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// Buckets per shard once the map is sharded: 2^18 (16 MiB, 786,432 entries).
const SHARD_BUCKETS: usize = 1 << 18;

/// Entries per bucket: three of 20 bytes in a 64-byte line.
const PER_BUCKET: usize = 3;

/// Ids one shard is given room for: its capacity (7/8 of its entries) less three standard
/// deviations of how many ids a shard gets (ids fall into shards at random), so that shards
/// rarely grow when the expected count is right.
const SHARD_IDS: usize = capacity_of(SHARD_BUCKETS) - 3 * 830;

/// Ids a table of `buckets` buckets holds before it grows.
const fn capacity_of(buckets: usize) -> usize {
    buckets * PER_BUCKET * 7 / 8
}

/// Entries moved, at most, to make room for one new id before the table grows instead.
const MAX_MOVES: usize = 500;

/// Where an id is or goes in a shard: (bucket, entry).
enum Place {
    Held(usize, usize),
    Free(usize, usize),
    Full,
}

/// One id and its record's content hash, in 20 bytes; all zero bits when empty.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
struct Slot {
    /// The first 96 bits of the id's key.
    id: [u32; 3],
    hash: [u32; 2],
}

impl Slot {
    fn new(key: IdKey, hash: i64) -> Slot {
        let (a, b) = key.words();
        // 96 zero bits mark an empty entry: an id whose bits are all zero (one in 2^96) is
        // held as if its last bit were set.
        let c = if a == 0 && b as u32 == 0 { 1 } else { b as u32 };
        Slot {
            id: [a as u32, (a >> 32) as u32, c],
            hash: [hash as u32, ((hash as u64) >> 32) as u32],
        }
    }

    fn is_empty(&self) -> bool {
        self.id == [0; 3]
    }

    /// The id's part that picks its first bucket: the first 64 bits of its key.
    fn table_hash(&self) -> u64 {
        self.id[0] as u64 | (self.id[1] as u64) << 32
    }

    /// The part that picks its second bucket: the buckets are picked by a hash's high bits,
    /// here the id's first 32 bits, which the first bucket's (the second 32) and the shard's
    /// (the third 32) do not depend on.
    fn alt_hash(&self) -> u64 {
        self.id[2] as u64 | (self.id[0] as u64) << 32
    }

    fn hash(&self) -> i64 {
        (self.hash[0] as u64 | (self.hash[1] as u64) << 32) as i64
    }
}

/// Three entries in one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket {
    slots: [Slot; PER_BUCKET],
}

/// A table of buckets probed linearly, in pages of its own: an anonymous mapping, whose pages
/// the system zeroes on first touch (an empty entry is all zero bits) rather than a pass
/// writing every byte up front.
struct Shard {
    /// Shared with the thread that faults a new map's pages in ahead ([`Prefault`]), which
    /// only asks the system to back them and never reads or writes them.
    pages: Arc<MmapRaw>,
    n: usize,
    len: usize,
}

impl Shard {
    fn with_buckets(n: usize) -> Shard {
        let n = n.max(1);
        let layout = Layout::array::<Bucket>(n).expect("id map size");
        let Ok(pages) = MmapMut::map_anon(layout.size()) else {
            handle_alloc_error(layout);
        };
        // Huge pages for a table past one: a probe at random then misses the TLB far less.
        #[cfg(target_os = "linux")]
        if layout.size() >= 2 << 20 {
            let _ = pages.advise(memmap2::Advice::HugePage);
        }
        Shard {
            pages: Arc::new(pages.into()),
            n,
            len: 0,
        }
    }

    fn buckets(&self) -> &[Bucket] {
        // SAFETY: the mapping is page-aligned (more than a bucket's 64 bytes), `n` buckets
        // long, and all zero bits or buckets written through `buckets_mut`: plain integers.
        unsafe { std::slice::from_raw_parts(self.pages.as_ptr() as *const Bucket, self.n) }
    }

    fn buckets_mut(&mut self) -> &mut [Bucket] {
        // SAFETY: as in `buckets`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.pages.as_mut_ptr() as *mut Bucket, self.n) }
    }

    fn capacity(&self) -> usize {
        capacity_of(self.n)
    }

    /// A hash's bucket: its place in [0, n) by a multiply, not a modulo.
    fn bucket_of(&self, h: u64) -> usize {
        ((h as u128 * self.n as u128) >> 64) as usize
    }

    /// The two buckets an id may be in.
    fn homes(&self, slot: &Slot) -> [usize; 2] {
        [
            self.bucket_of(slot.table_hash()),
            self.bucket_of(slot.alt_hash()),
        ]
    }

    fn prefetch(&self, slot: &Slot) {
        #[cfg(target_arch = "x86_64")]
        for b in self.homes(slot) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: the bucket is inside the table; a prefetch only hints the cache.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(self.buckets().as_ptr().add(b) as *const i8) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// Where `slot`'s id is held, or where it can go (the emptier of its two buckets), or
    /// `Full` when both are full.
    fn find(&self, slot: &Slot) -> Place {
        let buckets = self.buckets();
        let homes = self.homes(slot);
        let mut used = [PER_BUCKET; 2];
        for (k, &b) in homes.iter().enumerate() {
            for (i, s) in buckets[b].slots.iter().enumerate() {
                if s.id == slot.id {
                    return Place::Held(b, i);
                }
                if s.is_empty() {
                    used[k] = i;
                    break;
                }
            }
        }
        match used {
            [PER_BUCKET, PER_BUCKET] => Place::Full,
            [a, b] if a <= b => Place::Free(homes[0], a),
            [_, b] => Place::Free(homes[1], b),
        }
    }

    /// The content hash held for `slot`'s id; if none, `slot` is now held. With `replace`, a
    /// held hash is replaced by `slot`'s too.
    fn get_or_insert(&mut self, slot: Slot, replace: bool) -> Option<i64> {
        if self.len >= self.capacity() {
            self.grow_to(self.n * 2);
        }
        match self.find(&slot) {
            Place::Held(b, i) => {
                let entry = &mut self.buckets_mut()[b].slots[i];
                let held = entry.hash();
                if replace {
                    *entry = slot;
                }
                Some(held)
            }
            Place::Free(b, i) => {
                self.buckets_mut()[b].slots[i] = slot;
                self.len += 1;
                None
            }
            Place::Full => {
                self.len += 1;
                self.displace(slot);
                None
            }
        }
    }

    /// Puts a new id whose two buckets are full (cuckoo hashing): it takes an entry's place,
    /// that entry moves to its other bucket, and so on until one finds room. A walk that goes
    /// on too long (rare below 7/8 use) ends in a larger table.
    fn displace(&mut self, slot: Slot) {
        let mut homeless = slot;
        let mut b = self.homes(&slot)[0];
        // Which entry is moved: a small pseudo-random sequence, so that the walk does not cycle.
        let mut pick = slot.table_hash() | 1;
        for _ in 0..MAX_MOVES {
            pick ^= pick << 13;
            pick ^= pick >> 7;
            pick ^= pick << 17;
            let i = (pick % PER_BUCKET as u64) as usize;
            std::mem::swap(&mut homeless, &mut self.buckets_mut()[b].slots[i]);
            let [h1, h2] = self.homes(&homeless);
            b = if h1 == b { h2 } else { h1 };
            let bucket = &mut self.buckets_mut()[b];
            if let Some(free) = bucket.slots.iter_mut().find(|s| s.is_empty()) {
                *free = homeless;
                return;
            }
        }
        // The table now holds every id but `homeless`.
        self.grow_to(self.n * 2);
        self.get_or_insert(homeless, false);
    }

    /// Makes room for `additional` more ids without growing on the way.
    fn reserve(&mut self, additional: usize) {
        let want = self.len + additional;
        if want > self.capacity() {
            let mut n = self.n;
            while capacity_of(n) < want {
                n *= 2;
            }
            self.grow_to(n);
        }
    }

    fn grow_to(&mut self, n: usize) {
        let mut grown = Shard::with_buckets(n);
        for slot in self.slots() {
            grown.get_or_insert(slot, false);
        }
        *self = grown;
    }

    /// The ids held, with their hashes.
    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.buckets()
            .iter()
            .flat_map(|b| b.slots.iter())
            .filter(|s| !s.is_empty())
            .copied()
    }
}

/// Ids of a table with their records' content hashes (see the module's notes).
pub struct IdMap {
    shards: Vec<Shard>,
    len: usize,
    prefault: Option<Prefault>,
}

impl Default for IdMap {
    fn default() -> IdMap {
        IdMap {
            shards: vec![Shard::with_buckets(1)],
            len: 0,
            prefault: None,
        }
    }
}

impl Drop for IdMap {
    fn drop(&mut self) {
        if let Some(p) = self.prefault.take() {
            p.stop();
        }
    }
}

/// Shards from which a new map's pages are faulted in by a thread of their own (64 MiB, a map
/// sized for about 2.7M ids).
const PREFAULT_SHARDS: usize = 4;

/// A thread asking the system for a new map's pages ahead of the probes.
///
/// The first few thousand ids of a load touch every huge page of the map (the ids fall at
/// random), and each first touch is the system zeroing 2 MiB, slow on a virtual machine: at
/// 100M lines, 2.3 GB took the merging thread 3 s while the workers, their batches waiting,
/// left the other core idle. This thread populates the map from its end as the merge probes
/// it, so that both cores zero it. It never reads or writes the map
/// (`MADV_POPULATE_WRITE` backs pages without touching their contents, and a page already
/// backed is left as it is), so it needs no more than the mappings kept alive.
struct Prefault {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Prefault {
    #[cfg(target_os = "linux")]
    fn start(shards: &[Shard]) -> Option<Prefault> {
        /// Bytes populated at a time, between looks at whether the map is still wanted.
        const STEP: usize = 2 << 20;
        let pages: Vec<Arc<MmapRaw>> = shards.iter().rev().map(|s| s.pages.clone()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("id map pages".into())
            .spawn(move || {
                for map in pages {
                    for offset in (0..map.len()).step_by(STEP) {
                        if stopped.load(Ordering::Relaxed) {
                            return;
                        }
                        let len = STEP.min(map.len() - offset);
                        // A kernel without MADV_POPULATE_WRITE (before 5.14): the probes fault
                        // the pages in as before.
                        if map
                            .advise_range(memmap2::Advice::PopulateWrite, offset, len)
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            })
            .ok()?;
        Some(Prefault { stop, thread })
    }

    #[cfg(not(target_os = "linux"))]
    fn start(_: &[Shard]) -> Option<Prefault> {
        None
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

impl IdMap {
    /// Ids held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shard of a slot: by the third 32 bits of its id, which the home bucket does not
    /// use (so that the ids of a shard still spread over all its buckets).
    fn shard(&self, slot: &Slot) -> usize {
        ((slot.id[2] as u64 * self.shards.len() as u64) >> 32) as usize
    }

    /// Asks the processor for the memory `key`'s probe will read, so that a probe a few
    /// records later finds it in cache.
    #[inline]
    pub fn prefetch(&self, key: IdKey) {
        let slot = Slot::new(key, 0);
        self.shards[self.shard(&slot)].prefetch(&slot);
    }

    /// The content hash held for `key`; if none, `hash` is now held for it.
    pub fn get_or_insert(&mut self, key: IdKey, hash: i64) -> Option<i64> {
        self.probe(key, hash, false)
    }

    /// Holds `hash` for `key`, in place of any held before.
    pub fn insert(&mut self, key: IdKey, hash: i64) {
        self.probe(key, hash, true);
    }

    fn probe(&mut self, key: IdKey, hash: i64, replace: bool) -> Option<i64> {
        let slot = Slot::new(key, hash);
        let shard = self.shard(&slot);
        let held = self.shards[shard].get_or_insert(slot, replace);
        if held.is_none() {
            self.len += 1;
        }
        held
    }

    /// Makes room for about `additional` more ids at once, instead of growing (and copying) the
    /// map step by step through a large export. Past one shard's worth the map is cut into as
    /// many shards as the ids need (the ids held moved into them once).
    pub fn reserve(&mut self, additional: usize) {
        let want = self.len + additional;
        let shards = want.div_ceil(SHARD_IDS).max(1);
        if shards <= self.shards.len() {
            let each = additional.div_ceil(self.shards.len());
            for s in &mut self.shards {
                s.reserve(each);
            }
            return;
        }
        if let Some(p) = self.prefault.take() {
            p.stop();
        }
        let old = std::mem::replace(
            &mut self.shards,
            (0..shards)
                .map(|_| Shard::with_buckets(SHARD_BUCKETS))
                .collect(),
        );
        if shards >= PREFAULT_SHARDS {
            self.prefault = Prefault::start(&self.shards);
        }
        for slot in old.iter().flat_map(Shard::slots) {
            let shard = self.shard(&slot);
            self.shards[shard].get_or_insert(slot, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are told apart, their hashes kept and replaced, whether the map is one shard or many,
    /// and through the move into shards.
    #[test]
    fn ids_keep_their_hashes_through_sharding() {
        let id = |i: u64| IdKey::of(&format!("T-{i}"));
        let mut map = IdMap::default();
        for i in 0..50_000u64 {
            map.prefetch(id(i));
            assert_eq!(map.get_or_insert(id(i), i as i64 - 7), None);
        }
        assert_eq!(map.get_or_insert(id(3), 0), Some(3 - 7));
        map.insert(id(4), i64::MIN);
        map.reserve(3 * SHARD_IDS);
        assert_eq!(map.shards.len(), 4);
        // The probes below run while a thread faults the new shards' pages in.
        #[cfg(target_os = "linux")]
        assert!(map.prefault.is_some());
        assert_eq!(map.len(), 50_000);
        assert_eq!(map.get_or_insert(id(4), 0), Some(i64::MIN));
        for i in (0..50_000u64).filter(|i| *i != 4) {
            assert_eq!(map.get_or_insert(id(i), 1), Some(i as i64 - 7), "id {i}");
        }
        for i in 50_000..60_000u64 {
            assert_eq!(map.get_or_insert(id(i), -1), None);
        }
        assert_eq!(map.len(), 60_000);
        // Every shard holds some ids, and the shards' counts add up.
        assert!(map.shards.iter().all(|s| s.len > 10_000));
        assert_eq!(map.shards.iter().map(|s| s.len).sum::<usize>(), 60_000);
        assert_eq!(
            map.shards.iter().map(|s| s.slots().count()).sum::<usize>(),
            60_000
        );
    }

    /// A map reserved for n ids has room for them in about 24 bytes each (64-byte buckets of
    /// three entries, 7/8 of the entries usable) and does not grow as they come.
    #[test]
    fn a_reserved_map_is_sized_to_its_ids() {
        let n = 3_000_000;
        let mut map = IdMap::default();
        map.reserve(n);
        let capacity: usize = map.shards.iter().map(Shard::capacity).sum();
        assert!(
            capacity >= n && capacity < n + capacity_of(SHARD_BUCKETS),
            "{capacity}"
        );
        assert_eq!(std::mem::size_of::<Slot>(), 20);
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
        for i in 0..n as u64 {
            map.get_or_insert(IdKey::of(&i.to_string()), 0);
        }
        let after: usize = map.shards.iter().map(Shard::capacity).sum();
        assert_eq!(after, capacity, "the map grew");
    }

    /// A map that is never reserved grows from one bucket, through many doublings, and keeps
    /// every id; an id whose 96 bits are zero is held too (it must not read as empty).
    #[test]
    fn an_unreserved_map_grows_and_keeps_every_id() {
        let mut map = IdMap::default();
        for i in 0..100_000u64 {
            assert_eq!(map.get_or_insert(IdKey::of(&i.to_string()), i as i64), None);
        }
        let zero = IdKey::of_words(0, 0);
        assert_eq!(map.get_or_insert(zero, 9), None);
        assert_eq!(map.get_or_insert(zero, 1), Some(9));
        for i in 0..100_000u64 {
            assert_eq!(
                map.get_or_insert(IdKey::of(&i.to_string()), -1),
                Some(i as i64)
            );
        }
        assert_eq!(map.len(), 100_001);
        assert_eq!(map.shards.len(), 1);
        assert!(map.shards[0].len <= map.shards[0].capacity());
    }

    /// A shard filled to its 7/8 limit takes every id without growing, rarely has to move an
    /// entry for a new one, and the ids keep their hashes through the moves.
    #[test]
    fn a_shard_fills_to_its_limit_without_growing() {
        let mut shard = Shard::with_buckets(1 << 14);
        let cap = shard.capacity();
        let slot = |i: usize| Slot::new(IdKey::of(&i.to_string()), i as i64);
        let mut moved = 0;
        for i in 0..cap {
            moved += matches!(shard.find(&slot(i)), Place::Full) as usize;
            assert_eq!(shard.get_or_insert(slot(i), false), None);
        }
        assert_eq!(shard.n, 1 << 14, "the shard grew");
        // Few new ids find both their buckets full (6.8% measured).
        assert!(moved * 10 < cap, "{moved} of {cap} ids moved others");
        assert_eq!(shard.len, cap);
        for i in 0..cap {
            assert_eq!(shard.get_or_insert(slot(i), false), Some(i as i64));
        }
        assert_eq!(shard.slots().count(), cap);
    }
}
