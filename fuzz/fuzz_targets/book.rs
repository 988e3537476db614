//! `book`: arbitrary command sequences through the position book's `StateMachine::apply`.
//!
//! The input drives a generator (`arbitrary::Unstructured`) that builds up to
//! [`MAX_COMMANDS`] commands of every kind, one at a time and with the book so far in view (a
//! correction may carry the revision it would find). Their fields are mostly small and on the
//! grid, but a quantity or a price can be any decimal (`Decimal::MAX`, 28 fractional digits,
//! 96-bit mantissas at any scale) or one used before (so that huge and tiny orders fill
//! completely), and a time can be any `u64` of nanoseconds, far in the future included. The
//! grid, the tombstone limits and the clock step vary too. Position adoptions mostly carry
//! the revision they will find and the id the startup pass would derive; finished-order
//! adoptions mostly a finished status that fits their fills.
//!
//! After every command it checks:
//! * `check_invariants()` holds;
//! * both storages ([`Persistent`] and [`Standard`]) gave the same result (and at the end of
//!   the sequence: the standard book holds its invariants, and both read the same: orders,
//!   slots, positions, the adopted position, the state digest, counts, the book's time);
//! * a command that was rejected, stale or a duplicate left the book equal to the book before;
//! * a command that changed the book changes nothing when applied again (duplicates are
//!   idempotent).
//!
//! A failure of these checks prints every command up to the one that failed. A panic inside
//! the library cannot (libFuzzer aborts at once): run the input again with
//! `SNAPSTATE_FUZZ_TRACE=1` to print each command and its result as it is applied.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use snapstate::book::{
    Adoption, Applied, Book, BookCommand, BookConfig, Correction, FillReport, FinishedAdoption,
    Grid, Level, Order, OrderId, OrderStatus, Persistent, Place, PositionAdoption,
    PositionAdoptionId, Rejection, Revision, Side, Slot, Standard, StatusReport,
};
use snapstate::engine::StateMachine;
use snapstate::time::Timestamp;

/// The longest command sequence one input builds.
const MAX_COMMANDS: usize = 64;
/// Order ids are `0..ORDER_IDS`: few, so that commands meet the same orders.
const ORDER_IDS: u64 = 8;
/// The most decimals remembered for reuse.
const MAX_REMEMBERED: usize = 16;

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let Ok(config) = config(&mut input) else {
        return;
    };
    let mut run = Run::new(config);
    while run.history.len() < MAX_COMMANDS && !input.is_empty() {
        let offset = data.len() - input.len();
        let Ok(command) = run.command(&mut input) else {
            break;
        };
        run.step(command, offset);
    }
    run.check_storages_agree();
});

/// The books under test and what the generator remembers.
struct Run {
    persistent: Book<Persistent>,
    standard: Book<Standard>,
    /// Every command applied so far, for the failure message.
    history: Vec<BookCommand>,
    /// Decimals used so far, to use again.
    decimals: Vec<Decimal>,
    /// Times used so far, to use again.
    times: Vec<Timestamp>,
}

impl Run {
    fn new(config: BookConfig) -> Self {
        Self {
            persistent: Book::new(config.clone()),
            standard: Book::with_storage(config),
            history: Vec::new(),
            decimals: Vec::new(),
            times: Vec::new(),
        }
    }

    /// Applies `command`, built from the input's bytes from `offset` on, to both books and
    /// checks every law in the module docs.
    fn step(&mut self, command: BookCommand, offset: usize) {
        self.history.push(command.clone());
        let persistent_before = self.persistent.clone();
        let standard_before = self.standard.clone();
        let result = StateMachine::apply(&mut self.persistent, &command);
        let standard_result = self.standard.apply(&command);
        if tracing() {
            eprintln!(
                "{:2} (byte {offset}): {command:?}\n    -> {result:?}",
                self.history.len() - 1
            );
        }
        self.require(result == standard_result, || {
            format!("the storages disagree: persistent {result:?}, standard {standard_result:?}")
        });
        if let Err(violation) = self.persistent.check_invariants() {
            self.fail(&format!("{violation:?} after {result:?}"));
        }
        if changed_nothing(&result) {
            self.require(self.persistent == persistent_before, || {
                format!("{result:?} changed the book")
            });
            self.require(self.standard == standard_before, || {
                format!("{result:?} changed the standard book")
            });
        } else {
            let mut again = self.persistent.clone();
            let repeated = StateMachine::apply(&mut again, &command);
            self.require(changed_nothing(&repeated), || {
                format!("applied twice: {result:?}, then {repeated:?}")
            });
            self.require(again == self.persistent, || {
                format!("applied twice, the second time ({repeated:?}) changed the book")
            });
        }
    }

