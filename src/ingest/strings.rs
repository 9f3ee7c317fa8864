//! A string column built a value at a time by the parse workers, as an Arrow string view array.
//!
//! polars' `StringChunkedBuilder` pushes each value through `push_value_into_buffer`, which
//! returns the 16-byte view through memory after writing its parts separately; the view's
//! copy into the column then waits on those stores (perf: a quarter of the workers' own time
//! in the load's parsing loop sat on that one copy, about 3% of a 10M-line load's CPU). Here a
//! value of up to 12 bytes, which Arrow keeps inside its view (ids, codes, currencies: nearly
//! every value of an export), has its view assembled in registers; longer ones go to the
//! column's one byte buffer.

use polars::prelude::*;
use polars_arrow::array::{Utf8ViewArray, View};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::ArrowDataType;

/// Longest value kept inside its view.
const INLINE: usize = View::MAX_INLINE_SIZE as usize;

pub struct StrColumn {
    name: PlSmallStr,
    views: Vec<View>,
    /// Bytes of the values longer than [`INLINE`].
    buffer: Vec<u8>,
    /// `None` while no value is null.
    validity: Option<MutableBitmap>,
    total_bytes: usize,
}

impl StrColumn {
    pub fn new(name: PlSmallStr, capacity: usize) -> StrColumn {
        StrColumn {
            name,
            views: Vec::with_capacity(capacity),
            buffer: Vec::new(),
            validity: None,
            total_bytes: 0,
        }
    }

    #[inline]
    pub fn push_value(&mut self, value: &str) {
        let bytes = value.as_bytes();
        let view = if bytes.len() <= INLINE {
            View::from(inline_view(bytes))
        } else {
            let offset = u32::try_from(self.buffer.len()).expect("a batch's text below 4 GiB");
            self.buffer.extend_from_slice(bytes);
            View::new_from_bytes(bytes, 0, offset)
        };
        self.views.push(view);
        self.total_bytes += bytes.len();
        if let Some(validity) = &mut self.validity {
            validity.push(true);
        }
    }

    pub fn push_null(&mut self) {
        let validity = self.validity.get_or_insert_with(|| {
            let mut v = MutableBitmap::with_capacity(self.views.capacity());
            v.extend_constant(self.views.len(), true);
            v
        });
        validity.push(false);
        self.views.push(View::default());
    }

    pub fn finish(self) -> StringChunked {
        let buffers: Vec<polars_buffer::Buffer<u8>> = if self.buffer.is_empty() {
            Vec::new()
        } else {
            vec![self.buffer.into()]
        };
        let buffer_len = buffers.iter().map(|b| b.len()).sum();
        // SAFETY: every view is a valid UTF-8 value's (pushed from a `&str`): inline, or
        // made by `View::new_from_bytes` for bytes at its offset in buffer 0; the validity,
        // where there is one, has a bit per view.
        let array = unsafe {
            Utf8ViewArray::new_unchecked(
                ArrowDataType::Utf8View,
                self.views.into(),
                buffers.into(),
                self.validity.map(Into::into),
                Some(self.total_bytes),
                buffer_len,
            )
        };
        StringChunked::with_chunk(self.name, array)
    }
}

/// The view of `bytes` (at most 12) as the 128-bit value Arrow lays out: the length in the low
/// 32 bits, the bytes after it. Read with loads that may overlap and combined by shifts, so
/// that the view never passes through memory.
#[inline]
fn inline_view(bytes: &[u8]) -> u128 {
    let n = bytes.len();
    debug_assert!(n <= INLINE);
    let data: u128 = if n >= 8 {
        let low = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as u128;
        let high = u32::from_le_bytes(bytes[n - 4..].try_into().expect("4 bytes")) as u128;
        low | high << ((n - 4) * 8)
    } else if n >= 4 {
        let low = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as u128;
        let high = u32::from_le_bytes(bytes[n - 4..].try_into().expect("4 bytes")) as u128;
        low | high << ((n - 4) * 8)
    } else if n > 0 {
        bytes[0] as u128
            | (bytes[n / 2] as u128) << (n / 2 * 8)
            | (bytes[n - 1] as u128) << ((n - 1) * 8)
    } else {
        0
    };
    n as u128 | data << 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_views_are_arrows() {
        let text = b"abcdefghijklm\xc3\xa9\0\xff";
        for start in 0..text.len() {
            for end in start..text.len().min(start + INLINE) + 1 {
                let bytes = &text[start..end];
                assert_eq!(
                    View::from(inline_view(bytes)),
                    View::new_inline(bytes),
                    "{bytes:?}"
                );
            }
        }
    }

    #[test]
    fn column_reads_back_values_and_nulls() {
        let values = [
            Some("C0000001"),
            None,
            Some(""),
            Some("a value of more than twelve bytes"),
            Some("é"),
            Some("exactly 12 b"),
            Some("thirteen byte"),
            None,
        ];
        let mut c = StrColumn::new("x".into(), 2);
        for v in values {
            match v {
                Some(v) => c.push_value(v),
                None => c.push_null(),
            }
        }
        let column = c.finish();
        let got: Vec<Option<&str>> = column.iter().collect();
        assert_eq!(got, values);
        let mut c = StrColumn::new("x".into(), 0);
        c.push_value("only");
        let s = c.finish();
        assert_eq!(s.null_count(), 0);
        assert_eq!(s.get(0), Some("only"));
    }
}
