//! Bounds-checked reading and writing of SMPP primitive fields.

use bytes::{BufMut, Bytes, BytesMut};

/// Why a PDU body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body ended before a mandatory field was complete.
    #[error("body truncated while reading {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A C-octet string had no NUL within its maximum length.
    #[error("C-octet string {field} is longer than {max} octets or not NUL-terminated")]
    CString {
        /// The field being read.
        field: &'static str,
        /// Its maximum length including the NUL.
        max: usize,
    },
    /// A C-octet string was not valid UTF-8 (SMPP strings are ASCII).
    #[error("C-octet string {field} is not ASCII/UTF-8")]
    NotText {
        /// The field being read.
        field: &'static str,
    },
    /// A TLV header or value ran past the end of the body.
    #[error("TLV 0x{tag:04X} truncated")]
    TlvTruncated {
        /// The TLV tag (0 when even the tag was cut).
        tag: u16,
    },
    /// A count field (number_of_dests, no_unsuccess) promised more entries than the body holds.
    #[error("invalid {field}")]
    Invalid {
        /// The field.
        field: &'static str,
    },
}

impl DecodeError {
    /// The command_status an SMSC or ESME answers this error with (SMPP 3.4 section 5.1.3).
    pub fn command_status(&self) -> crate::CommandStatus {
        use crate::CommandStatus as S;
        match self {
            DecodeError::Truncated { .. } => S::ESME_RINVMSGLEN,
            DecodeError::CString { .. } | DecodeError::NotText { .. } => S::ESME_RINVMSGLEN,
            DecodeError::TlvTruncated { .. } => S::ESME_RINVTLVSTREAM,
            DecodeError::Invalid { .. } => S::ESME_RINVNUMDESTS,
        }
    }
}

/// A cursor over a frame body; every read checks the remaining length first.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(DecodeError::Truncated { field })?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let s = self.take(2, field)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let s = self.take(4, field)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// `n` octets as a shared slice of the frame (no copy).
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated { field });
        }
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    /// A NUL-terminated string of at most `max` octets including the NUL.
    pub(crate) fn cstring(
        &mut self,
        max: usize,
        field: &'static str,
    ) -> Result<String, DecodeError> {
        let rest = &self.buf[self.pos..];
        let window = &rest[..rest.len().min(max)];
        let Some(nul) = window.iter().position(|&b| b == 0) else {
            if rest.len() < max {
                return Err(DecodeError::Truncated { field });
            }
            return Err(DecodeError::CString { field, max });
        };
        let s = std::str::from_utf8(&window[..nul]).map_err(|_| DecodeError::NotText { field })?;
        let s = s.to_owned();
        self.pos += nul + 1;
        Ok(s)
    }

    /// The rest of the body.
    pub(crate) fn rest(&mut self) -> Bytes {
        let out = self.buf.slice(self.pos..);
        self.pos = self.buf.len();
        out
    }
}

/// Writes a C-octet string; longer values are cut to `max - 1` octets so the PDU stays valid.
pub(crate) fn put_cstring(out: &mut BytesMut, s: &str, max: usize) {
    let bytes = s.as_bytes();
    let n = bytes.len().min(max.saturating_sub(1));
    out.put_slice(&bytes[..n]);
    out.put_u8(0);
}
