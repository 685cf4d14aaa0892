//! Batch status requests and responses on the wire (`jpki_fast.wire`).
//!
//! - [`decode_json`]: a scanner for exactly the two JSON request shapes
//!   (`{"issuer", "serials", "now", "provenance"}` and `{"items": [{"issuer", "serial"}],
//!   ...}`), normalising each serial straight into the key columns the index takes, with no
//!   per-item allocation. Malformed serials become rows with a detail code; a body that cannot
//!   be read as a whole gives a [`Fault`] (HTTP status, JSON pointer, message).
//! - [`Serials`]: the same lenient normalisation for Arrow string / binary columns.
//! - [`render_rows`]: the JSON response rendered straight from Arrow result columns into one
//!   byte buffer, on all cores for big batches.
//!
//! The detail codes and messages are mirrored in `python/jpki_fast/wire.py`.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use crate::serial::{SerialError, SerialKey, MAX_SERIAL_OCTETS};

pub type LongKey = [u8; MAX_SERIAL_OCTETS];

/// Why a serial is malformed (index into `wire.py`'s `_DETAILS`).
pub mod code {
    pub const INVALID_HEX: u8 = 0;
    pub const EMPTY: u8 = 1;
    /// The argument is the number of octets the serial takes as a DER INTEGER.
    pub const TOO_LONG: u8 = 2;
    pub const NULL: u8 = 3;
    pub const NUMBER: u8 = 4;
    pub const BOOLEAN: u8 = 5;
    pub const OBJECT: u8 = 6;
    pub const ARRAY: u8 = 7;
    pub const NEGATIVE: u8 = 8;
}

/// Values nested deeper than this are refused (400) rather than walked.
pub const MAX_DEPTH: usize = 512;

/// A request that cannot be read as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    /// A JSON pointer into the body (`/items/17/issuer`), or `body`.
    pub location: String,
    pub message: String,
}

impl Fault {
    fn shape(location: String, message: impl Into<String>) -> Fault {
        Fault { status: 422, location, message: message.into() }
    }
}

const HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' => c as u8 - b'A' + 10,
            _ => 0xFF,
        };
        c += 1;
    }
    t
};

/// [`SerialKey::from_hex`], with a fast path for the common case (at most 16 plain hex digits).
#[inline]
pub fn parse_hex(text: &[u8]) -> Result<SerialKey, SerialError> {
    if !text.is_empty() && text.len() <= 16 {
        let mut v = 0u64;
        let mut bad = 0u8;
        for &c in text {
            let d = HEX_VALUE[c as usize];
            bad |= d;
            v = (v << 4) | (d & 0xF) as u64;
        }
        if bad & 0xF0 == 0 {
            return Ok(SerialKey::Short(v));
        }
    }
    SerialKey::from_hex(text)
}

fn error_code(e: &SerialError) -> (u8, u32) {
    match e {
        SerialError::Empty => (code::EMPTY, 0),
        SerialError::InvalidHex => (code::INVALID_HEX, 0),
        SerialError::TooLong(n) => (code::TOO_LONG, u32::try_from(*n).unwrap_or(u32::MAX)),
    }
}

/// Normalised serial columns, one row per item: `short[i]` unless `i` is in `long_rows`;
/// malformed rows have `short[i] == 0` and are listed in `bad_rows` with a code, an argument
/// and the text as sent (Arrow large_string buffers; null where nothing is echoed).
#[derive(Debug, Default)]
pub struct Serials {
    pub short: Vec<u64>,
    pub long_rows: Vec<u32>,
    pub long_keys: Vec<LongKey>,
    pub bad_rows: Vec<u32>,
    pub bad_codes: Vec<u8>,
    pub bad_args: Vec<u32>,
    pub bad_text_offsets: Vec<i64>,
    pub bad_text: Vec<u8>,
    pub bad_text_valid: Vec<bool>,
}

impl Serials {
    pub fn with_capacity(n: usize) -> Serials {
        Serials { short: Vec::with_capacity(n), bad_text_offsets: vec![0], ..Default::default() }
    }

    pub fn len(&self) -> usize {
        self.short.len()
    }

    pub fn is_empty(&self) -> bool {
        self.short.is_empty()
    }

    #[inline]
    fn push_key(&mut self, key: SerialKey) {
        match key {
            SerialKey::Short(v) => self.short.push(v),
            SerialKey::Long(k) => {
                self.long_rows.push(self.short.len() as u32);
                self.long_keys.push(k);
                self.short.push(0);
            }
        }
    }

    #[cold]
    pub fn push_bad(&mut self, code: u8, arg: u32, text: Option<&[u8]>) {
        self.bad_rows.push(self.short.len() as u32);
        self.bad_codes.push(code);
        self.bad_args.push(arg);
        self.bad_text_valid.push(text.is_some());
        self.bad_text.extend_from_slice(text.unwrap_or(b""));
        self.bad_text_offsets.push(self.bad_text.len() as i64);
        self.short.push(0);
    }

    /// One hex text; `echo`: keep the text of a malformed one.
    #[inline]
    pub fn push_hex(&mut self, text: &[u8], echo: bool) {
        match parse_hex(text) {
            Ok(k) => self.push_key(k),
            Err(e) => {
                let (c, a) = error_code(&e);
                // Only valid UTF-8 is echoed (an Arrow string column is not checked for it).
                let shown = (echo && std::str::from_utf8(text).is_ok()).then_some(text);
                self.push_bad(c, a, shown)
            }
        }
    }

    /// One big-endian binary value.
    #[inline]
    pub fn push_binary(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return self.push_bad(code::EMPTY, 0, None);
        }
        match SerialKey::from_be_bytes(bytes) {
            Ok(k) => self.push_key(k),
            Err(e) => {
                let (c, a) = error_code(&e);
                self.push_bad(c, a, None)
            }
        }
    }
}