    /// Checks that the standard book holds its invariants and reads as the persistent one.
    /// Once per sequence: the results of every command are compared as they come, and a
    /// divergence in state shows in the results of the commands after it or here.
    fn check_storages_agree(&self) {
        if let Err(violation) = self.standard.check_invariants() {
            self.fail(&format!("standard storage: {violation:?}"));
        }
        let (persistent, standard) = (&self.persistent, &self.standard);
        self.require(persistent.net_position() == standard.net_position(), || {
            "net positions differ".to_owned()
        });
        self.require(
            persistent.gross_position() == standard.gross_position(),
            || "gross positions differ".to_owned(),
        );
        self.require(
            persistent.status_counts() == standard.status_counts(),
            || "status counts differ".to_owned(),
        );
        let orders: (Vec<&Order>, Vec<&Order>) =
            (persistent.orders_by_id(), standard.orders_by_id());
        self.require(orders.0 == orders.1, || {
            format!("orders differ: {orders:?}")
        });
        let slots: (Vec<&Slot>, Vec<&Slot>) =
            (persistent.slots_by_price(), standard.slots_by_price());
        self.require(slots.0 == slots.1, || format!("slots differ: {slots:?}"));
        self.require(
            persistent.adopted_position() == standard.adopted_position(),
            || "adopted positions differ".to_owned(),
        );
        self.require(persistent.state_digest() == standard.state_digest(), || {
            "state digests differ".to_owned()
        });
        self.require(
            persistent.tombstone_count() == standard.tombstone_count()
                && persistent.latest_activity() == standard.latest_activity(),
            || "tombstones or the book's time differ".to_owned(),
        );
    }

    fn require(&self, holds: bool, message: impl FnOnce() -> String) {
        if !holds {
            self.fail(&message());
        }
    }

    fn fail(&self, message: &str) -> ! {
        let mut history = String::new();
        for (index, command) in self.history.iter().enumerate() {
            history.push_str(&format!("\n  {index:2}: {command:?}"));
        }
        panic!("{message}\ncommands:{history}");
    }

    /// One command of any kind, built from `input` with the book so far in view.
    ///
    /// The kind is the first byte modulo 20, read modulo 10 as before position adoptions
    /// existed, except 19 and 18 (were corrections), so that most inputs of the regressions
    /// keep the commands they were found with.
    fn command(&mut self, input: &mut Unstructured<'_>) -> Result<BookCommand> {
        Ok(match input.int_in_range(0_u8..=19)? {
            19 => BookCommand::AdoptPosition(self.position_adoption(input)?),
            18 => BookCommand::Correct(Correction::AdoptFinished(self.finished_adoption(input)?)),
            kind => match kind % 10 {
                0 | 1 => BookCommand::Place(self.place(input)?),
                2 => BookCommand::Acknowledge(self.status(input)?),
                3 | 4 => BookCommand::Fill(self.fill(input)?),
                5 => BookCommand::Cancel(self.status(input)?),
                6 => BookCommand::Reject(self.status(input)?),
                7 => BookCommand::Expire(self.status(input)?),
                _ => BookCommand::Correct(self.correction(input)?),
            },
        })
    }

    /// A position adoption: mostly with the revision it will find and the id the startup
    /// reconciliation would derive; sometimes the last id applied (a duplicate), a stale
    /// revision, or any id.
    fn position_adoption(&mut self, input: &mut Unstructured<'_>) -> Result<PositionAdoption> {
        let (revision, last_id) = {
            let adopted = self.persistent.adopted_position();
            (adopted.revision(), adopted.last_id())
        };
        let expected = match input.int_in_range(0_u8..=3)? {
            0 | 1 => revision,
            2 => Revision(input.int_in_range(0..=8)?),
            _ => Revision(input.arbitrary()?),
        };
        let mut quantity = self.decimal(input)?;
        if input.arbitrary()? {
            quantity.set_sign_negative(!quantity.is_sign_negative());
        }
        let id = match (input.int_in_range(0_u8..=3)?, last_id) {
            (0, Some(last)) => last,
            (1, _) => PositionAdoptionId(input.arbitrary()?),
            _ => {
                let venue_position = self.decimal(input)?;
                PositionAdoptionId::derive(
                    venue_position,
                    self.persistent.net_position(),
                    quantity,
                    expected,
                )
            }
        };
        Ok(PositionAdoption {
            id,
            quantity,
            expected,
            at: self.time(input)?,
        })
    }

