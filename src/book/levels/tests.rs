//! The level maps against a `BTreeMap<Level, _>` model, and the persistence of clones.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// One operation on a level map. Levels are drawn around the map's range, so some fall
/// outside it.
#[derive(Clone, Debug)]
enum Op {
    Insert(i32, u64),
    GetOrInsert(i32, u64),
    Update(i32, u64),
    /// Take a clone and keep it (with the model's state at that moment) to the end.
    Snapshot,
}

/// Checks that `map` holds exactly what `model` holds, through every read operation.
fn assert_same<M: LevelMapOps<u64>>(map: &M, model: &BTreeMap<Level, u64>, lowest: i32, last: i32) {
    assert_eq!(map.len(), model.len());
    assert_eq!(map.is_empty(), model.is_empty());
    let listed: Vec<(Level, u64)> = map.iter().map(|(level, value)| (level, *value)).collect();
    let expected: Vec<(Level, u64)> = model
        .iter()
        .map(|(level, value)| (*level, *value))
        .collect();
    assert_eq!(listed, expected, "iteration is the model's, in level order");
    let values: Vec<u64> = map.values().copied().collect();
    assert_eq!(values, model.values().copied().collect::<Vec<_>>());
    for level in lowest.saturating_sub(2)..=last.saturating_add(2) {
        assert_eq!(map.get(Level(level)), model.get(&Level(level)), "{level}");
    }
}

/// Inserts or replaces `value` at `level` through `get_or_insert_with`, the one writing
/// operation that creates entries; returns the value replaced.
fn insert<M: LevelMapOps<u64>>(map: &mut M, level: Level, value: u64) -> Option<u64> {
    let previous = map.get(level).copied();
    *map.get_or_insert_with(level, || value) = value;
    previous
}

/// Applies `op` (other than a snapshot) to `map` and to `model`, checking that both answer
/// alike. Levels outside `lowest..=highest` are skipped by the operations that would panic.
fn step<M: LevelMapOps<u64>>(
    map: &mut M,
    model: &mut BTreeMap<Level, u64>,
    op: &Op,
    lowest: i32,
    highest: i32,
) {
    let in_range = |level: i32| (lowest..=highest).contains(&level);
    match *op {
        Op::Insert(level, value) if in_range(level) => {
            assert_eq!(
                insert(map, Level(level), value),
                model.insert(Level(level), value)
            );
        }
        Op::GetOrInsert(level, value) if in_range(level) => {
            let got = *map.get_or_insert_with(Level(level), || value);
            assert_eq!(got, *model.entry(Level(level)).or_insert(value));
        }
        Op::Insert(..) | Op::GetOrInsert(..) | Op::Snapshot => {}
        Op::Update(level, value) => {
            let got = map.get_mut(Level(level)).map(|slot| {
                *slot = value;
            });
            let expected = model.get_mut(&Level(level)).map(|slot| {
                *slot = value;
            });
            assert_eq!(got, expected);
        }
    }
}

/// Runs `ops` on a map of `lowest..=highest` and on the model, checking after every step, and
/// checks every clone taken along the way against the model as it was then.
fn run<M: LevelMapOps<u64>>(lowest: i32, highest: i32, ops: &[Op]) {
    let mut map = M::for_range(Level(lowest), Level(highest));
    let mut model: BTreeMap<Level, u64> = BTreeMap::new();
    let mut snapshots: Vec<(M, BTreeMap<Level, u64>)> = Vec::new();
    for op in ops {
        if let Op::Snapshot = op {
            snapshots.push((map.clone(), model.clone()));
        }
        step(&mut map, &mut model, op, lowest, highest);
        assert_same(&map, &model, lowest, highest);
    }
    for (snapshot, model) in &snapshots {
        assert_same(snapshot, model, lowest, highest);
    }
}

/// A range of 1 to about 70,000 levels, placed anywhere in `i32` (the edges included).
fn range() -> impl Strategy<Value = (i32, i32)> {
    let span = prop_oneof![1_i32..=20, 1_i32..=2_000, 1_i32..=70_000];
    let start = prop_oneof![
        Just(i32::MIN),
        Just(i32::MAX - 70_000),
        -100_000_i32..100_000
    ];
    (start, span).prop_map(|(start, span)| (start, start.saturating_add(span - 1)))
}

