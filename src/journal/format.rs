//! The journal's record frame, and how a reader tells a torn tail from corruption.
//!
//! # Frame
//!
//! Every journal record is one frame, little-endian throughout:
//!
//! ```text
//! offset  size  field
//! 0       4     payload length in bytes (u32), at most MAX_PAYLOAD_BYTES
//! 4       4     CRC-32C (Castagnoli) of bytes 0..4 followed by bytes 8..16+length
//! 8       8     sequence number of the command (u64, never 0)
//! 16      len   payload: the command, encoded by the state machine's `Durable` codec
//! ```
//!
//! The checksum covers the length, the sequence number and the payload (everything but itself),
//! so a flipped bit anywhere in a frame is detected. A frame whose first 16 bytes are all zero is
//! the end of the written part of a preallocated segment: a real frame never starts that way,
//! because sequence numbers start at 1.

use super::Seq;

/// Bytes in a frame's header (length, checksum, sequence number).
pub const FRAME_HEADER_BYTES: usize = 16;

/// The largest payload a frame may carry (16 MiB). A longer length field is corruption.
pub const MAX_PAYLOAD_BYTES: usize = 16 << 20;

/// What reading the frame at some offset found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameRead<'bytes> {
    /// A whole, checksummed frame.
    Frame {
        /// Its sequence number.
        seq: Seq,
        /// Its payload.
        payload: &'bytes [u8],
        /// Bytes the frame occupies (header and payload).
        len: usize,
    },
    /// Sixteen zero bytes, or no bytes at all: nothing was written here.
    End,
    /// Not a whole, valid frame: cut short, a bad checksum, or an impossible length or sequence
    /// number. Whether it is a torn tail or corruption depends on what follows
    /// (see [`is_torn_tail`]).
    Bad {
        /// Why.
        reason: BadFrame,
        /// Where the frame would end if its length field is right (clamped to the input), so
        /// that the caller can look for data beyond it.
        claimed_end: usize,
    },
}

/// Why a frame is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadFrame {
    /// The input ends inside the frame.
    #[error("the record is cut short")]
    Truncated,
    /// The checksum does not match.
    #[error("the record's checksum does not match")]
    Checksum,
    /// The length field is above [`MAX_PAYLOAD_BYTES`].
    #[error("the record's length is impossible")]
    Length,
    /// The sequence number is zero.
    #[error("the record's sequence number is zero")]
    ZeroSeq,
}

/// Appends one frame carrying `payload` for `seq` to `out`.
///
/// # Panics
///
/// In debug builds, if `seq` is zero. If `payload` is longer than [`MAX_PAYLOAD_BYTES`]
/// (callers check first).
#[cfg(test)]
pub(crate) fn encode_frame(seq: Seq, payload: &[u8], out: &mut Vec<u8>) {
    append_frame(seq, out, |out| {
        out.extend_from_slice(payload);
        Ok::<(), std::convert::Infallible>(())
    })
    .expect("a payload within MAX_PAYLOAD_BYTES");
}

/// Why [`append_frame`] appended nothing.
#[derive(Debug)]
pub(crate) enum AppendFrameError<E> {
    /// The payload's encoder failed.
    Encode(E),
    /// The payload encoded to this many bytes, more than [`MAX_PAYLOAD_BYTES`].
    TooLong(usize),
}