/// An Arrow validity bitmap (LSB first) of `bits`.
pub fn bitmap(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON requests

/// A decoded JSON request.
#[derive(Debug, Default)]
pub struct Request {
    /// The `{"items": [...]}` shape.
    pub items_form: bool,
    /// The distinct issuers as sent, first-seen order (Arrow large_string buffers).
    pub issuer_offsets: Vec<i64>,
    pub issuer_data: Vec<u8>,
    /// Per row, an index into the issuers; empty when there is only one.
    pub issuer_codes: Vec<u32>,
    pub serials: Serials,
    /// `now` as sent (a string), if given and not null.
    pub now: Option<String>,
    pub provenance: bool,
}

enum Stop {
    /// Not valid JSON at this byte offset.
    Syntax(usize, &'static str),
    /// Valid JSON so far, but not a request we can read.
    Shape(Fault),
}

type Step<T> = Result<T, Stop>;

/// Appends `s` to a JSON pointer, escaped (RFC 6901), shortened when huge.
fn pointer(parts: &[&str]) -> String {
    let mut out = String::new();
    for p in parts {
        out.push('/');
        let shown: String = p.chars().take(200).collect();
        out.push_str(&shown.replace('~', "~0").replace('/', "~1"));
    }
    out
}

fn shown_key(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(key);
    let mut s: String = text.chars().take(64).collect();
    if text.chars().count() > 64 {
        s.push_str("...");
    }
    s
}

/// What a value starting with this byte is ("a number", ...), for messages; None if no JSON
/// value starts so.
fn kind_of(b: u8) -> Option<&'static str> {
    Some(match b {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => return None,
    })
}

/// Bytes that end the fast scan of a string: the quote, a backslash, control characters.
const STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The first index at or after `j` of a byte that ends a string's fast scan (or `b.len()`),
/// eight bytes at a time.
#[inline(always)]
fn scan_string(b: &[u8], mut j: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while j + 8 <= b.len() {
        let w = u64::from_le_bytes(b[j..j + 8].try_into().expect("eight bytes"));
        let (q, bs) = (w ^ (LO * b'"' as u64), w ^ (LO * b'\\' as u64));
        // The lowest flagged byte is exact: a quote, a backslash, or a byte below 0x20.
        let stop = (q.wrapping_sub(LO) & !q | bs.wrapping_sub(LO) & !bs | w.wrapping_sub(LO * 0x20) & !w) & HI;
        if stop != 0 {
            return j + (stop.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while j < b.len() && !STRING_STOP[b[j] as usize] {
        j += 1;
    }
    j
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    scratch: Vec<u8>,
}

impl<'a> Scan<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Step<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop::Syntax(self.i, what))
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Step<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Stop::Syntax(self.i, "invalid literal (expected true, false or null)"))
        }
    }

    fn number(&mut self) -> Step<()> {
        let bad = |at| Stop::Syntax(at, "invalid number");
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(bad(self.i)),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self.i));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self.i));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Step<u32> {
        let at = self.i;
        let digits = self.b.get(self.i..self.i + 4).ok_or(Stop::Syntax(at, "invalid \\u escape"))?;
        let mut v = 0u32;
        for &c in digits {
            let d = HEX_VALUE[c as usize];
            if d > 15 {
                return Err(Stop::Syntax(at, "invalid \\u escape"));
            }
            v = (v << 4) | d as u32;
        }
        self.i += 4;
        Ok(v)
    }

    /// A string at `self.i` (the opening quote). Returns the raw content when it has no
    /// escapes (`Ok(Some(span))`); otherwise decodes it into `self.scratch` when `decode`
    /// (`Ok(None)`). Always validates it.
    #[inline]
    fn string(&mut self, decode: bool) -> Step<Option<&'a [u8]>> {
        let b = self.b;
        let start = self.i + 1;
        let mut j = start;
        j = scan_string(b, j);
        match b.get(j) {
            Some(b'"') => {
                self.i = j + 1;
                Ok(Some(&b[start..j]))
            }
            Some(b'\\') => {
                self.scratch.clear();
                if decode {
                    self.scratch.extend_from_slice(&b[start..j]);
                }
                self.i = j;
                self.escaped_rest(decode)?;
                Ok(None)
            }
            Some(_) => Err(Stop::Syntax(j, "control character in a string (escape it)")),
            None => Err(Stop::Syntax(j, "unterminated string")),
        }
    }

    #[cold]
    fn escaped_rest(&mut self, decode: bool) -> Step<()> {
        loop {
            let Some(&c) = self.b.get(self.i) else { return Err(Stop::Syntax(self.i, "unterminated string")) };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => {
                    let at = self.i;
                    self.i += 1;
                    let e = self.peek().ok_or(Stop::Syntax(self.i, "unterminated string"))?;
                    self.i += 1;
                    let ch: u32 = match e {
                        b'"' => b'"' as u32,
                        b'\\' => b'\\' as u32,
                        b'/' => b'/' as u32,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => 10,
                        b'r' => 13,
                        b't' => 9,
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(Stop::Syntax(at, "invalid \\u escape (unpaired surrogate)"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(Stop::Syntax(at, "invalid \\u escape (unpaired surrogate)"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(Stop::Syntax(at, "invalid \\u escape (unpaired surrogate)"));
                            } else {
                                hi
                            }
                        }
                        _ => return Err(Stop::Syntax(at, "invalid escape in a string")),
                    };
                    if decode {
                        let ch = char::from_u32(ch).ok_or(Stop::Syntax(at, "invalid \\u escape"))?;
                        let mut buf = [0u8; 4];
                        self.scratch.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                }
                c if c < 0x20 => return Err(Stop::Syntax(self.i, "control character in a string (escape it)")),
                _ => {
                    let start = self.i;
                    while self.i < self.b.len() && !STRING_STOP[self.b[self.i] as usize] {
                        self.i += 1;
                    }
                    if decode {
                        self.scratch.extend_from_slice(&self.b[start..self.i]);
                    }
                }
            }
        }
    }

    /// A string's content: the span itself, or the decoded copy in scratch.
    fn string_owned(&mut self) -> Step<Vec<u8>> {
        Ok(match self.string(true)? {
            Some(s) => s.to_vec(),
            None => self.scratch.clone(),
        })
    }

    /// Skips (and validates) any JSON value, iteratively.
    fn skip_value(&mut self) -> Step<()> {
        let mut stack: Vec<u8> = Vec::new();
        loop {
            // A value is expected here.
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return Err(Stop::Syntax(self.i, "nested deeper than 512 levels"));
                        }
                        stack.push(b'}');
                        self.member_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return Err(Stop::Syntax(self.i, "nested deeper than 512 levels"));
                        }
                        stack.push(b']');
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string(false)?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(Stop::Syntax(self.i, "expected a JSON value")),
            }
            // After a value: close containers until one continues.
            loop {
                let Some(&close) = stack.last() else { return Ok(()) };
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if close == b'}' {
                            self.ws();
                            self.member_key()?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.i += 1;
                        stack.pop();
                    }
                    _ => return Err(Stop::Syntax(self.i, if close == b'}' { "expected ',' or '}'" } else { "expected ',' or ']'" })),
                }
            }
        }
    }

    /// `"key" :` inside an object being skipped.
    fn member_key(&mut self) -> Step<()> {
        if self.peek() != Some(b'"') {
            return Err(Stop::Syntax(self.i, "expected a string (an object key)"));
        }
        self.string(false)?;
        self.ws();
        self.expect(b':', "expected ':'")
    }

    /// An object key at `self.i`, decoded, then the `:` and the whitespace after it.
    fn key(&mut self) -> Step<Cow<'a, [u8]>> {
        if self.peek() != Some(b'"') {
            return Err(Stop::Syntax(self.i, "expected a string (an object key)"));
        }
        let k = match self.string(true)? {
            Some(span) => Cow::Borrowed(span),
            None => Cow::Owned(self.scratch.clone()),
        };
        self.ws();
        self.expect(b':', "expected ':'")?;
        self.ws();
        Ok(k)
    }

    /// The kind of the value at `self.i`, for a message (or a syntax error if none starts here).
    fn kind(&self) -> Step<&'static str> {
        self.peek().and_then(kind_of).ok_or(Stop::Syntax(self.i, "expected a JSON value"))
    }

    /// One serial value (any JSON value) into `out`.
    #[inline]
    fn serial(&mut self, out: &mut Serials) -> Step<()> {
        match self.peek() {
            Some(b'"') => match self.string(true)? {
                Some(text) => out.push_hex(text, true),
                None => {
                    let text = std::mem::take(&mut self.scratch);
                    out.push_hex(&text, true);
                    self.scratch = text;
                }
            },
            Some(b'n') => {
                self.literal(b"null")?;
                out.push_bad(code::NULL, 0, None);
            }
            Some(b't') => {
                self.literal(b"true")?;
                out.push_bad(code::BOOLEAN, 0, None);
            }
            Some(b'f') => {
                self.literal(b"false")?;
                out.push_bad(code::BOOLEAN, 0, None);
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                out.push_bad(code::NUMBER, 0, None);
            }
            Some(b'{') => {
                self.skip_value()?;
                out.push_bad(code::OBJECT, 0, None);
            }
            Some(b'[') => {
                self.skip_value()?;
                out.push_bad(code::ARRAY, 0, None);
            }
            _ => return Err(Stop::Syntax(self.i, "expected a JSON value")),
        }
        Ok(())
    }

    /// After an array element: `true` if another follows.
    #[inline]
    fn next_element(&mut self) -> Step<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(true)
            }
            Some(b']') => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(Stop::Syntax(self.i, "expected ',' or ']'")),
        }
    }

    fn too_many(max_items: usize, field: &str) -> Stop {
        Stop::Shape(Fault {
            status: 413,
            location: pointer(&[field]),
            message: format!("more than {} items in one request", thousands(max_items)),
        })
    }

    fn serials(&mut self, out: &mut Serials, max_items: usize) -> Step<()> {
        self.i += 1; // '['
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            if out.len() >= max_items {
                return Err(Self::too_many(max_items, "serials"));
            }
            self.serial(out)?;
            if !self.next_element()? {
                return Ok(());
            }
        }
    }

    fn items(&mut self, r: &mut Request, max_items: usize) -> Step<()> {
        self.i += 1; // '['
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        let mut names = Names::default();
        let mut last: Option<(usize, usize, u32)> = None; // span of the last issuer in the body
        let mut codes: Vec<u32> = Vec::new();
        loop {
            let row = r.serials.len();
            if row >= max_items {
                return Err(Self::too_many(max_items, "items"));
            }
            if self.peek() != Some(b'{') {
                let kind = self.kind()?;
                return Err(Stop::Shape(Fault::shape(
                    pointer(&["items", &row.to_string()]),
                    format!("expected an object with issuer and serial, not {kind}"),
                )));
            }
            self.i += 1;
            self.ws();
            let (mut has_issuer, mut has_serial) = (false, false);
            if self.peek() != Some(b'}') {
                loop {
                    let key = self.key()?;
                    match &*key {
                        b"issuer" | b"serial" if (&*key == b"issuer" && has_issuer) || (&*key == b"serial" && has_serial) => {
                            return Err(Stop::Shape(Fault::shape(
                                pointer(&["items", &row.to_string(), &String::from_utf8_lossy(&key)]),
                                format!("field '{}' appears more than once", shown_key(&key)),
                            )));
                        }
                        b"issuer" => {
                            has_issuer = true;
                            if self.peek() != Some(b'"') {
                                let kind = self.kind()?;
                                return Err(Stop::Shape(Fault::shape(
                                    pointer(&["items", &row.to_string(), "issuer"]),
                                    format!("expected a string, not {kind}"),
                                )));
                            }
                            let at = self.i + 1;
                            let code = match self.string(true)? {
                                Some(name) => {
                                    let end = at + name.len();
                                    match last {
                                        Some((s, e, c)) if self.b[s..e] == *name => c,
                                        _ => {
                                            let c = intern(&mut names, name, r);
                                            last = Some((at, end, c));
                                            c
                                        }
                                    }
                                }
                                None => {
                                    let name = std::mem::take(&mut self.scratch);
                                    let c = intern(&mut names, &name, r);
                                    self.scratch = name;
                                    last = None;
                                    c
                                }
                            };
                            codes.push(code);
                        }
                        b"serial" => {
                            has_serial = true;
                            self.serial(&mut r.serials)?;
                        }
                        _ => {
                            return Err(Stop::Shape(Fault::shape(
                                pointer(&["items", &row.to_string(), &String::from_utf8_lossy(&key)]),
                                format!("unknown field '{}' (expected issuer, serial)", shown_key(&key)),
                            )));
                        }
                    }
                    self.ws();
                    match self.peek() {
                        Some(b',') => {
                            self.i += 1;
                            self.ws();
                        }
                        Some(b'}') => break,
                        _ => return Err(Stop::Syntax(self.i, "expected ',' or '}'")),
                    }
                }
            }
            self.i += 1; // '}'
            for (has, field) in [(has_issuer, "issuer"), (has_serial, "serial")] {
                if !has {
                    return Err(Stop::Shape(Fault::shape(pointer(&["items", &row.to_string(), field]), "required")));
                }
            }
            if !self.next_element()? {
                break;
            }
        }
        r.issuer_codes = if names.len() > 1 { codes } else { Vec::new() };
        Ok(())
    }

    fn request(&mut self, max_items: usize) -> Step<Request> {
        let mut r = Request { issuer_offsets: vec![0], serials: Serials::with_capacity(0), ..Default::default() };
        self.ws();
        if self.peek() != Some(b'{') {
            let kind = self.kind()?;
            return Err(Stop::Shape(Fault::shape("body".into(), format!("expected a JSON object, not {kind}"))));
        }
        self.i += 1;
        self.ws();
        let mut issuer: Option<Vec<u8>> = None;
        let (mut seen_serials, mut seen_items, mut seen_now, mut seen_provenance) = (false, false, false, false);
        if self.peek() != Some(b'}') {
            loop {
                let key = self.key()?;
                let dup = match &*key {
                    b"issuer" => issuer.is_some(),
                    b"serials" => seen_serials,
                    b"items" => seen_items,
                    b"now" => seen_now,
                    b"provenance" => seen_provenance,
                    _ => {
                        return Err(Stop::Shape(Fault::shape(
                            pointer(&[&String::from_utf8_lossy(&key)]),
                            format!("unknown field '{}' (expected issuer, serials, items, now, provenance)", shown_key(&key)),
                        )))
                    }
                };
                if dup {
                    return Err(Stop::Shape(Fault::shape(
                        pointer(&[&String::from_utf8_lossy(&key)]),
                        format!("field '{}' appears more than once", shown_key(&key)),
                    )));
                }
                let field = String::from_utf8_lossy(&key).into_owned();
                let wrong = |s: &Scan, want: &str| -> Stop {
                    match s.kind() {
                        Ok(kind) => Stop::Shape(Fault::shape(pointer(&[&field]), format!("expected {want}, not {kind}"))),
                        Err(e) => e,
                    }
                };
                match &*key {
                    b"issuer" => {
                        if self.peek() != Some(b'"') {
                            return Err(wrong(self, "a string"));
                        }
                        issuer = Some(self.string_owned()?);
                    }
                    b"serials" => {
                        seen_serials = true;
                        if self.peek() != Some(b'[') {
                            return Err(wrong(self, "an array of hex strings"));
                        }
                        let estimate = (self.b.len() - self.i) / 12;
                        r.serials.short.reserve(estimate.min(max_items));
                        self.serials(&mut r.serials, max_items)?;
                    }
                    b"items" => {
                        seen_items = true;
                        if self.peek() != Some(b'[') {
                            return Err(wrong(self, "an array of items"));
                        }
                        self.items(&mut r, max_items)?;
                    }
                    b"now" => {
                        seen_now = true;
                        match self.peek() {
                            Some(b'"') => {
                                let text = self.string_owned()?;
                                // Valid UTF-8: the body was checked, escapes decode to chars.
                                r.now = Some(String::from_utf8_lossy(&text).into_owned());
                            }
                            Some(b'n') => self.literal(b"null")?,
                            _ => return Err(wrong(self, "an ISO 8601 date/time string")),
                        }
                    }
                    _ => {
                        seen_provenance = true;
                        match self.peek() {
                            Some(b't') => {
                                self.literal(b"true")?;
                                r.provenance = true;
                            }
                            Some(b'f') => self.literal(b"false")?,
                            Some(b'n') => self.literal(b"null")?,
                            _ => return Err(wrong(self, "true or false")),
                        }
                    }
                }
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.ws();
                    }
                    Some(b'}') => break,
                    _ => return Err(Stop::Syntax(self.i, "expected ',' or '}'")),
                }
            }
        }
        self.i += 1; // '}'
        self.ws();
        if self.i != self.b.len() {
            return Err(Stop::Syntax(self.i, "unexpected data after the JSON object"));
        }
        let shape = |loc: &str, msg: &str| Err(Stop::Shape(Fault::shape(pointer(&[loc]), msg)));
        if seen_items {
            if seen_serials {
                return shape("serials", "give either issuer and serials, or items, not both");
            }
            if issuer.is_some() {
                return shape("issuer", "not allowed with items (each item names its issuer)");
            }
            if r.serials.is_empty() {
                return shape("items", "empty batch: no items");
            }
            r.items_form = true;
        } else {
            if !seen_serials {
                return shape("serials", "required: serials (with issuer), or items");
            }
            let Some(name) = issuer else { return shape("issuer", "required with serials") };
            if r.serials.is_empty() {
                return shape("serials", "empty batch: no serials");
            }
            r.issuer_data = name;
            r.issuer_offsets.push(r.issuer_data.len() as i64);
        }
        Ok(r)
    }
}