/// Operations on levels of `lowest..=highest` (and a few just outside): clustered on a few
/// leaves, so that entries are revisited, and spread over the range; values from `value`.
fn ops(
    lowest: i32,
    highest: i32,
    value: impl Strategy<Value = u64> + Clone,
) -> impl Strategy<Value = Vec<Op>> {
    let span = i64::from(highest) - i64::from(lowest);
    let level = prop_oneof![
        3 => (0_i64..=span.min(40)).prop_map(move |offset| offset),
        3 => (0_i64..=span).prop_map(move |offset| offset),
        1 => prop_oneof![Just(-1_i64), Just(span + 1)],
    ]
    .prop_map(move |offset| {
        i32::try_from(i64::from(lowest) + offset).unwrap_or(if offset < 0 {
            i32::MIN
        } else {
            i32::MAX
        })
    });
    let op = prop_oneof![
        4 => (level.clone(), value.clone()).prop_map(|(level, value)| Op::Insert(level, value)),
        3 => (level.clone(), value.clone()).prop_map(|(level, value)| Op::GetOrInsert(level, value)),
        4 => (level, value).prop_map(|(level, value)| Op::Update(level, value)),
        1 => Just(Op::Snapshot),
    ];
    prop::collection::vec(op, 0..200)
}

fn range_and_ops() -> impl Strategy<Value = (i32, i32, Vec<Op>)> {
    range().prop_flat_map(|(lowest, highest)| {
        ops(lowest, highest, any::<u64>()).prop_map(move |ops| (lowest, highest, ops))
    })
}

/// As [`range_and_ops`], with values from `0..3`, so that an operation often leaves the map's
/// contents as they were (it writes the value already there, or misses).
fn range_and_repetitive_ops() -> impl Strategy<Value = (i32, i32, Vec<Op>)> {
    range().prop_flat_map(|(lowest, highest)| {
        ops(lowest, highest, 0_u64..3).prop_map(move |ops| (lowest, highest, ops))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::test_cases::cases(256, 16)))]

    #[test]
    fn prop_level_array_behaves_like_a_btree_map_and_its_clones_never_change(
        (lowest, highest, ops) in range_and_ops()
    ) {
        run::<LevelArray<u64>>(lowest, highest, &ops);
    }

    #[test]
    fn prop_level_vec_behaves_like_a_btree_map_and_its_clones_never_change(
        (lowest, highest, ops) in range_and_ops()
    ) {
        run::<LevelVec<u64>>(lowest, highest, &ops);
    }

    #[test]
    fn prop_level_array_and_level_vec_are_equal_exactly_when_their_contents_are(
        (lowest, highest, ops) in range_and_repetitive_ops()
    ) {
        let mut array = LevelArray::<u64>::for_range(Level(lowest), Level(highest));
        let mut vector = LevelVec::<u64>::for_range(Level(lowest), Level(highest));
        let mut model: BTreeMap<Level, u64> = BTreeMap::new();
        for op in &ops {
            let (array_before, vector_before, model_before) =
                (array.clone(), vector.clone(), model.clone());
            step(&mut vector, &mut model.clone(), op, lowest, highest);
            step(&mut array, &mut model, op, lowest, highest);
            prop_assert!(array.iter().eq(vector.iter()), "after {:?}", op);
            let unchanged = model == model_before;
            prop_assert_eq!(array == array_before, unchanged, "after {:?}", op);
            prop_assert_eq!(vector == vector_before, unchanged, "after {:?}", op);
            // A tree built apart (sharing nothing) is equal exactly when the contents are.
            let mut rebuilt = LevelArray::<u64>::for_range(Level(lowest), Level(highest));
            for (&level, &value) in &model {
                insert(&mut rebuilt, level, value);
            }
            prop_assert!(rebuilt == array);
            prop_assert_eq!(rebuilt == array_before, unchanged);
        }
    }
}

#[test]
fn the_tree_is_as_shallow_as_the_range_allows() {
    let depth = |levels: i32| LevelArray::<u64>::for_range(Level(0), Level(levels - 1)).root_shift;
    // The root's children are leaves up to 1,024 levels, then one more branch level per
    // 6 bits.
    assert_eq!(depth(1), LEAF_BITS);
    assert_eq!(depth(1_024), LEAF_BITS);
    assert_eq!(depth(1_025), LEAF_BITS + BRANCH_BITS);
    assert_eq!(depth(10_000), LEAF_BITS + BRANCH_BITS);
    assert_eq!(depth(65_536), LEAF_BITS + BRANCH_BITS);
    assert_eq!(depth(100_000), LEAF_BITS + 2 * BRANCH_BITS);
    let full = LevelArray::<u64>::for_range(Level(i32::MIN), Level(i32::MAX));
    assert_eq!(full.root_shift, LEAF_BITS + 4 * BRANCH_BITS, "2^32 levels");
}

