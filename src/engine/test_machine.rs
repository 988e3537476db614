//! A small state machine for the engine's and the journal's unit tests: it sums its commands,
//! refuses odd ones and panics on multiples of 13, changing its state before it panics (so a
//! panic leaves it torn unless the writer re-derives it). Journaled as eight little-endian
//! bytes per command and per state.

use crate::engine::{Labelled, StateMachine};
use crate::journal::{CodecError, Durable};

/// Sums its commands; refuses odd ones; panics on multiples of 13 (a caught panic).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Sum(pub(crate) u64);

#[derive(Debug)]
pub(crate) struct Added;
impl Labelled for Added {
    const LABELS: &'static [&'static str] = &["added"];
    fn label_index(&self) -> usize {
        0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("odd")]
pub(crate) struct Odd;
impl Labelled for Odd {
    const LABELS: &'static [&'static str] = &["odd"];
    fn label_index(&self) -> usize {
        0
    }
}

impl StateMachine for Sum {
    type Command = u64;
    type Applied = Added;
    type Rejected = Odd;
    fn apply(&mut self, command: &u64) -> Result<Added, Odd> {
        // Changes the state before it panics, so a panic leaves it torn unless re-derived.
        self.0 += 1_000_000;
        assert_ne!(command % 13, 0, "unlucky");
        self.0 -= 1_000_000;
        if command % 2 == 1 {
            return Err(Odd);
        }
        self.0 += command;
        Ok(Added)
    }
}

fn eight_bytes(bytes: &[u8]) -> Result<u64, CodecError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| CodecError::new("not eight bytes"))?;
    Ok(u64::from_le_bytes(array))
}

impl Durable for Sum {
    const FORMAT: &'static str = "test.sum/1";
    type Config = ();
    fn config(&self) {}
    fn encode_config((): &(), _out: &mut Vec<u8>) -> Result<(), CodecError> {
        Ok(())
    }
    fn decode_config(_bytes: &[u8]) -> Result<(), CodecError> {
        Ok(())
    }
    fn encode_command(command: &u64, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(&command.to_le_bytes());
        Ok(())
    }
    fn decode_command(bytes: &[u8]) -> Result<u64, CodecError> {
        eight_bytes(bytes)
    }
    fn encode_state(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(&self.0.to_le_bytes());
        Ok(())
    }
    fn decode_state(bytes: &[u8], (): &()) -> Result<Self, CodecError> {
        eight_bytes(bytes).map(Sum)
    }
}