/// The distinct issuer names of a request: a short list searched in order (a batch names a few
/// CAs), then a hash map.
#[derive(Default)]
struct Names {
    few: Vec<Vec<u8>>,
    many: HashMap<Vec<u8>, u32>,
}

impl Names {
    fn len(&self) -> usize {
        self.few.len() + self.many.len()
    }
}

fn intern(names: &mut Names, name: &[u8], r: &mut Request) -> u32 {
    if let Some(c) = names.few.iter().position(|n| n.as_slice() == name) {
        return c as u32;
    }
    if let Some(&c) = names.many.get(name) {
        return c;
    }
    let c = names.len() as u32;
    if names.few.len() < 8 {
        names.few.push(name.to_vec());
    } else {
        names.many.insert(name.to_vec(), c);
    }
    r.issuer_data.extend_from_slice(name);
    r.issuer_offsets.push(r.issuer_data.len() as i64);
    c
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn syntax_fault(body: &[u8], at: usize, what: &str) -> Fault {
    let at = at.min(body.len());
    let before = &body[..at];
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
    let column = before[line_start..].iter().filter(|&&c| c & 0xC0 != 0x80).count() + 1;
    let what = if at == body.len() && !what.starts_with("unexpected") { "unexpected end of the body" } else { what };
    Fault {
        status: 400,
        location: "body".into(),
        message: format!("invalid JSON: {what} at line {line}, column {column} (byte offset {at})"),
    }
}

/// Decodes a JSON batch request. `max_items` bounds the items (413 past it).
pub fn decode_json(body: &[u8], max_items: usize) -> Result<Request, Fault> {
    if let Err(e) = std::str::from_utf8(body) {
        return Err(Fault {
            status: 400,
            location: "body".into(),
            message: format!("body is not valid UTF-8 (byte offset {})", e.valid_up_to()),
        });
    }
    // A UTF-8 byte order mark may be ignored (RFC 8259 §8.1).
    let start = if body.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let mut scan = Scan { b: body, i: start, scratch: Vec::new() };
    match scan.request(max_items) {
        Ok(r) => Ok(r),
        Err(Stop::Syntax(at, what)) => Err(syntax_fault(body, at, what)),
        Err(Stop::Shape(fault)) => {
            // A syntax error anywhere outranks a shape error: the body is not JSON at all.
            let mut check = Scan { b: body, i: start, scratch: Vec::new() };
            let outcome = check.skip_value().and_then(|_| {
                check.ws();
                if check.i == body.len() {
                    Ok(())
                } else {
                    Err(Stop::Syntax(check.i, "unexpected data after the JSON object"))
                }
            });
            match outcome {
                Err(Stop::Syntax(at, what)) => Err(syntax_fault(body, at, what)),
                _ => Err(fault),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Issuer names -> issuer rows

/// Needs the caller's own lookup: a name whose key-identifier spelling is not plain ASCII.
pub const ASK_CALLER: u16 = u16::MAX - 1;
pub const UNKNOWN_ISSUER: u16 = u16::MAX;

/// The issuer row of each name, as `Store.issuer_index` finds it: an alias exactly, else a key
/// identifier in hex (any case, `:` separators, surrounding whitespace). Names that are not
/// ASCII and match no alias get [`ASK_CALLER`].
pub fn map_issuers<'a>(names: impl Iterator<Item = &'a [u8]>, aliases: &[&[u8]], key_ids: &[&[u8]]) -> Vec<u16> {
    let alias: HashMap<&[u8], u16> = aliases.iter().enumerate().map(|(i, a)| (*a, i as u16)).collect();
    let kid: HashMap<&[u8], u16> = key_ids.iter().enumerate().map(|(i, k)| (*k, i as u16)).collect();
    let mut key = Vec::new();
    names
        .map(|name| {
            if let Some(&i) = alias.get(name) {
                return i;
            }
            if !name.is_ascii() {
                return ASK_CALLER;
            }
            // Python's str.strip() whitespace, in ASCII.
            let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f);
            key.clear();
            key.extend(name.iter().filter(|&&c| c != b':').map(u8::to_ascii_uppercase));
            let first = key.iter().position(|c| !ws(c)).unwrap_or(key.len());
            let last = key.iter().rposition(|c| !ws(c)).map_or(first, |p| p + 1);
            kid.get(&key[first..last]).copied().unwrap_or(UNKNOWN_ISSUER)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Serial text column

/// Two uppercase hex digits of each byte value.
const HEX2: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    t
};

/// Copies `src` to `*dst` and advances it; short copies without a memcpy call.
///
/// # Safety
/// `*dst` must have room for `src.len()` bytes, and not overlap `src`.
#[inline(always)]
unsafe fn put(dst: &mut *mut u8, src: &[u8]) {
    let n = src.len();
    let (d, s) = (*dst, src.as_ptr());
    // SAFETY: the caller guarantees room for n bytes at d; every access below is within
    // s[0..n] and d[0..n].
    unsafe {
        if n >= 16 {
            std::ptr::copy_nonoverlapping(s, d, n);
        } else if n >= 8 {
            let (x, y) = ((s as *const u64).read_unaligned(), (s.add(n - 8) as *const u64).read_unaligned());
            (d as *mut u64).write_unaligned(x);
            (d.add(n - 8) as *mut u64).write_unaligned(y);
        } else if n >= 4 {
            let (x, y) = ((s as *const u32).read_unaligned(), (s.add(n - 4) as *const u32).read_unaligned());
            (d as *mut u32).write_unaligned(x);
            (d.add(n - 4) as *mut u32).write_unaligned(y);
        } else {
            for i in 0..n {
                *d.add(i) = *s.add(i);
            }
        }
        *dst = d.add(n);
    }
}

/// Canonical hex of a u64 serial into a 16-byte buffer: (buffer, start).
#[inline(always)]
fn hex_u64(v: u64) -> ([u8; 16], usize) {
    let mut buf = [0u8; 16];
    for (i, b) in v.to_be_bytes().iter().enumerate() {
        buf[2 * i..2 * i + 2].copy_from_slice(&HEX2[*b as usize]);
    }
    let octets = if v == 0 { 1 } else { (64 - v.leading_zeros() as usize).div_ceil(8) };
    (buf, 16 - 2 * octets)
}

/// Canonical hex of a long key: its magnitude, with a `-` before a negative one (rare: the
/// general formatter of [`SerialKey::to_hex`]).
fn hex_long(k: &LongKey) -> ([u8; 41], usize) {
    let mut buf = [0u8; 41];
    if k[0] & 0x80 != 0 {
        let text = SerialKey::Long(*k).to_hex();
        let start = 41 - text.len();
        buf[start..].copy_from_slice(text.as_bytes());
        return (buf, start);
    }
    for (i, b) in k.iter().enumerate() {
        buf[1 + 2 * i..3 + 2 * i].copy_from_slice(&HEX2[*b as usize]);
    }
    let first = k.iter().position(|&x| x != 0).unwrap_or(MAX_SERIAL_OCTETS - 1);
    (buf, 1 + 2 * first)
}

/// What each row of the serial column shows.
#[derive(Clone, Copy)]
enum Shown {
    Short,
    Long(usize),
    Bad(usize),
}

/// Borrowed serial columns (as [`Serials`] holds them; `bad_text_valid` as a bitmap over the
/// malformed rows, None when all have text).
pub struct SerialsView<'a> {
    pub short: &'a [u64],
    pub long_rows: &'a [u32],
    pub long_keys: &'a [LongKey],
    pub bad_rows: &'a [u32],
    pub bad_text_offsets: &'a [i64],
    pub bad_text: &'a [u8],
    pub bad_text_valid: Option<&'a [u8]>,
}

impl SerialsView<'_> {
    /// Checks the columns agree (lengths, rows in range, offsets within the text).
    pub fn check(&self) -> Result<(), String> {
        let n = self.short.len();
        let m = self.bad_rows.len();
        if self.long_rows.len() != self.long_keys.len() || self.long_rows.iter().chain(self.bad_rows).any(|&r| r as usize >= n) {
            return Err("serial columns do not match".into());
        }
        if self.bad_text_offsets.len() != m + 1
            || self.bad_text_offsets.windows(2).any(|w| w[0] < 0 || w[1] < w[0])
            || self.bad_text_offsets[m] as usize > self.bad_text.len()
        {
            return Err("malformed text offsets do not match".into());
        }
        if self.bad_text_valid.is_some_and(|v| v.len() * 8 < m) {
            return Err("malformed text validity too short".into());
        }
        Ok(())
    }
}

impl Serials {
    pub fn view(&self) -> (SerialsView<'_>, Option<Vec<u8>>) {
        let valid = (!self.bad_text_valid.iter().all(|&v| v)).then(|| bitmap(&self.bad_text_valid));
        (
            SerialsView {
                short: &self.short,
                long_rows: &self.long_rows,
                long_keys: &self.long_keys,
                bad_rows: &self.bad_rows,
                bad_text_offsets: &self.bad_text_offsets,
                bad_text: &self.bad_text,
                bad_text_valid: None,
            },
            valid,
        )
    }
}

/// The `serial` column of a result: canonical hex, or for malformed rows the text as sent
/// (null when none). Returns (offsets, data, validity bitmap if any row is null), an Arrow
/// large_string. Built in parallel chunks. The view must pass [`SerialsView::check`].
pub fn serial_text(s: &SerialsView<'_>) -> (Vec<i64>, Vec<u8>, Option<Vec<u8>>) {
    const CHUNK: usize = 1 << 15;
    let n = s.short.len();
    let mut special: Vec<(u32, Shown)> = s
        .long_rows
        .iter()
        .enumerate()
        .map(|(k, &r)| (r, Shown::Long(k)))
        .chain(s.bad_rows.iter().enumerate().map(|(k, &r)| (r, Shown::Bad(k))))
        .collect();
    special.sort_by_key(|x| x.0); // stable: a row in both lists has its malformed entry last
    let chunk = |c: usize| {
        let (lo, hi) = (c * CHUNK, ((c + 1) * CHUNK).min(n));
        let first = special.partition_point(|x| (x.0 as usize) < lo);
        let last = special.partition_point(|x| (x.0 as usize) < hi);
        // At most 16 digits a short serial; a long one or a malformed text replaces it.
        let mut bound = 16 * (hi - lo);
        for &(_, shown) in &special[first..last] {
            bound += match shown {
                Shown::Long(_) => 41,
                Shown::Bad(j) => (s.bad_text_offsets[j + 1] - s.bad_text_offsets[j]) as usize,
                Shown::Short => 0,
            };
        }
        let mut offs: Vec<i64> = Vec::with_capacity(hi - lo);
        let mut data: Vec<u8> = Vec::with_capacity(bound);
        let mut k = first;
        let base = data.as_mut_ptr();
        let mut p = base;
        for row in lo..hi {
            let mut shown = Shown::Short;
            while k < last && special[k].0 as usize == row {
                shown = special[k].1; // a malformed row (listed last) wins
                k += 1;
            }
            // SAFETY: `bound` counts the most each row writes.
            unsafe {
                match shown {
                    Shown::Short => {
                        let (buf, start) = hex_u64(s.short[row]);
                        put(&mut p, &buf[start..]);
                    }
                    Shown::Long(j) => {
                        let (buf, start) = hex_long(&s.long_keys[j]);
                        put(&mut p, &buf[start..]);
                    }
                    Shown::Bad(j) => {
                        let (a, b) = (s.bad_text_offsets[j] as usize, s.bad_text_offsets[j + 1] as usize);
                        put(&mut p, &s.bad_text[a..b]);
                    }
                }
                offs.push(p.offset_from(base) as i64);
            }
        }
        // SAFETY: p - base bytes were written, within capacity.
        unsafe { data.set_len(p.offset_from(base) as usize) };
        (offs, data)
    };
    // One chunk (a request of up to 32,768 rows) is built here: handing it to the pool costs more.
    let chunks = n.div_ceil(CHUNK);
    let pieces: Vec<(Vec<i64>, Vec<u8>)> =
        if chunks > 1 { (0..chunks).into_par_iter().map(chunk).collect() } else { (0..chunks).map(chunk).collect() };
    let total: usize = pieces.iter().map(|p| p.1.len()).sum();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0i64);
    let mut data = Vec::with_capacity(total);
    for (offs, d) in pieces {
        let base = data.len() as i64;
        offsets.extend(offs.iter().map(|o| o + base));
        data.extend_from_slice(&d);
    }
    let validity = s.bad_text_valid.map(|v| {
        let mut valid = vec![true; n];
        for (k, &row) in s.bad_rows.iter().enumerate() {
            valid[row as usize] = v[k / 8] & (1 << (k % 8)) != 0;
        }
        bitmap(&valid)
    });
    (offsets, data, validity)
}

// ---------------------------------------------------------------------------------------------
// JSON responses

/// Offsets of an Arrow string array, either width.
#[derive(Clone, Copy)]
pub enum Offsets<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
}

impl Offsets<'_> {
    #[inline]
    fn len(&self) -> usize {
        match self {
            Offsets::I32(o) => o.len(),
            Offsets::I64(o) => o.len(),
        }
    }

    #[inline]
    fn span(&self, i: usize) -> (i64, i64) {
        match self {
            Offsets::I32(o) => (o[i] as i64, o[i + 1] as i64),
            Offsets::I64(o) => (o[i], o[i + 1]),
        }
    }
}

