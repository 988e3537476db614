//! A grid market maker: quotes a buy on every vacant level below the mid price and a sell on
//! every vacant level above it, within a band, and cancels orders the mid has left far behind.
//!
//! Pure decision logic: it reads a book (a snapshot's) and a mid price and returns what to place
//! and cancel. The caller sends the placements to the engine and the venue, and the cancels to
//! the venue. Used by `snapstate simulate` and by the deterministic simulation.

use rust_decimal::Decimal;
use snapstate::book::{Book, Level, OrderId, Place, Price, Quantity, Side, Storage};
use snapstate::time::Timestamp;

/// How the market maker quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketMakerConfig {
    /// Levels quoted on each side of the mid. Default 10.
    pub band: u32,
    /// Extra levels beyond the band before an order is cancelled, so that orders do not churn
    /// as the mid wobbles. Default 5.
    pub cancel_beyond: u32,
    /// Quantity of every order. Default 1.
    pub quantity: Quantity,
    /// The most new orders per decision, to pace placements. Default 20.
    pub max_places_per_decision: usize,
}

impl Default for MarketMakerConfig {
    fn default() -> Self {
        Self {
            band: 10,
            cancel_beyond: 5,
            quantity: Decimal::ONE,
            max_places_per_decision: 20,
        }
    }
}

/// What the market maker decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// New orders, nearest the mid first (buys before sells at equal distance).
    pub places: Vec<Place>,
    /// Live orders to cancel at the venue, by id.
    pub cancels: Vec<OrderId>,
}

/// The market maker: its configuration and the next order id it will use.
#[derive(Clone, Debug)]
pub struct GridMarketMaker {
    config: MarketMakerConfig,
    next_order_id: u64,
}

impl GridMarketMaker {
    /// A market maker whose first order id is `first_order_id`.
    pub fn new(config: MarketMakerConfig, first_order_id: u64) -> Self {
        Self {
            config,
            next_order_id: first_order_id,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MarketMakerConfig {
        &self.config
    }

    /// Decides what to place and cancel, given the book and the mid price, at `at`.
    pub fn decide<S: Storage>(&mut self, book: &Book<S>, mid: Price, at: Timestamp) -> Decision {
        let grid = &book.config().grid;
        let mid_level = grid.nearest_level(mid);
        let mut places = Vec::new();
        'quote: for offset in 1..=i64::from(self.config.band) {
            for side in [Side::Buy, Side::Sell] {
                if places.len() >= self.config.max_places_per_decision {
                    break 'quote;
                }
                let signed = match side {
                    Side::Buy => -offset,
                    Side::Sell => offset,
                };
                let Some(level) = i32::try_from(i64::from(mid_level.0) + signed)
                    .ok()
                    .map(Level)
                else {
                    continue;
                };
                let vacant = book
                    .slot(level)
                    .is_none_or(|slot| slot.live_order().is_none());
                if let (true, Some(price)) = (vacant, grid.price_of(level)) {
                    places.push(Place {
                        order_id: OrderId(self.next_order_id),
                        level,
                        side,
                        price,
                        quantity: self.config.quantity,
                        at,
                    });
                    self.next_order_id += 1;
                }
            }
        }
        let limit = i64::from(self.config.band) + i64::from(self.config.cancel_beyond);
        let cancels = book
            .live_orders()
            .into_iter()
            .filter(|order| (i64::from(order.level().0) - i64::from(mid_level.0)).abs() > limit)
            .map(|order| order.id())
            .collect();
        Decision { places, cancels }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapstate::book::{BookCommand, BookConfig, Grid};

    fn book() -> Book {
        let grid =
            Grid::new(Decimal::from(100), Decimal::ONE, Level(-50), Level(50)).expect("grid");
        Book::new(BookConfig::new(grid))
    }

    fn config(band: u32) -> MarketMakerConfig {
        MarketMakerConfig {
            band,
            cancel_beyond: 2,
            ..MarketMakerConfig::default()
        }
    }

    #[test]
    fn quotes_buys_below_and_sells_above_the_mid_on_vacant_levels() {
        let mut maker = GridMarketMaker::new(config(2), 1);
        let decision = maker.decide(&book(), Decimal::from(100), Timestamp::EPOCH);
        let quoted: Vec<(i32, Side, u64)> = decision
            .places
            .iter()
            .map(|place| (place.level.0, place.side, place.order_id.0))
            .collect();
        assert_eq!(
            quoted,
            vec![
                (-1, Side::Buy, 1),
                (1, Side::Sell, 2),
                (-2, Side::Buy, 3),
                (2, Side::Sell, 4)
            ]
        );
        assert!(
            decision
                .places
                .iter()
                .all(|place| place.price == Decimal::from(100 + place.level.0))
        );
        assert!(decision.cancels.is_empty());
    }

    #[test]
    fn occupied_levels_are_not_quoted_again_and_far_orders_are_cancelled() {
        let mut book = book();
        let mut maker = GridMarketMaker::new(config(2), 1);
        for place in maker
            .decide(&book, Decimal::from(100), Timestamp::EPOCH)
            .places
        {
            book.apply(&BookCommand::Place(place))
                .expect("valid placement");
        }
        assert!(
            maker
                .decide(&book, Decimal::from(100), Timestamp::EPOCH)
                .places
                .is_empty()
        );
        // The mid moves 5 levels up: the buy at -2 is now 7 away (beyond 2 + 2) and is
        // cancelled; -1 is 6 away, also cancelled; the sells at 1 and 2 are 4 and 3 away.
        let moved = maker.decide(&book, Decimal::from(105), Timestamp::EPOCH);
        assert_eq!(moved.cancels, vec![OrderId(1), OrderId(3)]);
        let levels: Vec<i32> = moved.places.iter().map(|place| place.level.0).collect();
        assert_eq!(levels, vec![4, 6, 3, 7]);
    }

    #[test]
    fn placements_per_decision_are_capped_and_stay_on_the_grid() {
        let mut maker = GridMarketMaker::new(
            MarketMakerConfig {
                band: 100,
                max_places_per_decision: 7,
                ..MarketMakerConfig::default()
            },
            1,
        );
        let decision = maker.decide(&book(), Decimal::from(148), Timestamp::EPOCH);
        assert_eq!(decision.places.len(), 7);
        assert!(
            decision
                .places
                .iter()
                .all(|place| (-50..=50).contains(&place.level.0))
        );
    }
}
