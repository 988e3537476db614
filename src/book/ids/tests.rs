//! The order-id maps against a `BTreeMap<OrderId, _>` model: dense, sparse, out-of-order and
//! huge ids mixed, removals that move the window, and the persistence of clones.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// One operation on an order-id map.
#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u64),
    Update(u64, u64),
    Remove(u64),
    /// Inserts the next id of the dense sequence, as a venue assigns them.
    InsertNext(u64),
    /// Removes the oldest id still held, as purging a tombstone does.
    RemoveOldest,
    /// Take a clone and keep it (with the model's state at that moment) to the end.
    Snapshot,
}

/// Checks that `map` holds exactly what `model` holds, through every read operation.
fn assert_same<M: MapOps<OrderId, u64>>(map: &M, model: &BTreeMap<OrderId, u64>, probes: &[u64]) {
    assert_eq!(map.len(), model.len());
    assert_eq!(map.is_empty(), model.is_empty());
    let mut listed: Vec<(OrderId, u64)> = map.entries().map(|(id, value)| (*id, *value)).collect();
    listed.sort_unstable();
    let expected: Vec<(OrderId, u64)> = model.iter().map(|(id, value)| (*id, *value)).collect();
    assert_eq!(listed, expected);
    let mut values: Vec<u64> = map.values().copied().collect();
    values.sort_unstable();
    let mut expected_values: Vec<u64> = model.values().copied().collect();
    expected_values.sort_unstable();
    assert_eq!(values, expected_values);
    for &id in probes.iter().chain(model.keys().map(|id| &id.0)) {
        let id = OrderId(id);
        assert_eq!(map.get(&id), model.get(&id), "{id}");
        assert_eq!(map.contains_key(&id), model.contains_key(&id), "{id}");
    }
}

/// Applies `op` (other than a snapshot) to `map` and to `model`.
fn step<M: MapOps<OrderId, u64>>(
    map: &mut M,
    model: &mut BTreeMap<OrderId, u64>,
    next_id: &mut u64,
    op: &Op,
) {
    match *op {
        Op::Insert(id, value) => {
            map.insert(OrderId(id), value);
            model.insert(OrderId(id), value);
        }
        Op::InsertNext(value) => {
            *next_id += 1;
            map.insert(OrderId(*next_id), value);
            model.insert(OrderId(*next_id), value);
        }
        Op::Update(id, value) => {
            let got = map.get_mut(&OrderId(id)).map(|slot| *slot = value);
            let expected = model.get_mut(&OrderId(id)).map(|slot| *slot = value);
            assert_eq!(got, expected);
        }
        Op::Remove(id) => {
            map.remove(&OrderId(id));
            model.remove(&OrderId(id));
        }
        Op::RemoveOldest => {
            if let Some((&id, _)) = model.iter().next() {
                map.remove(&id);
                model.remove(&id);
            }
        }
        Op::Snapshot => {}
    }
}

/// Runs `ops` on a map sized for `expected` entries and on the model, checking after every
/// step, and checks every clone taken along the way against the model as it was then.
fn run<M: IdMapOps<u64>>(expected: usize, ops: &[Op]) -> M {
    let mut map = M::for_expected(expected);
    let mut model: BTreeMap<OrderId, u64> = BTreeMap::new();
    let mut snapshots: Vec<(M, BTreeMap<OrderId, u64>)> = Vec::new();
    let probes: Vec<u64> = ops
        .iter()
        .filter_map(|op| match *op {
            Op::Insert(id, _) | Op::Update(id, _) | Op::Remove(id) => Some(id),
            _ => None,
        })
        .chain([0, 1, u64::MAX])
        .collect();
    let mut next_id = 0;
    for op in ops {
        if let Op::Snapshot = op {
            snapshots.push((map.clone(), model.clone()));
        }
        step(&mut map, &mut model, &mut next_id, op);
        assert_same(&map, &model, &probes);
    }
    for (snapshot, model) in &snapshots {
        assert_same(snapshot, model, &probes);
    }
    map
}