/// An Arrow string array: buffers and the array offset.
#[derive(Clone, Copy)]
pub struct Strings<'a> {
    pub offsets: Offsets<'a>,
    pub data: &'a [u8],
    pub valid: Option<&'a [u8]>,
    pub offset: usize,
    pub len: usize,
}

impl<'a> Strings<'a> {
    /// Checks the buffers hold `len` rows.
    pub fn check(&self, what: &str) -> Result<(), String> {
        if self.offsets.len() < self.offset + self.len + 1 {
            return Err(format!("{what}: offsets buffer too short"));
        }
        if let Some(v) = self.valid {
            if v.len() * 8 < self.offset + self.len {
                return Err(format!("{what}: validity bitmap too short"));
            }
        }
        Ok(())
    }

    #[inline]
    pub fn is_valid(&self, row: usize) -> bool {
        is_set(self.valid, self.offset + row)
    }

    /// Row `row`'s bytes; None for a null or offsets out of range.
    #[inline]
    pub fn get(&self, row: usize) -> Option<&'a [u8]> {
        if !self.is_valid(row) {
            return None;
        }
        let (a, b) = self.offsets.span(self.offset + row);
        if a < 0 || b < a {
            return None;
        }
        self.data.get(a as usize..b as usize)
    }
}

#[inline(always)]
fn is_set(bitmap: Option<&[u8]>, i: usize) -> bool {
    match bitmap {
        None => true,
        Some(b) => b[i / 8] & (1 << (i % 8)) != 0,
    }
}

