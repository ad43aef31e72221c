//! The shared conformance corpus, case by case.
//!
//! In: `../shared/conformance/cases.jsonl` and `cases-large.jsonl.gz` (format in that folder's
//! README). Out: one failure listing every case where (a) the exact decoder alone, or (b) the
//! dispatcher (fast path, then exact), does not produce the expected verdict string, or (c) a
//! CORRECT case's slot differs, bit for bit, from an independent reading of the body's prices.
//!
//! A missing corpus is an error, never a skip. A request whose ints do not fit
//! [`SimulationInput`] (i64 fields) cannot be run and is reported as a failure with its name.

mod common;

use common::corpus::all_cases;
use sha2::{Digest, Sha256};
use synth_forward::decode::{self, Verdict};
use synth_forward::request::{Expected, Rules, SimulationInput};
use synth_forward::upstream;

#[test]
fn every_v2_case_matches_the_python_validator() {
    check_corpus(Rules::V2, 471);
}

#[test]
fn every_v3_case_matches_todays_python_validator() {
    check_corpus(Rules::V3, 607);
}

/// Every case of one rule set's corpus, through the exact path, the dispatcher and the fast path.
fn check_corpus(rules: Rules, at_least: usize) {
    let cases = all_cases(rules);
    assert!(cases.len() >= at_least, "{rules} corpus unexpectedly small: {} cases", cases.len());
    let mut failures = Vec::new();
    let mut correct = 0;
    let mut fast_decided = 0;
    let mut blobs = 0;
    for case in &cases {
        let input: SimulationInput = match serde_json::from_value(case.input.clone()) {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{}: request does not fit SimulationInput ({e}): {}", case.name, case.input));
                continue;
            }
        };
        let exp = Expected::from_input(&input, rules);
        assert_eq!(case.stored, case.expected == "CORRECT", "{}: corpus `stored` disagrees", case.name);
        let short = |s: &str| {
            if s.len() > 200 { format!("{}…({} chars)", &s[..200], s.len()) } else { s.to_owned() }
        };

        // (a) the exact decoder alone.
        let mut slot = vec![f64::from_bits(SENTINEL); exp.slot_len()];
        let exact = decode::exact::decode(&exp, case.status, &case.body, &mut slot);
        if exact.as_str() != case.expected {
            failures.push(format!(
                "{}: exact gave {:?}, expected {:?}",
                case.name,
                short(exact.as_str()),
                short(&case.expected)
            ));
        }
        // (b) the dispatcher.
        let mut slot_b = vec![0.0; exp.slot_len()];
        let dispatched = decode::decode_body(&exp, case.status, &case.body, &mut slot_b);
        if dispatched.as_str() != case.expected {
            failures.push(format!(
                "{}: decode_body gave {:?}, expected {:?}",
                case.name,
                short(dispatched.as_str()),
                short(&case.expected)
            ));
        }
        // (b') the fast path alone: when it decides, it must agree, and write the same prices.
        let mut slot_f = vec![0.0; exp.slot_len()];
        if case.status == 200 {
            if let Some(v) = decode::fast::decode(&exp, &case.body, &mut slot_f) {
                fast_decided += 1;
                if v.as_str() != case.expected {
                    failures.push(format!(
                        "{}: fast path gave {:?}, expected {:?}",
                        case.name,
                        short(v.as_str()),
                        short(&case.expected)
                    ));
                } else if v == Verdict::Correct && slot_f.iter().zip(&slot).any(|(f, e)| f.to_bits() != e.to_bits()) {
                    failures.push(format!("{}: fast and exact slots differ", case.name));
                }
            }
        }
        // (d) v3: the float32 blob upstream's worker returns, byte for byte (via its sha256).
        match (&case.float32_sha256, exact == Verdict::Correct) {
            (Some(want), true) => {
                blobs += 1;
                let got = hex::encode(Sha256::digest(upstream::encode_paths(&slot)));
                if &got != want {
                    failures.push(format!("{}: float32 blob sha256 {got}, upstream {want}", case.name));
                }
            }
            (Some(_), false) => failures.push(format!("{}: a float32 blob for a case we judge failed", case.name)),
            (None, true) if rules == Rules::V3 => failures.push(format!("{}: CORRECT without a blob hash", case.name)),
            _ => {}
        }
        // (c) the prices.
        if exact == Verdict::Correct && case.expected == "CORRECT" {
            correct += 1;
            match reference::prices(&case.body) {
                Err(e) => failures.push(format!("{}: reference reader failed: {e}", case.name)),
                Ok(want) if want.len() != slot.len() => failures.push(format!(
                    "{}: reference found {} prices, slot holds {}",
                    case.name,
                    want.len(),
                    slot.len()
                )),
                Ok(want) => {
                    if let Some((i, (g, w))) =
                        slot.iter().zip(&want).enumerate().find(|(_, (g, w))| g.to_bits() != w.to_bits())
                    {
                        failures.push(format!("{}: slot[{i}] = {g:e}, reference {w:e}", case.name));
                    }
                }
            }
        }
    }
    assert!(correct >= 100, "only {correct} CORRECT cases had their prices checked");
    // The fast path must carry the realistic replies (and the plain rule failures), not give
    // everything up to the exact path.
    assert!(fast_decided >= 150, "the fast path decided only {fast_decided} of {} cases", cases.len());
    if rules == Rules::V3 {
        assert!(blobs >= 100, "only {blobs} float32 blobs were checked");
    }
    eprintln!("{rules}: {} cases, {correct} CORRECT, {fast_decided} decided by the fast path", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} conformance checks failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A NaN bit pattern no price can have: marks slot entries the decoder never wrote.