/// Appends one frame for `seq` to `out`, its payload appended by `encode_payload` straight
/// into `out` behind a header reserved for it, so that the payload is not encoded into a
/// buffer of its own and then copied. Returns the frame's length in bytes. On an error, `out`
/// is left as it was.
///
/// # Errors
///
/// The encoder's error, or a payload longer than [`MAX_PAYLOAD_BYTES`].
///
/// # Panics
///
/// In debug builds, if `seq` is zero.
pub(crate) fn append_frame<E>(
    seq: Seq,
    out: &mut Vec<u8>,
    encode_payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<usize, AppendFrameError<E>> {
    debug_assert_ne!(seq.0, 0, "sequence numbers start at 1");
    let start = out.len();
    let payload_at = start + FRAME_HEADER_BYTES;
    out.resize(payload_at, 0);
    if let Err(error) = encode_payload(out) {
        out.truncate(start);
        return Err(AppendFrameError::Encode(error));
    }
    let payload_len = out.len() - payload_at;
    let Some(length) = u32::try_from(payload_len)
        .ok()
        .filter(|_| payload_len <= MAX_PAYLOAD_BYTES)
    else {
        out.truncate(start);
        return Err(AppendFrameError::TooLong(payload_len));
    };
    let length = length.to_le_bytes();
    let seq_bytes = seq.0.to_le_bytes();
    let crc = checksum(length, seq_bytes, &out[payload_at..]);
    out[start..start + 4].copy_from_slice(&length);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    out[start + 8..payload_at].copy_from_slice(&seq_bytes);
    Ok(FRAME_HEADER_BYTES + payload_len)
}

fn checksum(length: [u8; 4], seq: [u8; 8], payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&length);
    let crc = crc32c::crc32c_append(crc, &seq);
    crc32c::crc32c_append(crc, payload)
}

/// Reads the frame at the start of `bytes`.
pub(crate) fn read_frame(bytes: &[u8]) -> FrameRead<'_> {
    if bytes.is_empty() {
        return FrameRead::End;
    }
    let header_len = bytes.len().min(FRAME_HEADER_BYTES);
    if bytes[..header_len].iter().all(|&byte| byte == 0) {
        // All-zero header bytes: the preallocated, never-written part of a segment. A header
        // cut short but all zero is a torn write of a header whose first bytes were zero-valued,
        // which a real header never is (its checksum is nonzero in practice, its seq nonzero):
        // treat both as the end, and let the caller check nothing follows.
        return FrameRead::End;
    }
    if bytes.len() < FRAME_HEADER_BYTES {
        return FrameRead::Bad {
            reason: BadFrame::Truncated,
            claimed_end: bytes.len(),
        };
    }
    let length = u32_at(bytes, 0) as usize;
    let stored_crc = u32_at(bytes, 4);
    let seq = u64_at(bytes, 8);
    if length > MAX_PAYLOAD_BYTES {
        return FrameRead::Bad {
            reason: BadFrame::Length,
            claimed_end: FRAME_HEADER_BYTES,
        };
    }
    let end = FRAME_HEADER_BYTES + length;
    if bytes.len() < end {
        return FrameRead::Bad {
            reason: BadFrame::Truncated,
            claimed_end: bytes.len(),
        };
    }
    let payload = &bytes[FRAME_HEADER_BYTES..end];
    let mut length_bytes = [0; 4];
    length_bytes.copy_from_slice(&bytes[0..4]);
    let mut seq_bytes = [0; 8];
    seq_bytes.copy_from_slice(&bytes[8..16]);
    if checksum(length_bytes, seq_bytes, payload) != stored_crc {
        return FrameRead::Bad {
            reason: BadFrame::Checksum,
            claimed_end: end,
        };
    }
    if seq == 0 {
        return FrameRead::Bad {
            reason: BadFrame::ZeroSeq,
            claimed_end: end,
        };
    }
    FrameRead::Frame {
        seq: Seq(seq),
        payload,
        len: end,
    }
}

/// Whether a bad frame at `offset` of the journal's last segment is a torn tail (a write cut
/// short by a crash) rather than corruption: nothing nonzero is written beyond the frame's
/// claimed end.
///
/// A crash tears only the last write, and a segment is preallocated with zeros, so after a torn
/// frame every byte is zero. A record corrupted in the middle of the log is followed by the
/// records written after it, which are not.
pub(crate) fn is_torn_tail(segment: &[u8], offset: usize, claimed_end: usize) -> bool {
    let from = (offset + claimed_end).min(segment.len());
    all_zero(&segment[from..])
}