/// Dictionary indices, any integer width.
#[derive(Clone, Copy)]
pub enum Indices<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
}

impl Indices<'_> {
    fn len(&self) -> usize {
        match self {
            Indices::I8(v) => v.len(),
            Indices::I16(v) => v.len(),
            Indices::I32(v) => v.len(),
            Indices::I64(v) => v.len(),
            Indices::U8(v) => v.len(),
            Indices::U16(v) => v.len(),
            Indices::U32(v) => v.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> i64 {
        match self {
            Indices::I8(v) => v[i] as i64,
            Indices::I16(v) => v[i] as i64,
            Indices::I32(v) => v[i] as i64,
            Indices::I64(v) => v[i],
            Indices::U8(v) => v[i] as i64,
            Indices::U16(v) => v[i] as i64,
            Indices::U32(v) => v[i] as i64,
        }
    }
}

/// One column of a result table, as JSON renders it.
pub enum Column<'a> {
    Str(Strings<'a>),
    /// Dictionary-encoded strings: indices (with their validity and offset) and the values.
    Dict {
        indices: Indices<'a>,
        valid: Option<&'a [u8]>,
        offset: usize,
        values: Strings<'a>,
    },
    /// Seconds since the epoch, rendered `2026-11-26T00:00:00Z`.
    Time {
        values: &'a [i64],
        valid: Option<&'a [u8]>,
        offset: usize,
    },
}

/// A field of each result object: its key, its column, and whether a null is left out.
pub struct Field<'a> {
    pub name: &'a str,
    pub column: Column<'a>,
    pub omit_null: bool,
}