const SENTINEL: u64 = 0x7FF4_DEAD_BEEF_0001;

/// An independent, deliberately simple reader of a CORRECT body's prices: its own encoding
/// sniffing and transcoding through std, its own recursive JSON reader that keeps number
/// tokens as text, and the price value read straight from the token. It trusts the body to be
/// well formed (the corpus says it is CORRECT) and does not model any failure rule.
mod reference {
    pub fn prices(body: &[u8]) -> Result<Vec<f64>, String> {
        let text = transcode(body)?;
        let mut r = Reader { s: text.as_bytes(), i: 0 };
        let top = r.value()?;
        let Tree::Obj(members) = top else {
            return Err("top is not an object".into());
        };
        let Some((_, Tree::Arr(items))) = members.iter().rev().find(|(k, _)| k == "simulation_output") else {
            return Err("no simulation_output array".into());
        };
        let mut out = Vec::new();
        for path in items.iter().skip(2) {
            let Tree::Arr(prices) = path else {
                return Err("path not an array".into());
            };
            for p in prices {
                out.push(price(p)?);
            }
        }
        Ok(out)
    }

    fn price(t: &Tree) -> Result<f64, String> {
        let parse = |s: &str| s.parse::<f64>().map_err(|e| format!("{s:?}: {e}"));
        // An int price is a Python int, so `-0` is 0 (adding +0.0 clears a negative zero).
        let is_int = |s: &str| {
            let s = s.trim().replace('_', "");
            let s = s.strip_prefix(['-', '+']).unwrap_or(&s);
            let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
            !whole.is_empty()
                && whole.bytes().all(|c| c.is_ascii_digit())
                && !frac.is_empty()
                && frac.bytes().all(|c| c == b'0')
        };
        match t {
            Tree::Num(tok) => match tok.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ if !tok.contains(['.', 'e', 'E']) => parse(tok).map(|x| x + 0.0),
                _ => parse(tok),
            },
            Tree::Lit(b) => Ok(if *b { 1.0 } else { 0.0 }),
            // A numeric string: an int when it reads as one, else a float.
            Tree::Str(s) => {
                let x = parse(s.trim()).or_else(|_| parse(&s.replace('_', "")))?;
                Ok(if is_int(s) { x + 0.0 } else { x })
            }
            _ => Err(format!("not a price: {t:?}")),
        }
    }

    fn transcode(b: &[u8]) -> Result<String, String> {
        let utf16 = |b: &[u8], be: bool| -> Result<String, String> {
            let units = b
                .chunks_exact(2)
                .map(|c| if be { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) });
            Ok(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')).collect())
        };
        let utf32 = |b: &[u8], be: bool| -> Result<String, String> {
            Ok(b.chunks_exact(4)
                .map(|c| {
                    let u = if be {
                        u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                    } else {
                        u32::from_le_bytes([c[0], c[1], c[2], c[3]])
                    };
                    char::from_u32(u).unwrap_or('\u{FFFD}')
                })
                .collect())
        };
        match b {
            [0, 0, 0xFE, 0xFF, rest @ ..] => utf32(rest, true),
            [0xFF, 0xFE, 0, 0, rest @ ..] => utf32(rest, false),
            [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
            [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
            [0xEF, 0xBB, 0xBF, rest @ ..] => Ok(String::from_utf8_lossy(rest).into_owned()),
            [0, x, _, _, ..] if *x != 0 => utf16(b, true),
            [0, 0, _, _, ..] => utf32(b, true),
            [_, 0, 0, 0, ..] => utf32(b, false),
            [_, 0, _, _, ..] => utf16(b, false),
            _ => Ok(String::from_utf8_lossy(b).into_owned()),
        }
    }

    #[derive(Debug)]
    enum Tree {
        Num(String),
        Str(String),
        Lit(bool),
        Null,
        Arr(Vec<Tree>),
        Obj(Vec<(String, Tree)>),
    }

    struct Reader<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Reader<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
                self.i += 1;
            }
        }

        fn value(&mut self) -> Result<Tree, String> {
            self.ws();
            let c = *self.s.get(self.i).ok_or("unexpected end")?;
            let t = match c {
                b'{' => {
                    self.i += 1;
                    let mut m = Vec::new();
                    loop {
                        self.ws();
                        if self.s[self.i] == b'}' {
                            self.i += 1;
                            break;
                        }
                        if self.s[self.i] == b',' {
                            self.i += 1;
                            continue;
                        }
                        let Tree::Str(k) = self.value()? else {
                            return Err("key".into());
                        };
                        self.ws();
                        self.i += 1; // ':'
                        let v = self.value()?;
                        m.push((k, v));
                    }
                    Tree::Obj(m)
                }
                b'[' => {
                    self.i += 1;
                    let mut a = Vec::new();
                    loop {
                        self.ws();
                        if self.s[self.i] == b']' {
                            self.i += 1;
                            break;
                        }
                        if self.s[self.i] == b',' {
                            self.i += 1;
                            continue;
                        }
                        a.push(self.value()?);
                    }
                    Tree::Arr(a)
                }
                b'"' => {
                    let start = self.i;
                    self.i += 1;
                    while self.s[self.i] != b'"' {
                        self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
                    }
                    self.i += 1;
                    let raw = String::from_utf8_lossy(&self.s[start..self.i]);
                    // serde_json unescapes; lone surrogate escapes (never in a price) fall back.
                    Tree::Str(serde_json::from_str(&raw).unwrap_or_else(|_| raw.into_owned()))
                }
                b't' => {
                    self.i += 4;
                    Tree::Lit(true)
                }
                b'f' => {
                    self.i += 5;
                    Tree::Lit(false)
                }
                b'n' => {
                    self.i += 4;
                    Tree::Null
                }
                _ => {
                    let start = self.i;
                    while self.i < self.s.len() && !b",]} \t\r\n".contains(&self.s[self.i]) {
                        self.i += 1;
                    }
                    Tree::Num(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
                }
            };
            Ok(t)
        }
    }
}