    /// A finished-order adoption: mostly of a finished status, filled in whole half of the
    /// time (so that `filled` adoptions often fit), at the grid's price; sometimes anything.
    fn finished_adoption(&mut self, input: &mut Unstructured<'_>) -> Result<FinishedAdoption> {
        let level = level(input)?;
        let quantity = self.decimal(input)?;
        let cumulative_filled = if input.arbitrary()? {
            quantity
        } else {
            self.decimal(input)?
        };
        let status = match input.int_in_range(0_u8..=7)? {
            0..=5 => *input.choose(&[
                OrderStatus::Filled,
                OrderStatus::Cancelled,
                OrderStatus::Expired,
                OrderStatus::Lost,
            ])?,
            _ => *input.choose(&OrderStatus::ALL)?,
        };
        // Mostly the slot's revision it will find, so that it applies.
        let expected = match input.int_in_range(0_u8..=3)? {
            0..=2 => self
                .persistent
                .slot(level)
                .map_or(Revision::ABSENT, Slot::revision),
            _ => Revision(input.int_in_range(0..=8)?),
        };
        Ok(FinishedAdoption {
            order_id: order_id(input)?,
            level,
            side: side(input)?,
            price: self.price(input, level)?,
            quantity,
            cumulative_filled,
            status,
            expected,
            at: self.time(input)?,
        })
    }

    fn place(&mut self, input: &mut Unstructured<'_>) -> Result<Place> {
        let level = level(input)?;
        Ok(Place {
            order_id: order_id(input)?,
            level,
            side: side(input)?,
            price: self.price(input, level)?,
            quantity: self.decimal(input)?,
            at: self.time(input)?,
        })
    }

    fn status(&mut self, input: &mut Unstructured<'_>) -> Result<StatusReport> {
        Ok(StatusReport {
            order_id: order_id(input)?,
            venue_seq: venue_seq(input)?,
            at: self.time(input)?,
        })
    }

    fn fill(&mut self, input: &mut Unstructured<'_>) -> Result<FillReport> {
        Ok(FillReport {
            order_id: order_id(input)?,
            cumulative_filled: self.decimal(input)?,
            fill_price: if input.arbitrary()? {
                Some(self.decimal(input)?)
            } else {
                None
            },
            trade_id: input.arbitrary()?,
            venue_seq: venue_seq(input)?,
            at: self.time(input)?,
        })
    }

    fn correction(&mut self, input: &mut Unstructured<'_>) -> Result<Correction> {
        let order_id = order_id(input)?;
        let expected = match input.int_in_range(0_u8..=3)? {
            // The revision the correction would find now, so that it applies.
            0 | 1 => self
                .persistent
                .order(order_id)
                .map_or(Revision(0), Order::revision),
            2 => Revision(input.int_in_range(0..=8)?),
            _ => Revision(input.arbitrary()?),
        };
        let at = self.time(input)?;
        Ok(match input.int_in_range(0_u8..=3)? {
            0 => Correction::MissedFill {
                order_id,
                expected,
                cumulative_filled: self.decimal(input)?,
                at,
            },
            1 => Correction::MissedAcknowledge {
                order_id,
                expected,
                at,
            },
            2 => Correction::MarkLost {
                order_id,
                expected,
                at,
            },
            _ => {
                let level = level(input)?;
                let expected = if input.arbitrary()? {
                    self.persistent
                        .slot(level)
                        .map_or(Revision::ABSENT, Slot::revision)
                } else {
                    expected
                };
                Correction::Adopt(Adoption {
                    order_id,
                    level,
                    side: side(input)?,
                    price: self.price(input, level)?,
                    quantity: self.decimal(input)?,
                    cumulative_filled: self.decimal(input)?,
                    expected,
                    at,
                })
            }
        })
    }

    /// Mostly the grid's price of `level`; sometimes any decimal.
    fn price(&mut self, input: &mut Unstructured<'_>, level: Level) -> Result<Decimal> {
        let on_grid = self.persistent.config().grid.price_of(level);
        match (input.int_in_range(0_u8..=3)?, on_grid) {
            (0..=2, Some(price)) => Ok(price),
            _ => self.decimal(input),
        }
    }