/// JSON string literal of `s` (with quotes).
pub fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in s.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// The text of seconds since the epoch, `2026-11-26T00:00:00Z`, into a buffer: (buffer, length).
#[inline]
pub fn time_text(t: i64) -> ([u8; 48], usize) {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    let mut buf = [0u8; 48];
    let digits2 = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    let mut n = if (0..=9999).contains(&year) {
        buf[..2].copy_from_slice(&digits2(year / 100));
        buf[2..4].copy_from_slice(&digits2(year % 100));
        4
    } else {
        let y = year.to_string();
        buf[..y.len()].copy_from_slice(y.as_bytes());
        y.len()
    };
    for (sep, v) in [(b'-', month), (b'-', day), (b'T', secs / 3600), (b':', secs / 60 % 60), (b':', secs % 60)] {
        buf[n] = sep;
        buf[n + 1..n + 3].copy_from_slice(&digits2(v));
        n += 3;
    }
    buf[n] = b'Z';
    (buf, n + 1)
}

/// `"YYYY-MM-DDTHH:MM:SSZ"` (with quotes) for seconds since the epoch.
pub fn json_time(out: &mut Vec<u8>, t: i64) {
    let (buf, len) = time_text(t);
    out.push(b'"');
    out.extend_from_slice(&buf[..len]);
    out.push(b'"');
}

/// Whether any of these bytes needs escaping in a JSON string.
fn needs_escape(s: &[u8]) -> bool {
    scan_string(s, 0) < s.len() // the bytes that stop a string's scan are those needing escapes
}

/// A field prepared for rendering: its pieces rendered once.
enum Prep<'a> {
    /// `prefix` is `"name":"`; `escape` when some value needs escaping.
    Str {
        s: Strings<'a>,
        prefix: Vec<u8>,
        escape: bool,
    },
    /// `pieces[i]` is `"name":"value i"` (None for a null value).
    Dict {
        indices: Indices<'a>,
        valid: Option<&'a [u8]>,
        offset: usize,
        pieces: Vec<Option<Vec<u8>>>,
    },
    Time {
        values: &'a [i64],
        valid: Option<&'a [u8]>,
        offset: usize,
        prefix: Vec<u8>,
    },
}

struct Prepared<'a> {
    name: &'a str,
    prep: Prep<'a>,
    /// `"name":null`, or None when a null is left out.
    null_piece: Option<Vec<u8>>,
}

fn prepare<'a>(fields: &[Field<'a>], n: usize) -> Result<Vec<Prepared<'a>>, String> {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let mut key = Vec::new();
        json_string(&mut key, f.name.as_bytes());
        key.push(b':');
        let null_piece = (!f.omit_null).then(|| [&key[..], b"null"].concat());
        let bits_ok = |valid: Option<&[u8]>, offset: usize| valid.map_or(true, |v| v.len() * 8 >= offset + n);
        let prep = match &f.column {
            Column::Str(s) => {
                if s.len < n {
                    return Err(format!("{}: {} rows for {n}", f.name, s.len));
                }
                s.check(f.name)?;
                // Escaping is needed only if some byte of the rows' data needs it (scanned once).
                let escape = n > 0 && {
                    let (lo, hi) = (s.offsets.span(s.offset).0, s.offsets.span(s.offset + n - 1).1);
                    match (usize::try_from(lo), usize::try_from(hi)) {
                        (Ok(lo), Ok(hi)) if lo <= hi && hi <= s.data.len() => needs_escape(&s.data[lo..hi]),
                        _ => true,
                    }
                };
                Prep::Str { s: *s, prefix: [&key[..], b"\""].concat(), escape }
            }
            Column::Dict { indices, valid, offset, values } => {
                values.check(f.name)?;
                if indices.len() < offset + n || !bits_ok(*valid, *offset) {
                    return Err(format!("{}: indices buffer too short", f.name));
                }
                let pieces: Vec<Option<Vec<u8>>> = (0..values.len)
                    .map(|i| {
                        values.get(i).map(|v| {
                            let mut piece = key.clone();
                            json_string(&mut piece, v);
                            piece
                        })
                    })
                    .collect();
                Prep::Dict { indices: *indices, valid: *valid, offset: *offset, pieces }
            }
            Column::Time { values, valid, offset } => {
                if values.len() < offset + n || !bits_ok(*valid, *offset) {
                    return Err(format!("{}: values buffer too short", f.name));
                }
                Prep::Time { values, valid: *valid, offset: *offset, prefix: [&key[..], b"\""].concat() }
            }
        };
        out.push(Prepared { name: f.name, prep, null_piece });
    }
    Ok(out)
}

/// Where a rendered row goes: counted first (to size the output exactly), then written.
trait Sink {
    fn put(&mut self, s: &[u8]);
    /// `v` JSON-escaped, without quotes.
    fn put_escaped(&mut self, v: &[u8]);
}

/// Counts bytes.
struct Count(usize);

impl Sink for Count {
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        self.0 += s.len();
    }

    fn put_escaped(&mut self, v: &[u8]) {
        self.0 += v
            .iter()
            .map(|&c| match c {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
                0..=0x1F => 6,
                _ => 1,
            })
            .sum::<usize>();
    }
}

/// Writes into a slice sized by [`Count`]; every write is checked against the end.
struct Write<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl Sink for Write<'_> {
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        assert!(s.len() <= self.out.len() - self.pos, "render: output sized too small");
        // SAFETY: checked just above: there is room for s at pos; out and s do not overlap.
        unsafe {
            let mut p = self.out.as_mut_ptr().add(self.pos);
            put(&mut p, s);
        }
        self.pos += s.len();
    }

    fn put_escaped(&mut self, v: &[u8]) {
        let mut buf = Vec::with_capacity(v.len() + 8);
        json_string(&mut buf, v);
        self.put(&buf[1..buf.len() - 1]);
    }
}

