//! The metrics endpoint of `simulate --metrics-addr`: a small, bounded HTTP/1.1 server that
//! answers `GET /metrics` with the Prometheus text format, and nothing else.
//!
//! The Prometheus exporter's own listener answers every path and method with the metrics, keeps
//! a slow client's connection for ever and has no connection limit. This one is written
//! against the standard library only, one thread per connection, each bounded:
//!
//! * `GET /metrics` (a query string is ignored): `200` with the text format. Any other path:
//!   `404`. Any other method: `405` with `Allow: GET`. A request line that is not HTTP: `400`.
//! * A header line may end in CRLF or in a bare LF (RFC 9112 section 2.2).
//! * The request's header must arrive whole within [`EndpointLimits::header_timeout`]
//!   (`408` otherwise, however slowly it trickles in) and within
//!   [`EndpointLimits::max_header_bytes`] (`431` otherwise). A request body is never read.
//! * At most [`EndpointLimits::max_connections`] connections are served at once; one more is
//!   answered `503` and closed at once.
//! * One request per connection (`Connection: close`), and the answer must be written within
//!   [`EndpointLimits::write_timeout`]. What the client still sends after its header is read
//!   and discarded before closing, at most 64 KiB within half a second, so that it receives
//!   the answer rather than a reset.
//!
//! Binding to an address that is not loopback makes the metrics readable from the network;
//! [`bind`] says so on stderr.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The path served.
pub const METRICS_PATH: &str = "/metrics";

/// The bounds on what a client can make the endpoint hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointLimits {
    /// Connections served at once; more are answered `503`.
    pub max_connections: usize,
    /// The time a client has to send its whole request header, from its connection.
    pub header_timeout: Duration,
    /// The largest request header read; a longer one is answered `431`.
    pub max_header_bytes: usize,
    /// The time an answer may take to write.
    pub write_timeout: Duration,
}

impl EndpointLimits {
    /// Default [`max_connections`](Self::max_connections): a scraper or two, and a person.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 16;
    /// Default [`header_timeout`](Self::header_timeout).
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default [`max_header_bytes`](Self::max_header_bytes).
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024;
    /// Default [`write_timeout`](Self::write_timeout).
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
}

impl Default for EndpointLimits {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            write_timeout: Self::DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// What renders the metrics' text for each `GET /metrics`.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Binds `address` and serves on a thread of its own until the process exits; warns on
/// `warnings` when the address is not loopback. Returns the address bound (the port chosen,
/// for port 0).
///
/// # Errors
///
/// The listener's error when the address cannot be bound, or the thread's when it cannot start.
pub fn bind(
    address: SocketAddr,
    render: Render,
    limits: EndpointLimits,
    warnings: &mut dyn Write,
) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(address)?;
    let bound = listener.local_addr()?;
    if let Some(warning) = beyond_loopback_warning(bound) {
        // A warning that cannot be written does not stop the endpoint.
        let _ = writeln!(warnings, "{warning}");
    }
    thread::Builder::new()
        .name("snapstate-metrics".to_owned())
        .spawn(move || serve(&listener, &render, &limits))?;
    Ok(bound)
}

/// The warning for an endpoint reachable from other machines, if `address` is one.
pub fn beyond_loopback_warning(address: SocketAddr) -> Option<String> {
    (!address.ip().is_loopback()).then(|| {
        format!(
            "warning: the metrics endpoint on {address} is reachable beyond this machine \
             (bind 127.0.0.1 to keep it local)"
        )
    })
}

/// Accepts connections for ever, each on a thread of its own within the limit.
fn serve(listener: &TcpListener, render: &Render, limits: &EndpointLimits) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        // A failed accept (a connection reset before it was accepted, descriptors exhausted)
        // concerns that connection only.
        let Ok(mut stream) = stream else { continue };
        if active.load(Ordering::Acquire) >= limits.max_connections {
            // Answered from the accepting thread, so never drained: a refused client must not
            // hold the door. A short write fits the socket's buffer.
            let _ = stream.set_write_timeout(Some(REFUSAL_WRITE_TIMEOUT));
            let _ = write_response(
                &mut stream,
                503,
                "Service Unavailable",
                &[],
                "too many connections\n",
            )
            .and_then(|()| stream.shutdown(Shutdown::Write));
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(Arc::clone(&active));
        let render = Arc::clone(render);
        let limits = limits.clone();
        let spawned = thread::Builder::new()
            .name("snapstate-metrics-connection".to_owned())
            .spawn(move || {
                let _slot = slot;
                let _ = handle(&mut stream, &render, &limits);
            });
        // A thread that cannot start drops its closure, and with it the slot and stream.
        drop(spawned);
    }
}

