//! Serial numbers in bulk: normalising Arrow hex/binary columns into index keys, and the
//! canonical hex of many keys, on all cores with the GIL released.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use jpki_fast_core::index::LongKey;
use jpki_fast_core::serial::{SerialError, SerialKey};

use crate::buffers::{bytes, Bytes, Held};

/// (short, long_rows, long_keys, first error as (row, message)).
type NormalizedSerials = (Py<Bytes>, Py<Bytes>, Py<Bytes>, Option<(usize, String)>);
type SerialColumns = (Vec<u64>, Vec<u32>, Vec<LongKey>);

/// Normalises serials given as Arrow string (`kind` "hex") or binary arrays: "binary" for
/// big-endian magnitudes, "integer" for DER INTEGER content octets (signed, exact: what a
/// certificate's serialNumber holds).
///
/// `offsets` is the Arrow offsets buffer (int32, or int64 when `large`), `data` the values
/// buffer, `validity` the optional validity bitmap and `offset` the array offset. Returns
/// `(short uint64 buffer, long_rows uint32 buffer, long_keys buffer, error)` where error is
/// None or `(row, message)` for the first invalid item.
#[pyfunction]
#[pyo3(signature = (kind, offsets, data, length, offset=0, large=false, validity=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn normalize_serials<'py>(
    py: Python<'py>,
    kind: &str,
    offsets: Bound<'py, PyAny>,
    data: Bound<'py, PyAny>,
    length: usize,
    offset: usize,
    large: bool,
    validity: Option<Bound<'py, PyAny>>,
) -> PyResult<NormalizedSerials> {
    #[derive(Clone, Copy)]
    enum Kind {
        Hex,
        Binary,
        Integer,
    }
    let kind = match kind {
        "hex" => Kind::Hex,
        "binary" => Kind::Binary,
        "integer" => Kind::Integer,
        other => return Err(PyValueError::new_err(format!("unknown serial kind {other}"))),
    };
    let off_h = Held::get(&offsets, "offsets")?;
    let data_h = Held::get(&data, "data")?;
    let val_h = validity.as_ref().map(|v| Held::get(v, "validity")).transpose()?;
    let data_s: &[u8] = data_h.slice()?;
    let val_s: Option<&[u8]> = val_h.as_ref().map(|h| h.slice()).transpose()?;
    let offs: Vec<(usize, usize)> = if large {
        let o: &[i64] = off_h.slice()?;
        if o.len() < offset + length + 1 {
            return Err(PyValueError::new_err("offsets buffer too short"));
        }
        (offset..offset + length).map(|i| (o[i] as usize, o[i + 1] as usize)).collect()
    } else {
        let o: &[i32] = off_h.slice()?;
        if o.len() < offset + length + 1 {
            return Err(PyValueError::new_err("offsets buffer too short"));
        }
        (offset..offset + length).map(|i| (o[i] as usize, o[i + 1] as usize)).collect()
    };
    let result = py.detach(|| -> Result<SerialColumns, (usize, String)> {
        let mut short = vec![0u64; length];
        let mut long_rows = Vec::new();
        let mut long_keys = Vec::new();
        for (row, &(a, b)) in offs.iter().enumerate() {
            if let Some(v) = val_s {
                let bit = offset + row;
                if v.get(bit / 8).is_some_and(|byte| byte & (1 << (bit % 8)) == 0) {
                    return Err((row, "missing (null) serial".to_string()));
                }
            }
            let item = data_s.get(a..b).ok_or((row, "offsets out of range".to_string()))?;
            let key = match kind {
                Kind::Hex => SerialKey::from_hex(item),
                Kind::Binary if item.is_empty() => Err(SerialError::Empty),
                Kind::Binary => SerialKey::from_be_bytes(item),
                Kind::Integer => SerialKey::from_integer(item),
            };
            match key {
                Ok(SerialKey::Short(v)) => short[row] = v,
                Ok(SerialKey::Long(k)) => {
                    long_rows.push(row as u32);
                    long_keys.push(k);
                }
                Err(e) => return Err((row, e.to_string())),
            }
        }
        Ok((short, long_rows, long_keys))
    });
    match result {
        Ok((s, r, k)) => Ok((bytes(py, s)?, bytes(py, r)?, bytes(py, k)?, None)),
        Err(e) => Ok((bytes(py, Vec::<u64>::new())?, bytes(py, Vec::<u32>::new())?, bytes(py, Vec::<LongKey>::new())?, Some(e))),
    }
}