/// One row, as a JSON object (preceded by a comma unless it is row 0).
#[inline]
fn emit_row<S: Sink>(fields: &[Prepared<'_>], row: usize, sink: &mut S) -> Result<(), String> {
    sink.put(if row > 0 { b",{" } else { b"{" });
    let mut first = true;
    for f in fields {
        let sep = |sink: &mut S, first: &mut bool| {
            if !*first {
                sink.put(b",");
            }
            *first = false;
        };
        let present = match &f.prep {
            Prep::Str { s, prefix, escape } => match s.get(row) {
                Some(v) => {
                    sep(sink, &mut first);
                    sink.put(prefix);
                    if *escape {
                        sink.put_escaped(v);
                    } else {
                        sink.put(v);
                    }
                    sink.put(b"\"");
                    true
                }
                None if s.is_valid(row) => return Err(format!("{}: offsets out of range at row {row}", f.name)),
                None => false,
            },
            Prep::Dict { indices, valid, offset, pieces } => {
                if is_set(*valid, offset + row) {
                    let i = indices.get(offset + row);
                    match usize::try_from(i).ok().and_then(|i| pieces.get(i)) {
                        Some(Some(piece)) => {
                            sep(sink, &mut first);
                            sink.put(piece);
                            true
                        }
                        Some(None) => false,
                        None => return Err(format!("{}: dictionary index {i} out of range at row {row}", f.name)),
                    }
                } else {
                    false
                }
            }
            Prep::Time { values, valid, offset, prefix } => {
                if is_set(*valid, offset + row) {
                    sep(sink, &mut first);
                    sink.put(prefix);
                    let (buf, len) = time_text(values[offset + row]);
                    sink.put(&buf[..len]);
                    sink.put(b"\"");
                    true
                } else {
                    false
                }
            }
        };
        if !present {
            if let Some(np) = &f.null_piece {
                sep(sink, &mut first);
                sink.put(np);
            }
        }
    }
    sink.put(b"}");
    Ok(())
}

/// The bytes [`emit_row`] writes for rows `lo..hi`, summed column by column (a tight loop per
/// column instead of a walk of every field of every row), with the same checks of the buffers.
fn chunk_len(fields: &[Prepared<'_>], lo: usize, hi: usize) -> Result<usize, String> {
    let rows = hi - lo;
    let mut bytes = 0usize; // every emitted field's key and value
    let mut emitted = 0usize; // fields emitted, over all rows
    let always = fields.iter().any(|f| f.null_piece.is_some()); // then every row emits a field
    for f in fields {
        let null = f.null_piece.as_ref().map(Vec::len);
        let mut absent = 0usize;
        match &f.prep {
            Prep::Str { s, prefix, escape } => {
                let mut text = 0usize;
                for row in lo..hi {
                    match s.get(row) {
                        Some(v) if *escape => {
                            let mut c = Count(0);
                            c.put_escaped(v);
                            text += c.0;
                        }
                        Some(v) => text += v.len(),
                        None if s.is_valid(row) => return Err(format!("{}: offsets out of range at row {row}", f.name)),
                        None => absent += 1,
                    }
                }
                bytes += (rows - absent) * (prefix.len() + 1) + text;
            }
            Prep::Dict { indices, valid, offset, pieces } => {
                for row in lo..hi {
                    if !is_set(*valid, offset + row) {
                        absent += 1;
                        continue;
                    }
                    let i = indices.get(offset + row);
                    match usize::try_from(i).ok().and_then(|i| pieces.get(i)) {
                        Some(Some(piece)) => bytes += piece.len(),
                        Some(None) => absent += 1,
                        None => return Err(format!("{}: dictionary index {i} out of range at row {row}", f.name)),
                    }
                }
            }
            Prep::Time { values, valid, offset, prefix } => {
                // Years 0000-9999 render in 20 characters.
                const FIRST: i64 = -62_167_219_200;
                const END: i64 = 253_402_300_800;
                for row in lo..hi {
                    if !is_set(*valid, offset + row) {
                        absent += 1;
                        continue;
                    }
                    let t = values[offset + row];
                    bytes += prefix.len() + 1 + if (FIRST..END).contains(&t) { 20 } else { time_text(t).1 };
                }
            }
        }
        emitted += rows - absent;
        if let Some(len) = null {
            bytes += absent * len;
            emitted += absent;
        }
    }
    // Commas between a row's fields: one fewer than it emits (rows emitting none have none).
    let commas = if always {
        emitted - rows
    } else {
        let mut count = Count(0);
        for row in lo..hi {
            emit_row(fields, row, &mut count)?;
        }
        return Ok(count.0);
    };
    let separators = if lo == 0 { rows.saturating_sub(1) } else { rows };
    Ok(bytes + commas + 2 * rows + separators)
}

/// Result rows ready to render: the exact size of each chunk is known before anything is
/// written, so the output can be one buffer of the right size (e.g. a Python bytes object).
pub struct Rendering<'a> {
    fields: Vec<Prepared<'a>>,
    /// (first row, end row, bytes) per chunk.
    chunks: Vec<(usize, usize, usize)>,
}

const RENDER_CHUNK: usize = 1 << 14;

impl<'a> Rendering<'a> {
    /// Prepares rows `0..n` of `fields` (checking every buffer) and sizes their JSON.
    pub fn new(fields: &[Field<'a>], n: usize) -> Result<Rendering<'a>, String> {
        let fields = prepare(fields, n)?;
        let spans: Vec<(usize, usize)> =
            (0..n.div_ceil(RENDER_CHUNK)).map(|c| (c * RENDER_CHUNK, ((c + 1) * RENDER_CHUNK).min(n))).collect();
        let size = |&(lo, hi): &(usize, usize)| -> Result<(usize, usize, usize), String> { Ok((lo, hi, chunk_len(&fields, lo, hi)?)) };
        let chunks = if spans.len() > 1 {
            spans.par_iter().map(size).collect::<Result<_, _>>()?
        } else {
            spans.iter().map(size).collect::<Result<_, _>>()?
        };
        Ok(Rendering { fields, chunks })
    }

    /// Bytes the rows take: comma-separated JSON objects.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.2).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the rows into `out`, which must be exactly [`Rendering::len`] bytes (in parallel
    /// chunks for big batches).
    pub fn write(&self, out: &mut [u8]) {
        assert_eq!(out.len(), self.len(), "render: output of the wrong size");
        let mut slices = Vec::with_capacity(self.chunks.len());
        let mut rest = out;
        for &(lo, hi, len) in &self.chunks {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
            slices.push((lo, hi, head));
            rest = tail;
        }
        let fill = |(lo, hi, out): (usize, usize, &mut [u8])| {
            let mut w = Write { out, pos: 0 };
            for row in lo..hi {
                emit_row(&self.fields, row, &mut w).expect("checked when sized");
            }
            assert_eq!(w.pos, w.out.len(), "render: output sized wrongly");
        };
        if slices.len() > 1 {
            slices.into_par_iter().for_each(fill);
        } else {
            slices.into_iter().for_each(fill);
        }
    }
}

/// Renders rows `0..n` of `fields` as comma-separated JSON objects, appended to `out`.
pub fn render_rows(fields: &[Field<'_>], n: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let r = Rendering::new(fields, n)?;
    let start = out.len();
    out.resize(start + r.len(), 0);
    r.write(&mut out[start..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str) -> Result<Request, Fault> {
        decode_json(body.as_bytes(), 1_000_000)
    }

    #[test]
    fn fast_hex_agrees_with_the_library() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let alphabet = b"0123456789abcdefABCDEF:xX gG-";
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let s: Vec<u8> = (0..len).map(|i| alphabet[((x >> (i * 2 % 60)) as usize + i) % alphabet.len()]).collect();
            assert_eq!(parse_hex(&s), SerialKey::from_hex(&s), "{:?}", String::from_utf8_lossy(&s));
            let plain: Vec<u8> = (0..len.min(16)).map(|i| b"0123456789abcdef"[((x >> (i * 4)) & 15) as usize]).collect();
            assert_eq!(parse_hex(&plain), SerialKey::from_hex(&plain));
        }
    }

    #[test]
    fn string_scan_finds_the_first_stop_byte() {
        let mut x: u64 = 12345;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let pick = [b'a', b'"', b'\\', 0x1F, 0x20, 0x7F, 0x80, 0xFF, b'0', 0x00, b'!', b'#'];
            let b: Vec<u8> = (0..len).map(|i| pick[((x >> (i % 60)) as usize + i * 7) % pick.len()]).collect();
            let start = (x >> 50) as usize % (len + 1);
            let naive = (start..len).find(|&j| STRING_STOP[b[j] as usize]).unwrap_or(len);
            assert_eq!(scan_string(&b, start), naive, "{b:?} from {start}");
        }
    }

    #[test]
    fn single_and_items_forms() {
        let r = decode(r#"{"issuer": "a", "serials": ["054CFCD8", "0x05", "zz", 7, null, ["x"]], "provenance": true}"#).unwrap();
        assert!(!r.items_form && r.provenance);
        assert_eq!(r.serials.short, vec![0x054CFCD8, 5, 0, 0, 0, 0]);
        assert_eq!(r.serials.bad_rows, vec![2, 3, 4, 5]);
        assert_eq!(r.serials.bad_codes, vec![code::INVALID_HEX, code::NUMBER, code::NULL, code::ARRAY]);
        assert_eq!(r.serials.bad_text, b"zz");
        assert_eq!(r.issuer_data, b"a");
        let r = decode(r#"{"items": [{"issuer": "a", "serial": "01"}, {"serial": "02", "issuer": "b"}, {"issuer": "a", "serial": "03"}]}"#)
            .unwrap();
        assert!(r.items_form);
        assert_eq!(r.issuer_codes, vec![0, 1, 0]);
        assert_eq!(r.issuer_data, b"ab");
        assert_eq!(r.issuer_offsets, vec![0, 1, 2]);
        let r = decode(r#"{"items": [{"issuer": "a", "serial": "01"}, {"issuer": "a", "serial": "02"}]}"#).unwrap();
        assert!(r.issuer_codes.is_empty());
    }

    #[test]
    fn faults() {
        let f = decode("{\"issuer\": \"a\",\n \"serials\": [\"01\" \"02\"]}").unwrap_err();
        assert_eq!(f.status, 400);
        assert!(f.message.contains("line 2, column 19 (byte offset 34)"), "{}", f.message);
        let f = decode(r#"{"issuer": "a", "serials": []}"#).unwrap_err();
        assert_eq!((f.status, f.location.as_str()), (422, "/serials"));
        let f = decode(r#"{"items": [{"issuer": "a", "serial": "01", "x/y": 1}]}"#).unwrap_err();
        assert_eq!(f.location, "/items/0/x~1y");
        // A syntax error later in the body outranks a shape error earlier.
        let f = decode(r#"{"bogus": 1, "serials": [}"#).unwrap_err();
        assert_eq!(f.status, 400);
        let f = decode_json(br#"{"issuer": "a", "serials": ["1", "2", "3"]}"#, 2).unwrap_err();
        assert_eq!((f.status, f.location.as_str()), (413, "/serials"));
        let deep = format!(r#"{{"issuer": "a", "serials": [{}{}]}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(decode(&deep).unwrap_err().status, 400);
        let f = decode_json(b"{\"issuer\": \"a\", \"serials\": [\"0\xff\"]}", 10).unwrap_err();
        assert!(f.message.contains("byte offset 30"), "{}", f.message);
    }

    #[test]
    fn escapes() {
        let r = decode(r#"{"issuer": "\u0061\ud83d\ude00", "serials": ["\u0030\u0035", "\ud83d\ude00"]}"#).unwrap();
        assert_eq!(r.issuer_data, "a😀".as_bytes());
        assert_eq!(r.serials.short[0], 5);
        assert_eq!(r.serials.bad_text, "😀".as_bytes());
        assert_eq!(decode(r#"{"issuer": "a", "serials": ["\ud83d"]}"#).unwrap_err().status, 400);
        assert_eq!(decode(r#"{"issuer": "a", "serials": ["\x"]}"#).unwrap_err().status, 400);
    }

    #[test]
    fn times_and_strings_render() {
        let mut out = Vec::new();
        json_time(&mut out, 1795651200);
        json_time(&mut out, 0);
        json_time(&mut out, 951782400 + 86399); // 2000-02-29T23:59:59Z
        assert_eq!(out, br#""2026-11-26T00:00:00Z""1970-01-01T00:00:00Z""2000-02-29T23:59:59Z""#);
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\c\n\u{1}é".as_bytes());
        assert_eq!(std::str::from_utf8(&out).unwrap(), r#""a\"b\\c\n\u0001é""#);
    }

    #[test]
    fn rows_are_sized_exactly() {
        // Strings with and without escapes and nulls, a dictionary with a null value, times
        // inside and outside years 0-9999, fields that are left out when null.
        let texts: Vec<&[u8]> = vec![b"054CFCD8", b"", "é\"\\\n\u{1}".as_bytes(), b"zz", b"0x01"];
        let mut data = Vec::new();
        let mut offsets = vec![0i64];
        for t in &texts {
            data.extend_from_slice(t);
            offsets.push(data.len() as i64);
        }
        let plain = b"ABCD".repeat(5);
        let plain_offsets: Vec<i32> = (0..=5).map(|i| 4 * i).collect();
        let dict_data = b"goodrevoked";
        let dict_offsets = [0i64, 4, 11, 11];
        let dict_valid = [0b011u8];
        let indices: Vec<i8> = vec![0, 1, 2, 1, 0];
        let times = [0i64, 1_795_651_200, -70_000_000_000, 300_000_000_000, 5];
        for (valid_text, valid_idx, valid_time) in [(None, None, None), (Some([0b10101u8]), Some([0b11010u8]), Some([0b01101u8]))] {
            for omit in [false, true] {
                let strings =
                    |valid: Option<&'static [u8]>| Strings { offsets: Offsets::I64(&offsets), data: &data, valid, offset: 0, len: 5 };
                let vt: Option<&'static [u8]> = valid_text.map(|v| &*Box::leak(Box::new(v)) as &[u8]);
                let vi: Option<&'static [u8]> = valid_idx.map(|v| &*Box::leak(Box::new(v)) as &[u8]);
                let vm: Option<&'static [u8]> = valid_time.map(|v| &*Box::leak(Box::new(v)) as &[u8]);
                let values = Strings { offsets: Offsets::I64(&dict_offsets), data: dict_data, valid: Some(&dict_valid), offset: 0, len: 3 };
                let fields = vec![
                    Field { name: "serial", column: Column::Str(strings(vt)), omit_null: omit },
                    Field {
                        name: "plain",
                        column: Column::Str(Strings {
                            offsets: Offsets::I32(&plain_offsets),
                            data: &plain,
                            valid: None,
                            offset: 0,
                            len: 5,
                        }),
                        omit_null: omit,
                    },
                    Field {
                        name: "status",
                        column: Column::Dict { indices: Indices::I8(&indices), valid: vi, offset: 0, values },
                        omit_null: omit,
                    },
                    Field { name: "when", column: Column::Time { values: &times, valid: vm, offset: 0 }, omit_null: true },
                ];
                for (lo, hi) in [(0, 5), (1, 4), (2, 5), (0, 0)] {
                    let prepared = prepare(&fields, 5).unwrap();
                    let mut count = Count(0);
                    for row in lo..hi {
                        emit_row(&prepared, row, &mut count).unwrap();
                    }
                    assert_eq!(chunk_len(&prepared, lo, hi).unwrap(), count.0, "rows {lo}..{hi}, omit {omit}");
                }
                let mut out = b"[".to_vec();
                render_rows(&fields, 5, &mut out).unwrap();
                out.push(b']');
                assert!(std::str::from_utf8(&out).is_ok());
            }
        }
    }

    #[test]
    fn serial_text_column() {
        let mut s = Serials::with_capacity(4);
        s.push_hex(b"054cfcd8", true);
        s.push_hex(b"zz", true);
        s.push_hex(&[b'8'; 40], true);
        s.push_binary(b"");
        let (mut view, valid) = s.view();
        view.bad_text_valid = valid.as_deref();
        view.check().unwrap();
        let (offsets, data, validity) = serial_text(&view);
        assert_eq!(offsets, vec![0, 8, 10, 50, 50]);
        assert_eq!(&data[..10], b"054CFCD8zz");
        assert_eq!(validity, Some(vec![0b0111]));
    }

    #[test]
    fn issuers_map_like_the_store() {
        let names: Vec<&[u8]> = vec![b"auth", b"ab:CD", b" abcd ", b"nope", "é".as_bytes()];
        let rows = map_issuers(names.into_iter(), &[b"auth", b"sign"], &[b"ABCD", b"EF01"]);
        assert_eq!(rows, vec![0, 0, 0, UNKNOWN_ISSUER, ASK_CALLER]);
    }
}