#[test]
fn the_extremes_of_the_whole_i32_range_are_reachable() {
    let mut map = LevelArray::for_range(Level(i32::MIN), Level(i32::MAX));
    insert(&mut map, Level(i32::MIN), 1_u64);
    insert(&mut map, Level(i32::MAX), 2);
    insert(&mut map, Level(0), 3);
    assert_eq!(map.get(Level(i32::MIN)), Some(&1));
    assert_eq!(map.get(Level(i32::MAX)), Some(&2));
    let listed: Vec<(Level, u64)> = map.iter().map(|(level, value)| (level, *value)).collect();
    assert_eq!(
        listed,
        vec![(Level(i32::MIN), 1), (Level(0), 3), (Level(i32::MAX), 2)]
    );
}

#[test]
fn a_change_after_a_clone_copies_the_path_once_and_then_works_in_place() {
    let mut map = LevelArray::for_range(Level(0), Level(9_999));
    for level in 0..10_000 {
        insert(
            &mut map,
            Level(level),
            u64::try_from(level).expect("positive"),
        );
    }
    let published = map.clone();
    assert!(
        Arc::ptr_eq(&map.root, &published.root),
        "a clone shares the tree"
    );
    *map.get_mut(Level(5)).expect("present") += 100;
    assert!(
        !Arc::ptr_eq(&map.root, &published.root),
        "a change copies the root"
    );
    let root = Arc::as_ptr(&map.root);
    *map.get_mut(Level(6)).expect("present") += 100;
    assert_eq!(
        Arc::as_ptr(&map.root),
        root,
        "the second change is in place"
    );
    assert_eq!(published.get(Level(5)), Some(&5));
    assert_eq!(map.get(Level(5)), Some(&105));
    assert_eq!(map.get(Level(6)), Some(&106));
}

#[test]
fn a_miss_copies_no_value() {
    let mut map = LevelArray::for_range(Level(0), Level(9_999));
    insert(&mut map, Level(1), 1_u64);
    let published = map.clone();
    assert_eq!(map.get(Level(5_000)), None);
    assert!(
        Arc::ptr_eq(&map.root, &published.root),
        "a read copies nothing"
    );
    assert_eq!(map.get_mut(Level(5_000)), None);
    assert_eq!(map, published, "equal contents");
}

#[test]
#[should_panic(expected = "outside the map's range")]
fn inserting_outside_the_range_panics() {
    let mut map = LevelArray::for_range(Level(-5), Level(5));
    map.get_or_insert_with(Level(6), || 1_u64);
}

#[test]
#[should_panic(expected = "outside the map's range")]
fn inserting_outside_the_range_of_a_vec_panics() {
    let mut map = LevelVec::for_range(Level(-5), Level(5));
    map.get_or_insert_with(Level(-6), || 1_u64);
}

#[test]
fn a_vec_grows_to_the_highest_level_used_but_never_beyond_the_range() {
    let mut map = LevelVec::for_range(Level(0), Level(9_999));
    for level in 0..10_000 {
        insert(&mut map, Level(level), 0_u64);
    }
    assert_eq!(map.entries.len(), 10_000);
    assert_eq!(map.entries.capacity(), 10_000, "no room to spare");
    let mut sparse = LevelVec::for_range(Level(0), Level(9_999));
    insert(&mut sparse, Level(10), 0_u64);
    assert_eq!(sparse.entries.len(), 11);
}

#[test]
fn debug_lists_levels_and_values() {
    let mut array = LevelArray::for_range(Level(-2), Level(2));
    let mut vector = LevelVec::for_range(Level(-2), Level(2));
    insert(&mut array, Level(-1), 7_u64);
    insert(&mut vector, Level(-1), 7_u64);
    assert_eq!(format!("{array:?}"), "{Level(-1): 7}");
    assert_eq!(format!("{vector:?}"), "{Level(-1): 7}");
}
