//! The id map of a load: every id of a table seen so far (in the warehouse and in the exports
//! being loaded) with its record's content hash, probed once per record to tell a new record
//! from a duplicate or a conflicting one (DATA-CONTRACT.md, "Bad input").
//!
//! It is the largest thing a load holds: a map of ten million ids as a `HashMap<IdKey, i64>`
//! took 420 MB, for two reasons this map avoids.
//! - An entry was 24 bytes (a 128-bit id key and the hash). Here it is 20: 96 bits of the id's
//!   hash are kept (two different ids share them with a probability of about n^2 / 2^97:
//!   6e-16 at ten million ids, 6e-14 at a hundred million) beside the full 64-bit content hash.
//! - A hash table has a power-of-two number of slots, at most 7/8 of them used: ten million ids
//!   took 2^24 slots, 60% used. Here the ids are spread over shards of 2^20 slots each, as many
//!   as the ids expected need, so that the slots are about 85% used whatever the count; a shard
//!   that fills up grows alone (21 MB more), not the whole map at once.
//!
//! The std map was kept for the small maps of a load (customers, derived ids); this one is a
//! `hashbrown::HashTable`, which takes entries of any layout with the hash given.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::load::IdKey;

/// Slots per shard once the map is sharded: 2^20 (21 MB).
const SHARD_SLOTS: usize = 1 << 20;

/// Ids one shard is given room for: its capacity (7/8 of its slots) less three standard
/// deviations of how many ids a shard gets (ids fall into shards at random), so that shards
/// rarely grow when the expected count is right.
const SHARD_IDS: usize = SHARD_SLOTS / 8 * 7 - 3 * 958;

/// One id and its record's content hash, in 20 bytes.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    /// The first 96 bits of the id's key.
    id: [u32; 3],
    hash: [u32; 2],
}

impl Slot {
    fn new(key: IdKey, hash: i64) -> Slot {
        let (a, b) = key.words();
        Slot {
            id: [a as u32, (a >> 32) as u32, b as u32],
            hash: [hash as u32, ((hash as u64) >> 32) as u32],
        }
    }

    /// The id's part the table hashes: the first 64 bits of its key.
    fn table_hash(&self) -> u64 {
        self.id[0] as u64 | (self.id[1] as u64) << 32
    }

    fn hash(&self) -> i64 {
        (self.hash[0] as u64 | (self.hash[1] as u64) << 32) as i64
    }
}

/// Ids of a table with their records' content hashes (see the module's notes).
pub struct IdMap {
    shards: Vec<HashTable<Slot>>,
    len: usize,
}

impl Default for IdMap {
    fn default() -> IdMap {
        IdMap {
            shards: vec![HashTable::new()],
            len: 0,
        }
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

    /// The shard of a slot: by the third 32 bits of its id, which the table's hash does not
    /// use (so that the ids of a shard still spread over all its slots).
    fn shard(&self, slot: &Slot) -> usize {
        ((slot.id[2] as u64 * self.shards.len() as u64) >> 32) as usize
    }

    /// The entry of `slot`'s id, in its shard.
    fn entry(&mut self, slot: &Slot) -> Entry<'_, Slot> {
        let shard = self.shard(slot);
        self.shards[shard].entry(slot.table_hash(), |s| s.id == slot.id, Slot::table_hash)
    }

    /// The content hash held for `key`; if none, `hash` is now held for it.
    pub fn get_or_insert(&mut self, key: IdKey, hash: i64) -> Option<i64> {
        let slot = Slot::new(key, hash);
        match self.entry(&slot) {
            Entry::Occupied(e) => Some(e.get().hash()),
            Entry::Vacant(e) => {
                e.insert(slot);
                self.len += 1;
                None
            }
        }
    }

    /// Holds `hash` for `key`, in place of any held before.
    pub fn insert(&mut self, key: IdKey, hash: i64) {
        let slot = Slot::new(key, hash);
        match self.entry(&slot) {
            Entry::Occupied(mut e) => *e.get_mut() = slot,
            Entry::Vacant(e) => {
                e.insert(slot);
                self.len += 1;
            }
        }
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
                s.reserve(each, Slot::table_hash);
            }
            return;
        }
        let old = std::mem::replace(
            &mut self.shards,
            (0..shards)
                .map(|_| HashTable::with_capacity(SHARD_IDS))
                .collect(),
        );
        for slot in old.into_iter().flatten() {
            let shard = self.shard(&slot);
            self.shards[shard].insert_unique(slot.table_hash(), slot, Slot::table_hash);
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
            assert_eq!(map.get_or_insert(id(i), i as i64 - 7), None);
        }
        assert_eq!(map.get_or_insert(id(3), 0), Some(3 - 7));
        map.insert(id(4), i64::MIN);
        map.reserve(3 * SHARD_IDS);
        assert_eq!(map.shards.len(), 4);
        assert_eq!(map.len(), 50_000);
        assert_eq!(map.get_or_insert(id(4), 0), Some(i64::MIN));
        for i in (0..50_000u64).filter(|i| *i != 4) {
            assert_eq!(map.get_or_insert(id(i), 1), Some(i as i64 - 7), "id {i}");
        }
        for i in 50_000..60_000u64 {
            assert_eq!(map.get_or_insert(id(i), -1), None);
        }
        assert_eq!(map.len(), 60_000);
        // Every shard holds some ids.
        assert!(map.shards.iter().all(|s| s.len() > 10_000));
    }

    /// A map reserved for n ids has room for them in about 24 bytes each (20 and a control
    /// byte a slot, 7/8 of the slots usable) and does not grow as they come.
    #[test]
    fn a_reserved_map_is_sized_to_its_ids() {
        let n = 3_000_000;
        let mut map = IdMap::default();
        map.reserve(n);
        let capacity: usize = map.shards.iter().map(HashTable::capacity).sum();
        assert!(capacity >= n && capacity < n + SHARD_SLOTS, "{capacity}");
        assert_eq!(std::mem::size_of::<Slot>(), 20);
        for i in 0..n as u64 {
            map.get_or_insert(IdKey::of(&i.to_string()), 0);
        }
        let after: usize = map.shards.iter().map(HashTable::capacity).sum();
        assert_eq!(after, capacity, "the map grew");
    }
}
