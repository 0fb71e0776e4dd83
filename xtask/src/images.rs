//! The default images, pinned (pins.txt, which `cargo xtask pins --update`
//! writes): each image's dated tag, digest and interpreters, as data. It
//! reads nothing of the rest of the tool, so that the configuration's
//! defaults can name these images.

use std::sync::OnceLock;

use crate::platform::Arch;

/// The table, as this build of the tool was made with.
pub const TABLE: &str = include_str!("pins.txt");

/// Where quay.io keeps manylinux's images.
pub const REGISTRY: &str = "quay.io/pypa";

/// One pinned image.
#[derive(Debug, PartialEq)]
pub struct Pin {
    /// Its name under quay.io/pypa, such as `manylinux_2_28_x86_64`.
    pub name: String,
    /// Its dated tag, such as `2026.08.15-1`.
    pub tag: String,
    /// `sha256:` and 64 hex digits.
    pub digest: String,
    /// The folders of its /opt/python.
    pub dirs: Vec<String>,
}

impl Pin {
    /// The reference an engine pulls and runs: name, tag (for the reader)
    /// and digest (what the engine holds to).
    pub fn reference(&self) -> String {
        format!("{REGISTRY}/{}:{}@{}", self.name, self.tag, self.digest)
    }

    /// The arch the image is of (its name's last part).
    pub fn arch(&self) -> Option<Arch> {
        Arch::ALL
            .into_iter()
            .find(|a| self.name.ends_with(&format!("_{}", a.name())))
    }
}

/// Reads a table in pins.txt's format.
pub fn parse(text: &str) -> Result<Vec<Pin>, String> {
    let mut pins = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(tag), Some(digest)) = (words.next(), words.next(), words.next())
        else {
            return Err(format!(
                "line {}: `{line}` has no name, tag and digest",
                n + 1
            ));
        };
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "line {}: `{digest}` is not a digest (sha256: and 64 hex digits)",
                n + 1
            ));
        }
        pins.push(Pin {
            name: name.into(),
            tag: tag.into(),
            digest: digest.into(),
            dirs: words.map(String::from).collect(),
        });
    }
    Ok(pins)
}

/// Every pinned image.
pub fn all() -> &'static [Pin] {
    static PINS: OnceLock<Vec<Pin>> = OnceLock::new();
    PINS.get_or_init(|| parse(TABLE).expect("pins.txt is well formed (a unit test reads it)"))
}

/// The image that quay.io/pypa's `name` (such as `manylinux2014_x86_64`)
/// stands for: its pinned reference, or the floating name where it is not
/// pinned.
pub fn image(name: &str) -> String {
    all()
        .iter()
        .find(|p| p.name == name)
        .map_or_else(|| format!("{REGISTRY}/{name}"), Pin::reference)
}

/// The interpreter folders of `image`, known without pulling or listing it
/// when it is a pinned reference.
pub fn listing(image: &str) -> Option<&'static [String]> {
    all()
        .iter()
        .find(|p| p.reference() == image)
        .map(|p| p.dirs.as_slice())
}

/// The AUDITWHEEL_PLAT a pinned image sets: its name (manylinux's images
/// are `<policy>_<arch>` and set that).
pub fn plat(image: &str) -> Option<&'static str> {
    all()
        .iter()
        .find(|p| p.reference() == image)
        .map(|p| p.name.as_str())
}