#[test]
fn a_large_body_is_exact_on_the_slow_path_too() {
    // A 3 MB ordinary body through the exact path alone (its speed is in benches/decode.rs).
    let case = all_cases(Rules::V3).into_iter().find(|c| c.name.starts_with("valid_large/")).expect("a large case");
    let body_text = String::from_utf8(case.body.clone()).expect("large bodies are UTF-8");
    let start = body_text.find("\"simulation_output\":[").expect("output") + "\"simulation_output\":[".len();
    let head = &body_text[..start];
    let inner = &body_text[start..body_text.len() - 2]; // strip the closing `]}`
    let (times, paths) = inner.split_at(inner.find('[').expect("first path"));
    let mut big = String::with_capacity(3_200_000);
    big.push_str(head);
    big.push_str(times);
    let mut n = 0;
    while big.len() < 3_000_000 {
        if n > 0 {
            big.push(',');
        }
        big.push_str(paths);
        n += 1;
    }
    big.push_str("]}");
    let input: SimulationInput = serde_json::from_value(case.input.clone()).expect("input");
    let mut shape = input.clone();
    shape.num_simulations *= n;
    let exp = Expected::from_input(&shape, Rules::V3);
    let mut slot = vec![0.0; exp.slot_len()];
    let v = decode::exact::decode(&exp, 200, big.as_bytes(), &mut slot);
    assert_eq!(v, Verdict::Correct, "{}", v.as_str());
    let want = reference::prices(big.as_bytes()).expect("reference reader");
    assert_eq!(want.len(), slot.len());
    assert!(slot.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()));
    let mut fast_slot = vec![0.0; exp.slot_len()];
    assert_eq!(decode::fast::decode(&exp, big.as_bytes(), &mut fast_slot), Some(Verdict::Correct));
    assert!(fast_slot.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()));
}
