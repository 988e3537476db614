//! Journal segments: preallocated files of framed records, named after their first sequence
//! number.
//!
//! # Segment file
//!
//! `NNNNNNNNNNNNNNNNNNNN.journal` (the first sequence number, 20 decimal digits, so that names
//! sort in sequence order). Little-endian:
//!
//! ```text
//! offset  size  field
//! 0       8     magic "SNAPJRNL"
//! 8       4     segment format version (1)
//! 12      4     header length H in bytes, checksum included
//! 16      8     first sequence number (equals the name's)
//! 24      2     length n of the state machine's format name
//! 26      n     the format name (UTF-8), e.g. "snapstate.book/2"
//! 26+n    4     length m of the configuration
//! 30+n    m     the state machine's configuration, as its `Durable` codec encodes it
//! H-4     4     CRC-32C of bytes 0..H-4
//! H       ...   records (see `format`), then zeros to the preallocated length
//! ```
//!
//! A segment is created at its full preallocated length (`set_len`), its header written and
//! synced, and the directory synced, before the first record goes in. A record that does not
//! fit in what is left starts a new segment, after the old one is synced, so that only the last
//! segment can ever hold unsynced (and so torn) data.

use super::format::{self, FrameRead, u32_at, u64_at};
use super::{RecoveryError, Seq, StorageFile};

/// The magic bytes that open every segment.
pub const SEGMENT_MAGIC: &[u8; 8] = b"SNAPJRNL";
/// The segment format this code writes and reads.
pub const SEGMENT_VERSION: u32 = 1;
/// The file name suffix of segments.
pub const SEGMENT_SUFFIX: &str = ".journal";
/// The longest segment header accepted (the configuration is in it).
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// The file name of the segment whose first record is `first_seq`.
pub(crate) fn segment_name(first_seq: Seq) -> String {
    super::numbered_name(first_seq, SEGMENT_SUFFIX)
}

/// The first sequence number a segment's file name declares, if it is a segment's name.
pub(crate) fn parse_segment_name(name: &str) -> Option<Seq> {
    super::parse_numbered_name(name, SEGMENT_SUFFIX)
}

/// Builds a segment header.
pub(crate) fn encode_header(first_seq: Seq, format_name: &str, config: &[u8]) -> Vec<u8> {
    let name = format_name.as_bytes();
    let total = 30 + name.len() + config.len() + 4;
    let mut header = Vec::with_capacity(total);
    header.extend_from_slice(SEGMENT_MAGIC);
    header.extend_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_le_bytes());
    header.extend_from_slice(&first_seq.0.to_le_bytes());
    header.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
    header.extend_from_slice(name);
    header.extend_from_slice(
        &u32::try_from(config.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    header.extend_from_slice(config);
    let crc = crc32c::crc32c(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header
}

/// A segment's header, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    pub(crate) first_seq: Seq,
    pub(crate) format_name: String,
    pub(crate) config: Vec<u8>,
    /// Where the records start.
    pub(crate) len: usize,
}

/// Why a segment header could not be read; the caller names the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadHeader {
    /// Every byte of the file is zero: created, never written (a crash during creation).
    Blank,
    /// Anything else.
    Invalid(&'static str),
}

/// Reads the header at the start of a segment file's bytes.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<SegmentHeader, BadHeader> {
    if format::all_zero(bytes) {
        return Err(BadHeader::Blank);
    }
    if bytes.len() < 34 || &bytes[..8] != SEGMENT_MAGIC {
        return Err(BadHeader::Invalid("not a journal segment (bad magic)"));
    }
    if u32_at(bytes, 8) != SEGMENT_VERSION {
        return Err(BadHeader::Invalid("unsupported segment format version"));
    }
    let total = u32_at(bytes, 12) as usize;
    if !(34..=MAX_HEADER_BYTES).contains(&total) || total > bytes.len() {
        return Err(BadHeader::Invalid("impossible segment header length"));
    }
    if crc32c::crc32c(&bytes[..total - 4]) != u32_at(bytes, total - 4) {
        return Err(BadHeader::Invalid("segment header checksum does not match"));
    }
    let first_seq = Seq(u64_at(bytes, 16));
    let name_len = usize::from(u16::from_le_bytes([bytes[24], bytes[25]]));
    let config_len_at = 26 + name_len;
    if config_len_at + 4 > total - 4 {
        return Err(BadHeader::Invalid("segment header fields overrun it"));
    }
    let format_name = std::str::from_utf8(&bytes[26..config_len_at])
        .map_err(|_| BadHeader::Invalid("segment format name is not UTF-8"))?
        .to_owned();
    let config_len = u32_at(bytes, config_len_at) as usize;
    let config_at = config_len_at + 4;
    if config_at + config_len != total - 4 {
        return Err(BadHeader::Invalid("segment header fields overrun it"));
    }
    Ok(SegmentHeader {
        first_seq,
        format_name,
        config: bytes[config_at..config_at + config_len].to_vec(),
        len: total,
    })
}

/// One record found by [`scan_records`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundRecord<'bytes> {
    pub(crate) seq: Seq,
    pub(crate) payload: &'bytes [u8],
    /// Where the frame starts in the segment file.
    pub(crate) offset: u64,
}

/// What scanning a segment's records found, besides the records it handed over.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScannedSegment {
    /// Whole records found.
    pub(crate) records: u64,
    /// Where the next record would go (the end of the last good record).
    pub(crate) end: u64,
    /// A torn final record: its offset and how many bytes (up to the last nonzero one) it left.
    pub(crate) torn: Option<(u64, u64)>,
}

