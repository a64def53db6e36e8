//! What the server takes for a profile photo: a JPEG, PNG or WebP image, told apart by its
//! first bytes (a client's `Content-Type` is not trusted), named by the SHA-256 of its bytes.
//! A leaf module: the photo routes and the stores use it.

use sha2::{Digest, Sha256};

/// The image types a photo may be: the ones every browser shows. The type is read from the
/// bytes at upload, stored, and sent back as the `Content-Type` (with `nosniff`), so what a
/// browser is told is always what the bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageType {
    /// `FF D8 FF`.
    Jpeg,
    /// `89 50 4E 47 0D 0A 1A 0A`.
    Png,
    /// `RIFF`, four bytes of length, `WEBP`.
    Webp,
}

impl ImageType {
    /// The type of an image from its first bytes (its magic number); `None` for anything
    /// else (GIF, SVG, text, a truncated header).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    /// Its media type, as stored and sent.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

/// The SHA-256 of `bytes` as a photo's path names it: 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_told_by_their_first_bytes() {
        assert_eq!(
            ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::sniff(b"\x89PNG\r\n\x1a\n\0\0"),
            Some(ImageType::Png)
        );
        assert_eq!(
            ImageType::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(ImageType::Webp)
        );
        for other in [
            &b"GIF89a"[..],
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"hello",
            b"",
            &[0xFF, 0xD8],
            b"RIFF\x10\0\0\0WAVE",
            b"RIFF\x10\0\0\0WEB",
        ] {
            assert_eq!(ImageType::sniff(other), None, "{other:?}");
        }
        assert_eq!(ImageType::Webp.mime(), "image/webp");
    }

    #[test]
    fn the_name_is_the_lowercase_hex_sha256() {
        let sha = sha256_hex(b"abc");
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(outpost_core::validate::is_sha256_hex(&sha));
    }
}
