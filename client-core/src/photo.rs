//! Photos as evidence, made ready on the phone before they are stored: decoded, turned upright,
//! scaled down to a longest side, and encoded again as JPEG. Encoding again keeps the pixels
//! alone: the camera's metadata (the phone's make and model, its serial numbers, the place the
//! photo was taken) is not carried over. The time the photo was taken is read from it first
//! and kept with the photo in the record.

use chrono::{NaiveDateTime, TimeZone};
use image::ImageDecoder;

use crate::{Error, Result};

/// The largest photo the phone accepts from the camera (before it is made smaller).
pub const MAX_INPUT_BYTES: usize = 30 * 1024 * 1024;

/// A decoded photo may take at most this much memory (a 48-megapixel photo fits).
const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;

/// How photos are made ready and how many may wait for upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoOptions {
    /// The longest side of a stored photo in pixels (a larger photo is scaled down to it).
    pub longest_side: u32,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
    /// Photos and signature images waiting for upload may hold at most this many bytes on the
    /// phone; a photo beyond it is refused until a sync has uploaded some.
    pub waiting_quota_bytes: u64,
}

impl Default for PhotoOptions {
    fn default() -> Self {
        PhotoOptions {
            longest_side: 1600,
            quality: 80,
            waiting_quota_bytes: 200 * 1024 * 1024,
        }
    }
}

impl PhotoOptions {
    pub fn check(&self) -> Result<()> {
        if !(320..=8000).contains(&self.longest_side) {
            return Err(Error::Invalid(format!(
                "a photo's longest side is 320 to 8000 pixels, not {}",
                self.longest_side
            )));
        }
        if !(30..=100).contains(&self.quality) {
            return Err(Error::Invalid(format!(
                "a photo's JPEG quality is 30 to 100, not {}",
                self.quality
            )));
        }
        if self.waiting_quota_bytes < crate::wire::MAX_BLOB_BYTES as u64 {
            return Err(Error::Invalid(format!(
                "the quota for photos waiting to upload is at least {} bytes (one photo), not {}",
                crate::wire::MAX_BLOB_BYTES,
                self.waiting_quota_bytes
            )));
        }
        Ok(())
    }
}

/// A photo ready to store: JPEG bytes without the camera's metadata.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// When the camera says it was taken (unix seconds), if it says so.
    pub taken_at: Option<i64>,
}

/// Makes a camera's JPEG ready to store (see the module's description). The time zone
/// `zone` reads a capture time the camera wrote without an offset (the phone's own time).
pub fn prepare(bytes: &[u8], options: &PhotoOptions, zone: chrono_tz::Tz) -> Result<Prepared> {
    options.check()?;
    if bytes.is_empty() {
        return Err(Error::Invalid("the photo is empty".into()));
    }
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::Invalid(format!(
            "the photo is {:.1} MB; at most {} MB is taken (take it again at a lower resolution)",
            bytes.len() as f64 / 1_048_576.0,
            MAX_INPUT_BYTES / 1_048_576
        )));
    }
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(Error::Invalid(
            "this is not a JPEG photo (the camera's format); other files cannot be attached".into(),
        ));
    }
    let unreadable = |e: image::ImageError| {
        Error::Invalid(format!("the photo cannot be read ({e}); take it again"))
    };
    let mut decoder =
        image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes)).map_err(unreadable)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    decoder.set_limits(limits).map_err(unreadable)?;
    let exif = decoder.exif_metadata().ok().flatten();
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture = image::DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    picture.apply_orientation(orientation);
    let side = options.longest_side;
    if picture.width() > side || picture.height() > side {
        picture = picture.resize(side, side, image::imageops::FilterType::Triangle);
    }
    let rgb = picture.to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, options.quality)
        .encode_image(&rgb)
        .map_err(|e| Error::Internal(format!("the photo cannot be encoded: {e}")))?;
    Ok(Prepared {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
        taken_at: exif.as_deref().and_then(|e| capture_time(e, zone)),
    })
}

/// The capture time in an EXIF block (a TIFF structure): `DateTimeOriginal` (0x9003) in the
/// EXIF directory, with `OffsetTimeOriginal` (0x9011) when the camera wrote one, else read in
/// `zone`; IFD0's `DateTime` (0x0132) when there is no original.
pub fn capture_time(exif: &[u8], zone: chrono_tz::Tz) -> Option<i64> {
    let tiff = Tiff::new(exif)?;
    let ifd0 = tiff.u32_at(4)? as usize;
    let exif_ifd = tiff.entry(ifd0, 0x8769).and_then(|e| tiff.u32_at(e + 8));
    let in_exif = |tag| exif_ifd.and_then(|at| tiff.ascii(at as usize, tag));
    let local = in_exif(0x9003).or_else(|| tiff.ascii(ifd0, 0x0132))?;
    let naive = NaiveDateTime::parse_from_str(local.trim(), "%Y:%m:%d %H:%M:%S").ok()?;
    let at = match in_exif(0x9011).and_then(|o| o.trim().parse::<chrono::FixedOffset>().ok()) {
        Some(offset) => offset.from_local_datetime(&naive).single()?.timestamp(),
        None => zone.from_local_datetime(&naive).earliest()?.timestamp(),
    };
    Some(at)
}