/// Ids of every kind: near the dense sequence, colliding with it modulo the smallest ring,
/// sparse, and huge.
fn id() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0_u64..300,
        2 => (0_u64..300).prop_map(|id| id + MIN_RING_LEN as u64),
        1 => (0_u64..300).prop_map(|id| id + 7 * MIN_RING_LEN as u64),
        1 => any::<u64>(),
        1 => prop_oneof![Just(u64::MAX), Just(u64::MAX - 1), Just(1_u64 << 63)],
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let value = 0_u64..4;
    let op = prop_oneof![
        3 => (id(), value.clone()).prop_map(|(id, value)| Op::Insert(id, value)),
        6 => value.clone().prop_map(Op::InsertNext),
        3 => (id(), value).prop_map(|(id, value)| Op::Update(id, value)),
        2 => id().prop_map(Op::Remove),
        4 => Just(Op::RemoveOldest),
        1 => Just(Op::Snapshot),
    ];
    prop::collection::vec(op, 0..400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(256, 16)))]

    #[test]
    fn prop_persistent_id_map_behaves_like_a_btree_map_whatever_the_ids_and_its_clones_never_change(
        ops in ops()
    ) {
        run::<PersistentIds<u64>>(0, &ops);
    }

    #[test]
    fn prop_standard_id_map_behaves_like_a_btree_map_whatever_the_ids_and_its_clones_never_change(
        ops in ops()
    ) {
        run::<StandardIds<u64>>(0, &ops);
    }

    #[test]
    fn prop_record_maps_behave_like_a_btree_map_whatever_the_ids_and_their_clones_never_change(ops in ops()) {
        run::<PersistentRecords<u64>>(0, &ops);
        run::<StandardRecords<u64>>(0, &ops);
    }

    #[test]
    fn prop_id_maps_are_equal_exactly_when_their_contents_are_wherever_they_keep_them(
        ops in ops()
    ) {
        // Built by the operations, some entries sit in the fallback; rebuilt from the
        // contents in id order, others do. Equality must not see where.
        let map = run::<PersistentIds<u64>>(0, &ops);
        let standard = run::<StandardIds<u64>>(0, &ops);
        let mut rebuilt = PersistentIds::<u64>::for_expected(0);
        let mut rebuilt_standard = StandardIds::<u64>::for_expected(0);
        let mut entries: Vec<(OrderId, u64)> = map.entries().map(|(id, value)| (*id, *value)).collect();
        entries.sort_unstable();
        for &(id, value) in entries.iter().rev() {
            rebuilt.insert(id, value);
            rebuilt_standard.insert(id, value);
        }
        prop_assert!(rebuilt == map);
        prop_assert!(rebuilt_standard == standard);
        if let Some(&(id, value)) = entries.first() {
            rebuilt.insert(id, value + 1);
            prop_assert!(rebuilt != map);
        }
    }

    #[test]
    fn prop_a_dense_sliding_window_stays_in_the_ring(
        kept in 1_usize..2_000,
        steps in 0_usize..5_000,
    ) {
        // Ids in increasing order, the oldest removed once `kept` are held: the window moves
        // along the ring and never needs the fallback, in either storage.
        let mut persistent = PersistentIds::<u64>::for_expected(kept);
        let mut standard = StandardIds::<u64>::for_expected(kept);
        for id in 1..=(kept + steps) as u64 {
            persistent.insert(OrderId(id), id);
            standard.insert(OrderId(id), id);
            if id > kept as u64 {
                persistent.remove(&OrderId(id - kept as u64));
                standard.remove(&OrderId(id - kept as u64));
            }
        }
        prop_assert_eq!(persistent.fallback_len(), 0);
        prop_assert_eq!(standard.fallback_len(), 0);
        prop_assert_eq!(persistent.len(), kept);
        prop_assert_eq!(standard.len(), kept);
    }
}

#[test]
fn an_id_whose_position_is_held_goes_to_the_fallback_and_comes_back_when_asked() {
    let mut map = PersistentIds::<u64>::for_expected(0);
    let len = MIN_RING_LEN as u64;
    map.insert(OrderId(5), 1);
    map.insert(OrderId(5 + len), 2);
    map.insert(OrderId(u64::MAX), 3);
    assert_eq!(map.fallback_len(), 1, "5 + len collides with 5");
    // The ring's occupant leaves; its position is free, but the id in the fallback is found.
    map.remove(&OrderId(5));
    assert_eq!(map.get(&OrderId(5 + len)), Some(&2));
    // Inserting it again replaces it where it is: one entry per id.
    map.insert(OrderId(5 + len), 4);
    assert_eq!(map.len(), 2);
    assert_eq!(map.get(&OrderId(5 + len)), Some(&4));
    map.remove(&OrderId(5 + len));
    assert_eq!(map.get(&OrderId(5 + len)), None);
    assert_eq!(map.get(&OrderId(u64::MAX)), Some(&3));
    assert_eq!(map.len(), 1);
}

#[test]
fn a_removal_that_empties_a_leaf_drops_it_but_a_clone_keeps_it() {
    let mut map = PersistentIds::<u64>::for_expected(0);
    for id in 0..LEAF_LEN as u64 {
        map.insert(OrderId(id), id);
    }
    let published = map.clone();
    for id in 0..LEAF_LEN as u64 {
        map.remove(&OrderId(id));
    }
    assert_eq!(published.ring.leaf_count(), 1, "the filled leaf");
    assert!(map.is_empty());
    assert_eq!(map.ring.leaf_count(), 0, "the emptied leaf is dropped");
    assert_eq!(published.ring.leaf_count(), 1, "the clone keeps it");
    assert_eq!(published.len(), LEAF_LEN);
    assert_eq!(published.get(&OrderId(3)), Some(&3));
}

#[test]
fn the_ring_is_sized_from_the_expected_count_within_its_bounds() {
    assert_eq!(ring_len(0), MIN_RING_LEN);
    assert_eq!(ring_len(10_000), 65_536);
    assert_eq!(ring_len(usize::MAX), MAX_RING_LEN);
}