/// Scans the records of one segment (`bytes` is the whole file, `header_len` where records
/// start), handing each whole record to `on_record` as it is found (so that replay needs no
/// list of a segment's records). A bad frame is a torn tail only in the `last` segment and
/// only if nothing is written after it; anything else is a [`RecoveryError::Corrupt`] naming
/// `file` and the offset.
///
/// # Errors
///
/// That corruption, or the first error `on_record` returns (the scan stops there).
pub(crate) fn scan_records<'bytes>(
    file: &str,
    bytes: &'bytes [u8],
    header_len: usize,
    last: bool,
    mut on_record: impl FnMut(FoundRecord<'bytes>) -> Result<(), RecoveryError>,
) -> Result<ScannedSegment, RecoveryError> {
    let mut scanned = ScannedSegment::default();
    let mut offset = header_len;
    loop {
        match format::read_frame(&bytes[offset.min(bytes.len())..]) {
            FrameRead::Frame { seq, payload, len } => {
                on_record(FoundRecord {
                    seq,
                    payload,
                    offset: offset as u64,
                })?;
                scanned.records += 1;
                offset += len;
            }
            FrameRead::End => {
                if !format::is_torn_tail(bytes, offset, 0) {
                    return Err(RecoveryError::Corrupt {
                        file: file.to_owned(),
                        offset: offset as u64,
                        reason: "data after a blank record header".to_owned(),
                    });
                }
                scanned.end = offset as u64;
                return Ok(scanned);
            }
            FrameRead::Bad {
                reason,
                claimed_end,
            } => {
                if last && format::is_torn_tail(bytes, offset, claimed_end) {
                    let written = bytes[offset..]
                        .iter()
                        .rposition(|&byte| byte != 0)
                        .map_or(0, |last_nonzero| last_nonzero + 1);
                    scanned.end = offset as u64;
                    scanned.torn = Some((offset as u64, written as u64));
                    return Ok(scanned);
                }
                return Err(RecoveryError::Corrupt {
                    file: file.to_owned(),
                    offset: offset as u64,
                    reason: reason.to_string(),
                });
            }
        }
    }
}

/// The segment the journal thread appends to.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    pub(crate) file: Box<dyn StorageFile>,
    pub(crate) name: String,
    /// Where the next record goes.
    pub(crate) offset: u64,
    /// The preallocated length.
    pub(crate) capacity: u64,
}

impl SegmentWriter {
    /// Bytes that still fit before the preallocated end.
    pub(crate) fn room(&self) -> u64 {
        self.capacity.saturating_sub(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_sequence_order_and_parse_back() {
        let names = [
            segment_name(Seq(9)),
            segment_name(Seq(10)),
            segment_name(Seq(100)),
        ];
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, names);
        assert_eq!(parse_segment_name(&names[1]), Some(Seq(10)));
        assert_eq!(parse_segment_name("10.journal"), None);
        assert_eq!(parse_segment_name("LOCK"), None);
    }

    #[test]
    fn a_header_reads_back_and_every_flipped_bit_is_detected() {
        let header = encode_header(Seq(42), "test/1", b"config");
        let decoded = decode_header(&header).expect("header");
        assert_eq!(decoded.first_seq, Seq(42));
        assert_eq!(decoded.format_name, "test/1");
        assert_eq!(decoded.config, b"config");
        assert_eq!(decoded.len, header.len());
        for bit in 0..header.len() * 8 {
            let mut flipped = header.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_header(&flipped).is_err(), "bit {bit}");
        }
        assert_eq!(decode_header(&[0; 64]), Err(BadHeader::Blank));
    }

    fn segment(records: &[(u64, &[u8])], padding: usize) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = encode_header(Seq(records[0].0), "test/1", b"");
        let mut offsets = Vec::new();
        for (seq, payload) in records {
            offsets.push(bytes.len());
            format::encode_frame(Seq(*seq), payload, &mut bytes);
        }
        bytes.resize(bytes.len() + padding, 0);
        (bytes, offsets)
    }

    #[test]
    fn a_torn_last_record_is_reported_and_mid_log_corruption_is_an_error() {
        let (bytes, offsets) = segment(&[(1, b"one"), (2, b"two"), (3, b"three")], 64);
        let header_len = offsets[0];
        let whole = scan_records("s", &bytes, header_len, true, |_| Ok(())).expect("scan");
        assert_eq!(whole.records, 3);
        assert_eq!(whole.torn, None);

        // Tear the last record: keep 5 of its bytes, zero the rest.
        let mut torn = bytes.clone();
        for byte in &mut torn[offsets[2] + 5..] {
            *byte = 0;
        }
        let scanned = scan_records("s", &torn, header_len, true, |_| Ok(())).expect("torn tail");
        assert_eq!(scanned.records, 2);
        assert_eq!(scanned.torn, Some((offsets[2] as u64, 5)));
        assert_eq!(scanned.end, offsets[2] as u64);
        let error = scan_records("s", &torn, header_len, false, |_| Ok(())).expect_err("not last");
        assert!(error.is_corrupt());

        // Flip a bit in the middle record: corruption, at its offset.
        let mut flipped = bytes.clone();
        flipped[offsets[1] + 17] ^= 4;
        match scan_records("s", &flipped, header_len, true, |_| Ok(())) {
            Err(RecoveryError::Corrupt { file, offset, .. }) => {
                assert_eq!(file, "s");
                assert_eq!(offset, offsets[1] as u64);
            }
            other => panic!("{other:?}"),
        }
    }
}