/// Whether every byte of `bytes` is zero. The unwritten rest of a preallocated segment (up to
/// tens of MiB) is checked once per recovery: folding each block with `|` lets the compiler
/// use vector instructions, where a byte-by-byte `all` stops to branch on every byte.
pub(crate) fn all_zero(bytes: &[u8]) -> bool {
    const BLOCK: usize = 4096;
    bytes
        .chunks(BLOCK)
        .all(|block| block.iter().fold(0, |any, &byte| any | byte) == 0)
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(Seq(seq), payload, &mut out);
        out
    }

    #[test]
    fn all_zero_finds_a_nonzero_byte_anywhere_across_blocks() {
        let mut bytes = vec![0_u8; 3 * 4096 + 17];
        assert!(all_zero(&bytes));
        assert!(all_zero(&[]));
        for at in [0, 1, 4095, 4096, 4097, 8191, 3 * 4096, bytes.len() - 1] {
            bytes[at] = 0x80;
            assert!(!all_zero(&bytes), "a nonzero byte at {at}");
            bytes[at] = 0;
        }
    }

    #[test]
    fn a_frame_reads_back_whole() {
        let bytes = frame(7, b"hello");
        assert_eq!(
            read_frame(&bytes),
            FrameRead::Frame {
                seq: Seq(7),
                payload: b"hello",
                len: 21
            }
        );
    }

    #[test]
    fn an_empty_payload_is_a_valid_frame_and_not_the_end() {
        let bytes = frame(1, b"");
        assert!(matches!(
            read_frame(&bytes),
            FrameRead::Frame { len: 16, .. }
        ));
    }

    #[test]
    fn zero_bytes_and_no_bytes_are_the_end() {
        assert_eq!(read_frame(&[]), FrameRead::End);
        assert_eq!(read_frame(&[0; 40]), FrameRead::End);
    }

    #[test]
    fn every_truncation_point_of_a_frame_is_detected() {
        let bytes = frame(3, b"some payload bytes");
        for cut in 1..bytes.len() {
            match read_frame(&bytes[..cut]) {
                FrameRead::Bad {
                    reason: BadFrame::Truncated,
                    ..
                } => {}
                // A cut inside the header that left only zero bytes would read as the end; the
                // header here starts with a nonzero length byte, so it never does.
                other => panic!("cut at {cut}: {other:?}"),
            }
            // Zero-filled after the cut, as in a preallocated segment: still detected, and a
            // torn tail because nothing follows.
            let mut padded = bytes[..cut].to_vec();
            padded.resize(bytes.len() + 64, 0);
            match read_frame(&padded) {
                FrameRead::Bad { claimed_end, .. } => {
                    assert!(is_torn_tail(&padded, 0, claimed_end), "cut at {cut}");
                }
                other => panic!("padded cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_flipped_bit_of_a_frame_is_detected() {
        let bytes = frame(0x0102_0304_0506_0708, b"payload under test");
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(read_frame(&flipped), FrameRead::Bad { .. }),
                "bit {bit} flipped went undetected"
            );
        }
    }

    #[test]
    fn a_bad_frame_followed_by_records_is_not_a_torn_tail() {
        let mut log = frame(1, b"first");
        let second_at = log.len();
        log.extend(frame(2, b"second"));
        log.extend(frame(3, b"third"));
        log.resize(log.len() + 100, 0);
        log[second_at + 20] ^= 0x10;
        let FrameRead::Bad { claimed_end, .. } = read_frame(&log[second_at..]) else {
            panic!("the flipped frame must be bad");
        };
        assert!(!is_torn_tail(&log, second_at, claimed_end));
    }

    #[test]
    fn a_failed_or_too_long_payload_appends_nothing() {
        let mut out = frame(1, b"kept");
        let before = out.clone();
        let failed = append_frame(Seq(2), &mut out, |out| {
            out.extend_from_slice(b"half");
            Err("refused")
        });
        assert!(matches!(failed, Err(AppendFrameError::Encode("refused"))));
        assert_eq!(out, before);
        let too_long = append_frame(Seq(2), &mut out, |out| {
            out.resize(out.len() + MAX_PAYLOAD_BYTES + 1, 1);
            Ok::<(), ()>(())
        });
        assert!(matches!(
            too_long,
            Err(AppendFrameError::TooLong(length)) if length == MAX_PAYLOAD_BYTES + 1
        ));
        assert_eq!(out, before);
    }

    #[test]
    fn an_impossible_length_is_bad_not_a_huge_read() {
        let mut bytes = frame(1, b"x");
        bytes[3] = 0xff;
        assert!(matches!(
            read_frame(&bytes),
            FrameRead::Bad {
                reason: BadFrame::Length,
                ..
            }
        ));
    }
}