    /// A quantity or price: small ones mostly, any representable decimal sometimes, or one
    /// used before.
    fn decimal(&mut self, input: &mut Unstructured<'_>) -> Result<Decimal> {
        let value = match input.int_in_range(0_u8..=11)? {
            0..=3 => Decimal::from(input.int_in_range(0_i64..=12)?),
            4 => Decimal::new(
                input.int_in_range(1_i64..=9_999)?,
                input.int_in_range(0..=8)?,
            ),
            5 => Decimal::new(-input.int_in_range(0_i64..=3)?, 0),
            6 => *input.choose(&[
                Decimal::MAX,
                Decimal::MIN,
                Decimal::new(1, 28),
                Decimal::from_i128_with_scale(72_057_594_037_927_935, 2),
                Decimal::from_i128_with_scale(72_057_594_037_927_938, 24),
            ])?,
            7 | 8 => {
                let (low, middle, high): (u32, u32, u32) = input.arbitrary()?;
                let scale = input.int_in_range(0..=28)?;
                Decimal::from_parts(low, middle, high, false, scale)
            }
            _ => match self.decimals.len() {
                0 => Decimal::ONE,
                len => self.decimals[input.choose_index(len)?],
            },
        };
        if self.decimals.len() < MAX_REMEMBERED {
            self.decimals.push(value);
        }
        Ok(value)
    }

    /// Mostly milliseconds of the first few seconds; sometimes any `u64` of nanoseconds (far
    /// in the future included), or a time used before.
    fn time(&mut self, input: &mut Unstructured<'_>) -> Result<Timestamp> {
        let time = match input.int_in_range(0_u8..=7)? {
            0..=4 => Timestamp::from_millis(input.int_in_range(0..=5_000)?),
            5 => Timestamp::from_nanos(input.arbitrary()?),
            6 => Timestamp::from_nanos(u64::MAX),
            _ => match self.times.len() {
                0 => Timestamp::EPOCH,
                len => self.times[input.choose_index(len)?],
            },
        };
        if self.times.len() < MAX_REMEMBERED {
            self.times.push(time);
        }
        Ok(time)
    }
}

/// Whether `SNAPSTATE_FUZZ_TRACE` is set: then each command and its result is printed.
fn tracing() -> bool {
    static TRACING: OnceLock<bool> = OnceLock::new();
    *TRACING.get_or_init(|| std::env::var_os("SNAPSTATE_FUZZ_TRACE").is_some())
}

/// Whether `result` must have left the book as it was.
fn changed_nothing(result: &std::result::Result<Applied, Rejection>) -> bool {
    !matches!(result, Ok(applied) if !matches!(applied, Applied::Stale(_) | Applied::Duplicate))
}

/// The book's configuration: one of a few grids, and tombstone limits from tight to default.
fn config(input: &mut Unstructured<'_>) -> Result<BookConfig> {
    let (origin, step) = *input.choose(&[
        (Decimal::from(100), Decimal::ONE),
        (Decimal::new(1, 2), Decimal::new(1, 8)),
        (Decimal::from(10_000_000_000_i64), Decimal::new(5, 1)),
    ])?;
    let grid = Grid::new(origin, step, Level(-5), Level(5))
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let mut config = BookConfig::new(grid);
    if input.arbitrary()? {
        config.tombstone_retention = Duration::from_millis(input.int_in_range(0..=1_000)?);
        config.max_tombstones = input.int_in_range(0..=8)?;
        // Derived rather than drawn, so that the inputs of the regressions keep their
        // meaning: a clock step of half the retention (zero below 2 ms: a clock that only
        // the first command moves).
        config.max_clock_step = config.tombstone_retention / 2;
    }
    Ok(config)
}

fn order_id(input: &mut Unstructured<'_>) -> Result<OrderId> {
    Ok(OrderId(input.int_in_range(0..=ORDER_IDS - 1)?))
}

/// A level of the grid (`-5..=5`) or just off it.
fn level(input: &mut Unstructured<'_>) -> Result<Level> {
    Ok(Level(input.int_in_range(-6..=6)?))
}

fn side(input: &mut Unstructured<'_>) -> Result<Side> {
    Ok(if input.arbitrary()? {
        Side::Buy
    } else {
        Side::Sell
    })
}

fn venue_seq(input: &mut Unstructured<'_>) -> Result<Option<u64>> {
    Ok(match input.int_in_range(0_u8..=3)? {
        0 => None,
        1 | 2 => Some(input.int_in_range(0..=20)?),
        _ => Some(input.arbitrary()?),
    })
}
