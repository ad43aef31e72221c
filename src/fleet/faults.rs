//! `serve --faults FAULTS.json`: miners that misbehave on purpose.
//!
//! In: a JSON object mapping uids to fault names (`{"3": "slow_drip", "7": "redirect:2"}`; a fault
//! that points at another miner names its uid after a colon). Out: for each faulty uid, an answer
//! written by hand on the raw socket instead of by the HTTP server, so the fleet can break HTTP
//! itself (lying lengths, garbage, a 1 MB header block, a reset mid-body).
//!
//! The faults that alter a body start from that uid's recorded body, so give them a CORRECT row.
//! Nothing here is fast or clever; it is what a hostile miner can do cheaply.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One way a miner misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 200 and the headers, then one body byte every 100 ms, forever.
    SlowDrip,
    /// 200 and the headers, then nothing.
    Stall,
    /// Half the body, then a TCP reset.
    ResetMidBody,
    /// A chunked body ten times the client's cap (the recorded body, repeated).
    Oversize,
    /// `Content-Encoding: gzip`, a small body that inflates to 256 MiB of zeros.
    GzipBomb,
    /// `Content-Encoding: deflate` (zlib), the same bomb.
    DeflateBomb,
    /// Chunked encoding whose first chunk announces 16 bytes and carries the whole body.
    LyingChunked,
    /// `Content-Length` 4096 bytes larger than the body, then the connection closes.
    LengthOver,
    /// `Content-Length` half the body's length; the whole body is sent.
    LengthUnder,
    /// A 0xFF byte inside the body's first string: not UTF-8.
    InvalidUtf8,
    /// The first three prices of the first path become `NaN`, `Infinity`, `-Infinity`.
    NanPrices,
    /// `simulation_output` becomes 100 000 nested arrays.
    DeepNesting,
    /// 100 000 extra members ahead of the real ones, and `simulation_output` null (a full reply
    /// with 1.1 MB of keys on top would only meet the body cap).
    ManyKeys,
    /// A 1 MiB header block before the body.
    HugeHeaders,
    /// Bytes that are not HTTP at all, then close.
    Garbage,
    /// `102 Processing`, then nothing.
    Informational,
    /// `307` to another miner's port (a client must not follow it).
    Redirect(u16),
    /// A valid body for another simulation input: the start time one hour later.
    OtherInput,
    /// Another miner's recorded body, byte for byte.
    DuplicateBody(u16),
}