/// Reading a TIFF structure's directories, in either byte order.
struct Tiff<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl<'a> Tiff<'a> {
    fn new(exif: &'a [u8]) -> Option<Tiff<'a>> {
        // Some writers keep the APP1 block's "Exif\0\0" prefix.
        let bytes = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
        let little = match bytes.get(..4)? {
            [b'I', b'I', 42, 0] => true,
            [b'M', b'M', 0, 42] => false,
            _ => return None,
        };
        Some(Tiff { bytes, little })
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// The offset of the 12-byte entry of `tag` in the directory at `ifd`.
    fn entry(&self, ifd: usize, tag: u16) -> Option<usize> {
        let count = self.u16_at(ifd)? as usize;
        (0..count.min(512))
            .map(|i| ifd + 2 + i * 12)
            .find(|&e| self.u16_at(e) == Some(tag))
    }

    /// An ASCII value (type 2) of the directory at `ifd`, without its closing NUL.
    fn ascii(&self, ifd: usize, tag: u16) -> Option<String> {
        let e = self.entry(ifd, tag)?;
        if self.u16_at(e + 2)? != 2 {
            return None;
        }
        let len = self.u32_at(e + 4)? as usize;
        let start = if len <= 4 {
            e + 8
        } else {
            self.u32_at(e + 8)? as usize
        };
        let raw = self.bytes.get(start..start.checked_add(len)?)?;
        let text = raw.split(|b| *b == 0).next()?;
        String::from_utf8(text.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An EXIF block in `little` or big byte order: IFD0 pointing at an EXIF directory that
    /// holds `DateTimeOriginal` and, if given, `OffsetTimeOriginal`.
    fn exif_block(little: bool, taken: &str, offset: Option<&str>) -> Vec<u8> {
        let u16b = |v: u16| {
            if little {
                v.to_le_bytes().to_vec()
            } else {
                v.to_be_bytes().to_vec()
            }
        };
        let u32b = |v: u32| {
            if little {
                v.to_le_bytes().to_vec()
            } else {
                v.to_be_bytes().to_vec()
            }
        };
        let mut out = if little {
            b"II\x2a\x00".to_vec()
        } else {
            b"MM\x00\x2a".to_vec()
        };
        out.extend(u32b(8));
        // IFD0 at 8: one entry (the EXIF pointer), then no next directory.
        let exif_ifd = 8 + 2 + 12 + 4;
        out.extend(u16b(1));
        out.extend(u16b(0x8769));
        out.extend(u16b(4));
        out.extend(u32b(1));
        out.extend(u32b(exif_ifd));
        out.extend(u32b(0));
        // The EXIF directory: its entries, then their values.
        let entries: Vec<(u16, String)> = std::iter::once((0x9003, format!("{taken}\0")))
            .chain(offset.map(|o| (0x9011, format!("{o}\0"))))
            .collect();
        let mut value_at = exif_ifd as usize + 2 + entries.len() * 12 + 4;
        out.extend(u16b(entries.len() as u16));
        let mut values: Vec<u8> = Vec::new();
        for (tag, text) in &entries {
            out.extend(u16b(*tag));
            out.extend(u16b(2));
            out.extend(u32b(text.len() as u32));
            out.extend(u32b(value_at as u32));
            value_at += text.len();
            values.extend(text.as_bytes());
        }
        out.extend(u32b(0));
        out.extend(values);
        out
    }

    #[test]
    fn capture_time_in_both_byte_orders_with_and_without_offset() {
        let zone = chrono_tz::Asia::Shanghai;
        // 2026-12-02 09:30:00 in Beijing is 01:30:00 UTC.
        let expect = 1_796_175_000;
        for little in [true, false] {
            let local = exif_block(little, "2026:12:02 09:30:00", None);
            assert_eq!(capture_time(&local, zone), Some(expect));
            let tokyo = exif_block(little, "2026:12:02 10:30:00", Some("+09:00"));
            assert_eq!(capture_time(&tokyo, zone), Some(expect));
        }
        let mut prefixed = b"Exif\0\0".to_vec();
        prefixed.extend(exif_block(true, "2026:12:02 09:30:00", None));
        assert_eq!(capture_time(&prefixed, zone), Some(expect));
        // Bad blocks read as no time, never a panic.
        for bad in [
            &b""[..],
            b"II*\0",
            b"MM\0*\xff\xff\xff\xff",
            b"not exif at all",
        ] {
            assert_eq!(capture_time(bad, zone), None);
        }
        let garbled = exif_block(true, "yesterday morning", None);
        assert_eq!(capture_time(&garbled, zone), None);
        // Every truncation of a good block is read without a panic.
        let good = exif_block(false, "2026:12:02 09:30:00", Some("+08:00"));
        for n in 0..good.len() {
            let _ = capture_time(&good[..n], zone);
        }
    }
}