/// Canonical uppercase hex of many serials: `short` uint64 buffer, with the rows listed in
/// `long_rows` taking their value from `long_keys`. Returns (offsets int64 buffer, data buffer): an Arrow large_string.
#[pyfunction]
#[pyo3(signature = (short, long_rows=None, long_keys=None))]
pub(crate) fn serials_to_hex<'py>(
    py: Python<'py>,
    short: Bound<'py, PyAny>,
    long_rows: Option<Bound<'py, PyAny>>,
    long_keys: Option<Bound<'py, PyAny>>,
) -> PyResult<(Py<Bytes>, Py<Bytes>)> {
    let sh = Held::get(&short, "serials")?;
    let s: &[u64] = sh.slice()?;
    let mut long: Vec<(u32, LongKey)> = Vec::new();
    if let (Some(r), Some(k)) = (&long_rows, &long_keys) {
        let rh = Held::get(r, "long_rows")?;
        let kh = Held::get(k, "long_keys")?;
        let rs: &[u32] = rh.slice()?;
        let ks: &[LongKey] = kh.slice()?;
        long = rs.iter().copied().zip(ks.iter().copied()).collect();
    }
    let (offsets, data) = py.detach(|| hex_column(s, long));
    Ok((bytes(py, offsets)?, bytes(py, data)?))
}

/// Canonical hex of many serials as an Arrow large_string (offsets, data), built on all cores:
/// each chunk measures its rows, then writes its own slice of the data.
fn hex_column(short: &[u64], mut long: Vec<(u32, LongKey)>) -> (Vec<i64>, Vec<u8>) {
    use rayon::prelude::*;
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    const CHUNK: usize = 1 << 16;
    long.sort_unstable_by_key(|x| x.0);
    let long_text: std::collections::HashMap<usize, String> =
        long.iter().map(|&(row, key)| (row as usize, SerialKey::Long(key).to_hex())).collect();
    let width = |row: usize, v: u64| -> usize {
        match long_text.get(&row) {
            Some(t) => t.len(),
            None => 2 * if v == 0 { 1 } else { (64 - v.leading_zeros() as usize).div_ceil(8) },
        }
    };
    let n = short.len();
    let mut offsets: Vec<i64> = jpki_fast_core::mem::uninit_vec(n + 1);
    offsets[0] = 0;
    // Pass 1: per-chunk lengths, then running starts.
    let chunk_len: Vec<usize> =
        short.par_chunks(CHUNK).enumerate().map(|(c, vs)| vs.iter().enumerate().map(|(k, &v)| width(c * CHUNK + k, v)).sum()).collect();
    let mut starts = Vec::with_capacity(chunk_len.len());
    let mut total = 0usize;
    for len in &chunk_len {
        starts.push(total);
        total += len;
    }
    let mut data: Vec<u8> = jpki_fast_core::mem::uninit_vec(total);
    // Pass 2: each chunk writes its offsets and its slice of the data.
    let mut data_slices = Vec::with_capacity(chunk_len.len());
    let mut rest = data.as_mut_slice();
    for len in &chunk_len {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(*len);
        data_slices.push(head);
        rest = tail;
    }
    short.par_chunks(CHUNK).zip(offsets[1..].par_chunks_mut(CHUNK)).zip(data_slices.into_par_iter()).enumerate().for_each(
        |(c, ((vs, offs), out))| {
            let mut pos = 0usize;
            for (k, &v) in vs.iter().enumerate() {
                let row = c * CHUNK + k;
                if let Some(t) = long_text.get(&row) {
                    out[pos..pos + t.len()].copy_from_slice(t.as_bytes());
                    pos += t.len();
                } else {
                    let octets = if v == 0 { 1 } else { (64 - v.leading_zeros() as usize).div_ceil(8) };
                    for i in (0..octets).rev() {
                        let b = (v >> (i * 8)) as u8;
                        out[pos] = DIGITS[(b >> 4) as usize];
                        out[pos + 1] = DIGITS[(b & 0xF) as usize];
                        pos += 2;
                    }
                }
                offs[k] = (starts[c] + pos) as i64;
            }
        },
    );
    (offsets, data)
}