impl Fault {
    /// Every fault, with a placeholder uid for the ones that point at another miner.
    pub const ALL: [Fault; 19] = [
        Fault::SlowDrip,
        Fault::Stall,
        Fault::ResetMidBody,
        Fault::Oversize,
        Fault::GzipBomb,
        Fault::DeflateBomb,
        Fault::LyingChunked,
        Fault::LengthOver,
        Fault::LengthUnder,
        Fault::InvalidUtf8,
        Fault::NanPrices,
        Fault::DeepNesting,
        Fault::ManyKeys,
        Fault::HugeHeaders,
        Fault::Garbage,
        Fault::Informational,
        Fault::Redirect(0),
        Fault::OtherInput,
        Fault::DuplicateBody(0),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::SlowDrip => "slow_drip",
            Fault::Stall => "stall",
            Fault::ResetMidBody => "reset_mid_body",
            Fault::Oversize => "oversize",
            Fault::GzipBomb => "gzip_bomb",
            Fault::DeflateBomb => "deflate_bomb",
            Fault::LyingChunked => "lying_chunked",
            Fault::LengthOver => "length_over",
            Fault::LengthUnder => "length_under",
            Fault::InvalidUtf8 => "invalid_utf8",
            Fault::NanPrices => "nan_prices",
            Fault::DeepNesting => "deep_nesting",
            Fault::ManyKeys => "many_keys",
            Fault::HugeHeaders => "huge_headers",
            Fault::Garbage => "garbage",
            Fault::Informational => "informational",
            Fault::Redirect(_) => "redirect",
            Fault::OtherInput => "other_input",
            Fault::DuplicateBody(_) => "duplicate_body",
        }
    }

    /// The other miner this fault points at.
    pub fn other_uid(self) -> Option<u16> {
        match self {
            Fault::Redirect(u) | Fault::DuplicateBody(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.other_uid() {
            Some(u) => write!(f, "{}:{u}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let uid = |a: Option<&str>| -> Result<u16, String> {
            a.ok_or_else(|| format!("fault {name:?} needs a uid: \"{name}:UID\""))?
                .parse()
                .map_err(|_| format!("fault {s:?}: not a uid after the colon"))
        };
        let fault = match name {
            "redirect" => Fault::Redirect(uid(arg)?),
            "duplicate_body" => Fault::DuplicateBody(uid(arg)?),
            _ => {
                let f =
                    Fault::ALL.into_iter().find(|f| f.other_uid().is_none() && f.name() == name).ok_or_else(|| {
                        let names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
                        format!("unknown fault {name:?} (known: {})", names.join(", "))
                    })?;
                if arg.is_some() {
                    return Err(format!("fault {name:?} takes no argument"));
                }
                f
            }
        };
        Ok(fault)
    }
}

/// uid → fault, as read from `--faults`.
pub type FaultMap = BTreeMap<u16, Fault>;

/// Parses a `--faults` file's text.
pub fn parse_faults(json: &str) -> Result<FaultMap, String> {
    let raw: BTreeMap<String, String> =
        serde_json::from_str(json).map_err(|e| format!("expected {{\"uid\": \"fault\", …}}: {e}"))?;
    raw.into_iter()
        .map(|(uid, fault)| {
            let uid: u16 = uid.parse().map_err(|_| format!("{uid:?} is not a uid"))?;
            Ok((uid, fault.parse()?))
        })
        .collect()
}

/// What a faulty miner sends, prepared once when the fleet starts.
pub(super) struct FaultyAnswer {
    pub fault: Fault,
    /// The bytes the fault starts from (a body, a bomb, a whole raw response).
    pub payload: Bytes,
    /// Where a redirect points.
    pub location: String,
    /// The client's body cap for this cycle.
    pub cap: usize,
}

/// Builds the payload of `fault` for a miner whose recorded body is `own`; `other` is the
/// recorded body of the miner the fault points at (if any).
pub(super) fn prepare(fault: Fault, own: &[u8], other: Option<&[u8]>, location: String, cap: usize) -> FaultyAnswer {
    let payload: Vec<u8> = match fault {
        Fault::GzipBomb => bomb(true),
        Fault::DeflateBomb => bomb(false),
        Fault::InvalidUtf8 => {
            let mut b = own.to_vec();
            // Inside the first string value, so the text is still JSON-shaped around the bad byte.
            let at = b.iter().position(|&c| c == b'"').map_or(0, |i| i + 1);
            b.insert(at, 0xFF);
            b
        }
        Fault::NanPrices => {
            let mut b = own.to_vec();
            if let Some(first) = first_path(&b) {
                let mut end = first;
                let mut out = Vec::new();
                for token in ["NaN", "Infinity", "-Infinity"] {
                    let stop = b[end..].iter().position(|&c| c == b',' || c == b']').map_or(b.len(), |i| end + i);
                    out.push((end, stop, token));
                    end = (stop + 1).min(b.len());
                }
                for (s, e, token) in out.into_iter().rev() {
                    b.splice(s..e, token.bytes());
                }
            }
            b
        }
        Fault::DeepNesting => replace_output(own, |out| {
            out.extend(std::iter::repeat_n(b'[', 100_000));
            out.extend(std::iter::repeat_n(b']', 100_000));
        }),
        Fault::ManyKeys => {
            let own = replace_output(own, |out| out.extend_from_slice(b"null"));
            let mut b = Vec::with_capacity(own.len() + 1_200_000);
            b.push(b'{');
            for i in 0..100_000 {
                write!(b, "\"k{i}\":0,").expect("writing to a Vec");
            }
            b.extend_from_slice(own.strip_prefix(b"{").unwrap_or(&own));
            b
        }
        Fault::OtherInput => other_input(own),
        Fault::DuplicateBody(_) => other.unwrap_or_default().to_vec(),
        _ => own.to_vec(),
    };
    FaultyAnswer { fault, payload: Bytes::from(payload), location, cap }
}

/// Where the first path's first price starts: just after `"simulation_output":[start,inc,[`.
fn first_path(body: &[u8]) -> Option<usize> {
    let key = b"\"simulation_output\":[";
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    Some(at + body[at..].iter().position(|&c| c == b'[')? + 1)
}

/// The body with `simulation_output`'s value replaced by what `write` puts there.
fn replace_output(own: &[u8], write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let key = b"\"simulation_output\":";
    let Some(at) = own.windows(key.len()).position(|w| w == key).map(|i| i + key.len()) else {
        return own.to_vec();
    };
    let end = own.iter().rposition(|&c| c == b'}').unwrap_or(own.len());
    let mut b = own[..at].to_vec();
    write(&mut b);
    b.extend_from_slice(&own[end..]);
    b
}

/// The same answer a correct miner would give for a request one hour later: `simulation_input`'s
/// start time and `simulation_output[0]` both moved by 3600 s.
fn other_input(own: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(own) else { return own.to_vec() };
    let key = "\"simulation_output\":[";
    let Some(at) = text.find(key).map(|i| i + key.len()) else { return own.to_vec() };
    let Some(len) = text[at..].find(',') else { return own.to_vec() };
    let Ok(start) = text[at..at + len].parse::<i64>() else { return own.to_vec() };
    let later = start + 3600;
    let mut out = format!("{}{later}{}", &text[..at], &text[at + len..]);
    let iso = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
    if let (Some(old), Some(new)) = (iso(start), iso(later)) {
        out = out.replacen(&format!("\"start_time\":\"{old}\""), &format!("\"start_time\":\"{new}\""), 1);
    }
    out.into_bytes()
}

/// 256 MiB of zeros, compressed (≈ 250 KB): harmless unless someone inflates it.
fn bomb(gzip: bool) -> Vec<u8> {
    use flate2::Compression;
    let zeros = vec![0u8; 1 << 20];
    let level = Compression::best();
    if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
        for _ in 0..256 {
            e.write_all(&zeros).expect("writing to a Vec");
        }
        e.finish().expect("writing to a Vec")
    } else {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
        for _ in 0..256 {
            e.write_all(&zeros).expect("writing to a Vec");
        }
        e.finish().expect("writing to a Vec")
    }
}

const JSON_200: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";

/// Answers one connection as `answer.fault` says. Returns when the fault is done (or forever
/// pending, for the ones that hang: the fleet's shutdown aborts them).
pub(super) async fn serve(mut stream: TcpStream, answer: &FaultyAnswer) -> std::io::Result<()> {
    read_request(&mut stream).await?;
    let body = &answer.payload[..];
    match answer.fault {
        Fault::SlowDrip => {
            head(&mut stream, &format!("{JSON_200}content-length: {}\r\n\r\n", body.len())).await?;
            for b in body.iter().cycle() {
                stream.write_all(&[*b]).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Fault::Stall => {
            head(&mut stream, &format!("{JSON_200}content-length: {}\r\n\r\n", body.len())).await?;
            std::future::pending::<()>().await;
        }
        Fault::ResetMidBody => {
            head(&mut stream, &format!("{JSON_200}content-length: {}\r\n\r\n", body.len())).await?;
            stream.write_all(&body[..body.len() / 2]).await?;
            stream.flush().await?;
            // Linger 0: closing sends RST instead of FIN.
            socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
            return Ok(());
        }
        Fault::Oversize => {
            head(&mut stream, &format!("{JSON_200}transfer-encoding: chunked\r\n\r\n")).await?;
            // A row without a recorded body still floods: spaces, 64 KiB a chunk.
            let filler = [b' '; 1 << 16];
            let body = if body.is_empty() { &filler[..] } else { body };
            let mut sent = 0;
            while sent < answer.cap * 10 {
                let chunk = &body[..body.len().min(answer.cap * 10 - sent).max(1)];
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                stream.write_all(chunk).await?;
                stream.write_all(b"\r\n").await?;
                sent += chunk.len();
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
        Fault::GzipBomb | Fault::DeflateBomb => {
            let enc = if answer.fault == Fault::GzipBomb { "gzip" } else { "deflate" };
            head(&mut stream, &format!("{JSON_200}content-encoding: {enc}\r\ncontent-length: {}\r\n\r\n", body.len()))
                .await?;
            stream.write_all(body).await?;
        }
        Fault::LyingChunked => {
            head(&mut stream, &format!("{JSON_200}transfer-encoding: chunked\r\n\r\n10\r\n")).await?;
            stream.write_all(body).await?;
            stream.write_all(b"\r\n0\r\n\r\n").await?;
        }
        Fault::LengthOver => {
            head(&mut stream, &format!("{JSON_200}content-length: {}\r\n\r\n", body.len() + 4096)).await?;
            stream.write_all(body).await?;
            stream.shutdown().await?;
        }
        Fault::LengthUnder => {
            head(&mut stream, &format!("{JSON_200}content-length: {}\r\n\r\n", body.len() / 2)).await?;
            stream.write_all(body).await?;
        }
        Fault::HugeHeaders => {
            let mut h = String::from(JSON_200);
            let mut i = 0;
            while h.len() < 1 << 20 {
                h.push_str(&format!("x-pad-{i}: {}\r\n", "p".repeat(1000)));
                i += 1;
            }
            h.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            head(&mut stream, &h).await?;
            stream.write_all(body).await?;
        }
        Fault::Garbage => {
            stream.write_all(b"\x16\x03\x01\x02\x00SSH-2.0-not-http \xff\xfe\r\n\r\n").await?;
            stream.shutdown().await?;
        }
        Fault::Informational => {
            head(&mut stream, "HTTP/1.1 102 Processing\r\n\r\n").await?;
            std::future::pending::<()>().await;
        }
        Fault::Redirect(_) => {
            head(
                &mut stream,
                &format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nlocation: {}\r\ncontent-length: 0\r\n\r\n",
                    answer.location
                ),
            )
            .await?;
        }
        Fault::InvalidUtf8
        | Fault::NanPrices
        | Fault::DeepNesting
        | Fault::ManyKeys
        | Fault::OtherInput
        | Fault::DuplicateBody(_) => {
            head(&mut stream, &format!("{JSON_200}content-length: {}\r\n\r\n", body.len())).await?;
            stream.write_all(body).await?;
        }
    }
    // Keep the connection open until the client is done with it (a close right away could cut
    // what is still in flight).
    let mut sink = [0u8; 1024];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

async fn head(stream: &mut TcpStream, text: &str) -> std::io::Result<()> {
    stream.write_all(text.as_bytes()).await
}

/// Reads one request (head and `Content-Length` body), bounded: a fake miner trusts no one either.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<()> {
    const LIMIT: usize = 1 << 20;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > LIMIT {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
        .min(LIMIT);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Fault::ALL {
            let s = f.to_string();
            assert_eq!(s.parse::<Fault>().unwrap(), f, "{s}");
        }
        assert!("redirect".parse::<Fault>().unwrap_err().contains("needs a uid"));
        assert!("stall:3".parse::<Fault>().unwrap_err().contains("no argument"));
        assert!("nope".parse::<Fault>().unwrap_err().contains("unknown fault"));
    }

    #[test]
    fn fault_files_parse() {
        let m = parse_faults(r#"{"3": "slow_drip", "7": "redirect:2"}"#).unwrap();
        assert_eq!(m[&3], Fault::SlowDrip);
        assert_eq!(m[&7], Fault::Redirect(2));
        assert!(parse_faults(r#"{"x": "stall"}"#).unwrap_err().contains("not a uid"));
        assert!(parse_faults(r#"["stall"]"#).is_err());
    }

    #[test]
    fn body_faults_edit_the_recorded_body() {
        let own = br#"{"simulation_input":{"start_time":"2026-11-24T12:01:00+00:00"},"simulation_output":[1795521660,60,[100.5,101.25,99.0,98.0],[1.0,2.0,3.0,4.0]]}"#;
        let nan = prepare(Fault::NanPrices, own, None, String::new(), 0).payload;
        assert!(std::str::from_utf8(&nan).unwrap().contains("[1795521660,60,[NaN,Infinity,-Infinity,98.0]"));
        let later = prepare(Fault::OtherInput, own, None, String::new(), 0).payload;
        let later = std::str::from_utf8(&later).unwrap();
        assert!(later.contains(r#""start_time":"2026-11-24T13:01:00+00:00""#), "{later}");
        assert!(later.contains("[1795525260,60,[100.5"), "{later}");
        let deep = prepare(Fault::DeepNesting, own, None, String::new(), 0).payload;
        let prefix = br#"{"simulation_input":{"start_time":"2026-11-24T12:01:00+00:00"},"simulation_output":"#;
        assert!(deep.starts_with(prefix) && deep.ends_with(b"]]]}"));
        assert_eq!(deep.len(), prefix.len() + 200_000 + 1);
        let bad = prepare(Fault::InvalidUtf8, own, None, String::new(), 0).payload;
        assert!(std::str::from_utf8(&bad).is_err());
    }
}