/// A connection's place under the limit, given back when the connection ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a request header could not be read.
enum HeaderError {
    TimedOut,
    TooLarge,
    Io(io::Error),
}

/// Reads one request and answers it.
fn handle(stream: &mut TcpStream, render: &Render, limits: &EndpointLimits) -> io::Result<()> {
    stream.set_write_timeout(Some(limits.write_timeout))?;
    let header = match read_header(stream, limits) {
        Ok(header) => header,
        Err(HeaderError::TimedOut) => {
            return respond(
                stream,
                408,
                "Request Timeout",
                &[],
                "request header timed out\n",
            );
        }
        Err(HeaderError::TooLarge) => {
            return respond(
                stream,
                431,
                "Request Header Fields Too Large",
                &[],
                "request header too large\n",
            );
        }
        Err(HeaderError::Io(error)) => return Err(error),
    };
    // `lines` ends a line at a LF and drops the CR before it, as `header_end` reads them.
    let request_line = header.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return respond(stream, 400, "Bad Request", &[], "bad request line\n");
    };
    if !version.starts_with("HTTP/1.") {
        return respond(stream, 400, "Bad Request", &[], "HTTP/1.x only\n");
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if path != METRICS_PATH {
        return respond(stream, 404, "Not Found", &[], "only /metrics is served\n");
    }
    if method != "GET" {
        return respond(
            stream,
            405,
            "Method Not Allowed",
            &[("Allow", "GET")],
            "only GET is allowed\n",
        );
    }
    respond(
        stream,
        200,
        "OK",
        &[("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
        &render(),
    )
}

/// Reads up to the end of the request header, within the limits.
fn read_header(stream: &mut TcpStream, limits: &EndpointLimits) -> Result<String, HeaderError> {
    let deadline = Instant::now() + limits.header_timeout;
    let mut header = Vec::with_capacity(512);
    let mut buffer = [0_u8; 1024];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(HeaderError::TimedOut);
        }
        stream
            .set_read_timeout(Some(remaining))
            .map_err(HeaderError::Io)?;
        let read = match stream.read(&mut buffer) {
            Ok(0) => {
                return Err(HeaderError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(read) => read,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeaderError::TimedOut);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(HeaderError::Io(error)),
        };
        header.extend_from_slice(&buffer[..read]);
        if let Some(end) = header_end(&header) {
            // The end may arrive in the read that crossed the limit: the header is measured
            // whole, however it was split.
            if end > limits.max_header_bytes {
                return Err(HeaderError::TooLarge);
            }
            header.truncate(end);
            return Ok(String::from_utf8_lossy(&header).into_owned());
        }
        if header.len() > limits.max_header_bytes {
            return Err(HeaderError::TooLarge);
        }
    }
}

/// Where the header in `received` ends (the length of its lines without the empty line that
/// ends it), once that empty line has arrived.
///
/// A line ends in CRLF or in a bare LF: RFC 9112 section 2.2 lets a recipient read a bare LF
/// as a line terminator (and ignore the CR before it), and clients that write a bare LF would
/// otherwise wait out [`EndpointLimits::header_timeout`] for a CRLF CRLF that never comes.
fn header_end(received: &[u8]) -> Option<usize> {
    received
        .iter()
        .enumerate()
        .find_map(|(index, &byte)| {
            let rest = &received[index + 1..];
            (byte == b'\n' && (rest.starts_with(b"\n") || rest.starts_with(b"\r\n")))
                .then_some(index)
        })
        .map(|last_line_end| match last_line_end.checked_sub(1) {
            Some(before) if received[before] == b'\r' => before,
            _ => last_line_end,
        })
}

/// Writes an answer and closes gently (see [`close_gently`]).
fn respond(
    stream: &mut TcpStream,
    code: u16,
    reason: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<()> {
    write_response(stream, code, reason, headers, body)?;
    close_gently(stream)
}

fn write_response(
    stream: &mut TcpStream,
    code: u16,
    reason: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<()> {
    let mut response = format!("HTTP/1.1 {code} {reason}\r\n");
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers.iter().any(|(name, _)| *name == "Content-Type") {
        response.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    }
    response.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(response.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

/// The longest the accepting thread spends writing a `503`.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_millis(100);

/// The most unread request bytes discarded before closing, so that the answer is not lost to a
/// reset: closing a socket with unread input makes the kernel send RST, and the client may then
/// drop the answer it has not read yet.
const MAX_DRAIN_BYTES: usize = 64 * 1024;
/// The longest wait for the client to finish sending while draining.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

/// Ends the answer, then reads and discards what the client still sends, bounded in bytes and
/// time.
fn close_gently(stream: &mut TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(DRAIN_TIMEOUT))?;
    let mut buffer = [0_u8; 4096];
    let mut drained = 0;
    while drained < MAX_DRAIN_BYTES {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => drained += read,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts an endpoint on a free loopback port that renders `text`.
    fn endpoint(limits: EndpointLimits) -> SocketAddr {
        let render: Render = Arc::new(|| "snapstate_test_total 7\n".to_owned());
        let mut warnings = Vec::new();
        let address = bind(
            "127.0.0.1:0".parse().expect("an address"),
            render,
            limits,
            &mut warnings,
        )
        .expect("binds");
        assert!(warnings.is_empty(), "loopback binds without a warning");
        address
    }

    /// Limits small enough that a test waits a fraction of a second at most.
    fn test_limits() -> EndpointLimits {
        EndpointLimits {
            max_connections: 4,
            header_timeout: Duration::from_millis(300),
            max_header_bytes: 1024,
            write_timeout: Duration::from_secs(5),
        }
    }

    fn connect(address: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(address).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        stream
    }

    /// Sends `request` and reads the whole answer (the server closes after it).
    fn exchange(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = connect(address);
        stream.write_all(request).expect("sends");
        read_answer(&mut stream)
    }

    fn read_answer(stream: &mut TcpStream) -> String {
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("an answer");
        answer
    }

    #[test]
    fn get_metrics_is_answered_with_the_rendered_text() {
        let address = endpoint(test_limits());
        let answer = exchange(address, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains("Content-Type: text/plain; version=0.0.4"),
            "{answer}"
        );
        assert!(
            answer.ends_with("\r\n\r\nsnapstate_test_total 7\n"),
            "{answer}"
        );
        let with_query = exchange(address, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
        assert!(
            with_query.starts_with("HTTP/1.1 200 OK\r\n"),
            "{with_query}"
        );
    }

    /// A request whose lines end in a bare LF used to wait out the header timeout and be
    /// answered 408: only CRLF CRLF ended a header. RFC 9112 section 2.2 lets a recipient read
    /// a bare LF as a line terminator, and this endpoint does, alone or mixed with CRLF.
    #[test]
    fn a_request_whose_lines_end_in_a_bare_lf_is_answered() {
        let address = endpoint(EndpointLimits {
            // Long enough that an answer after the timeout could not pass for one before it.
            header_timeout: Duration::from_secs(10),
            ..test_limits()
        });
        for (request, status) in [
            (&b"GET /metrics HTTP/1.1\n\n"[..], "200 OK"),
            (b"GET /metrics HTTP/1.1\nHost: localhost\n\n", "200 OK"),
            (b"GET /metrics HTTP/1.1\r\nHost: localhost\n\r\n", "200 OK"),
            (b"GET /metrics HTTP/1.1\nHost: localhost\r\n\n", "200 OK"),
            (b"GET /nope HTTP/1.1\n\n", "404 Not Found"),
            (b"hello\n\n", "400 Bad Request"),
        ] {
            let answer = exchange(address, request);
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{:?}: {answer}",
                String::from_utf8_lossy(request)
            );
        }
    }

    #[test]
    fn a_header_ends_at_its_first_empty_line_with_crlf_or_bare_lf_terminators() {
        for (received, end) in [
            (&b"GET / HTTP/1.1\r\nA: b\r\n\r\n"[..], Some(20)),
            (b"GET / HTTP/1.1\nA: b\n\n", Some(19)),
            (b"GET / HTTP/1.1\r\nA: b\n\r\n", Some(20)),
            (b"GET / HTTP/1.1\nA: b\r\n\n", Some(19)),
            (b"GET / HTTP/1.1\n\nbody\n\n", Some(14)),
            (b"\n\n", Some(0)),
            (b"\r\n\r\n", Some(0)),
            (b"GET / HTTP/1.1\r\nA: b\r\n", None),
            (b"GET / HTTP/1.1\r\nA: b\r\n\r", None),
            (b"GET / HTTP/1.1\nA: b\n", None),
            (b"GET / HTTP/1.1\r\r", None),
            (b"", None),
        ] {
            assert_eq!(
                header_end(received),
                end,
                "{:?}",
                String::from_utf8_lossy(received)
            );
        }
    }

    /// Issue 10, defect 9: every path and method was answered with the metrics.
    #[test]
    fn other_paths_and_methods_are_refused() {
        let address = endpoint(test_limits());
        for (request, status) in [
            (&b"GET /nope HTTP/1.1\r\n\r\n"[..], "404 Not Found"),
            (b"GET / HTTP/1.1\r\n\r\n", "404 Not Found"),
            (
                b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                "405 Method Not Allowed",
            ),
            (
                b"DELETE /metrics HTTP/1.1\r\n\r\n",
                "405 Method Not Allowed",
            ),
            (b"hello\r\n\r\n", "400 Bad Request"),
            (b"GET /metrics SPDY/3\r\n\r\n", "400 Bad Request"),
        ] {
            let answer = exchange(address, request);
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{}: {answer}",
                String::from_utf8_lossy(request)
            );
            assert!(!answer.contains("snapstate_test_total"), "{answer}");
        }
    }

    /// Issue 10, defect 9: a half-sent request held its connection for ever.
    #[test]
    fn a_request_header_that_never_ends_times_out() {
        let address = endpoint(test_limits());
        let mut stream = connect(address);
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\n")
            .expect("sends");
        let answer = read_answer(&mut stream);
        assert!(
            answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{answer}"
        );
    }

    #[test]
    fn an_oversized_request_header_is_refused() {
        let address = endpoint(test_limits());
        let mut request = b"GET /metrics HTTP/1.1\r\nX-Padding: ".to_vec();
        request.extend(std::iter::repeat_n(b'x', 4096));
        let answer = exchange(address, &request);
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{answer}"
        );
    }

    /// A complete header over the limit used to be answered whenever its end arrived in the
    /// read that crossed the limit (the end was looked for before the size was checked), so
    /// the limit was in effect up to one read buffer (1 KiB) larger than configured.
    #[test]
    fn a_complete_header_over_the_limit_is_refused_however_it_arrives() {
        let address = endpoint(test_limits());
        // Ended with CRLF or with bare LFs, which end a header too.
        for end in [&b"\r\n\r\n"[..], b"\n\n"] {
            let mut request = b"GET /metrics HTTP/1.1\r\nX-Padding: ".to_vec();
            // Past the 1,024-byte limit by less than one read buffer, ended in the same send.
            request.extend(std::iter::repeat_n(b'x', 1_200));
            request.extend_from_slice(end);
            let answer = exchange(address, &request);
            assert!(
                answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
                "{answer}"
            );
        }
    }

    /// Issue 10, defect 9: 2,000 half-sent requests held 2,000 descriptors.
    #[test]
    fn connections_beyond_the_limit_are_answered_503() {
        let limits = EndpointLimits {
            max_connections: 2,
            header_timeout: Duration::from_secs(10),
            ..test_limits()
        };
        let address = endpoint(limits);
        // Two idle connections take both places. The kernel queues connections in the order
        // they were made and the listener counts each before it accepts the next, so the
        // third is refused.
        let idle: Vec<TcpStream> = (0..2).map(|_| connect(address)).collect();
        // The refusal is written at once, without reading: a request sent before it could be
        // left unread and turn the close into a reset that loses the answer.
        let answer = read_answer(&mut connect(address));
        assert!(
            answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{answer}"
        );
        drop(idle);
    }

    #[test]
    fn binding_beyond_loopback_warns() {
        let everywhere = beyond_loopback_warning("0.0.0.0:9000".parse().expect("an address"));
        assert_eq!(
            everywhere.as_deref(),
            Some(
                "warning: the metrics endpoint on 0.0.0.0:9000 is reachable beyond this \
                 machine (bind 127.0.0.1 to keep it local)"
            )
        );
        assert!(beyond_loopback_warning("[::]:9000".parse().expect("an address")).is_some());
        assert_eq!(
            beyond_loopback_warning("127.0.0.1:9000".parse().expect("an address")),
            None
        );
        assert_eq!(
            beyond_loopback_warning("[::1]:9000".parse().expect("an address")),
            None
        );
    }
}
