//! cibuildwheel's build selectors (`build`, `skip`, `test-skip`): glob
//! patterns over build identifiers, and what they select.

use anyhow::{bail, Result};
use std::fmt;

use crate::platform::{Arch, BuildId, Libc, PythonTag};

/// cibuildwheel's build selectors: glob patterns over build identifiers
/// (`*`, `?`, `[...]`, `[!...]`), with shell-like braces (`cp3{10,11}-*`,
/// `cp3{10..12}-*`), matched case-sensitively as Python's fnmatch does on Linux.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Patterns(Vec<String>);

impl Patterns {
    /// Each item may hold several space-separated patterns.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Patterns> {
        let mut patterns = Vec::new();
        for item in items {
            for word in item.as_ref().split_whitespace() {
                let expanded = expand_braces(word);
                if expanded.is_empty() {
                    bail!("pattern `{word}` has unbalanced braces: write cp3{{10,11}}-*");
                }
                patterns.push(word.to_string());
            }
        }
        Ok(Patterns(patterns))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether any pattern matches `id`.
    pub fn matches(&self, id: &str) -> bool {
        self.0.iter().any(|p| pattern_matches(p, id))
    }
}

impl fmt::Display for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// Whether some build of `arch` could pass the patterns, whatever the image
/// offers: tried on every interpreter a manylinux image might carry, so that
/// an arch the patterns rule out needs no container at all.
pub fn could_select(build: &Patterns, skip: &Patterns, arch: Arch, libc: Libc) -> bool {
    let minors = 6..=30;
    let tags = minors.clone().flat_map(|minor| {
        [
            PythonTag::CPython {
                minor,
                free_threaded: false,
            },
            PythonTag::CPython {
                minor,
                free_threaded: true,
            },
            PythonTag::PyPy { minor },
        ]
    });
    tags.map(|python| BuildId { python, arch, libc }.to_string())
        .any(|id| (build.is_empty() || build.matches(&id)) && !skip.matches(&id))
}

/// The builds the patterns keep, in the order given. Each build pattern must
/// select something: one that selects nothing is most likely a typo.
pub fn filter_builds<T>(
    builds: Vec<(BuildId, T)>,
    build: &Patterns,
    skip: &Patterns,
) -> Result<Vec<(BuildId, T)>> {
    let ids: Vec<String> = builds.iter().map(|(id, _)| id.to_string()).collect();
    for pattern in build.iter() {
        if !ids.iter().any(|id| pattern_matches(pattern, id)) {
            bail!(
                "build pattern `{pattern}` selects none of the builds the images offer: {}",
                ids.join(" ")
            );
        }
    }
    let kept: Vec<(BuildId, T)> = builds
        .into_iter()
        .filter(|(id, _)| {
            let id = id.to_string();
            (build.is_empty() || build.matches(&id)) && !skip.matches(&id)
        })
        .collect();
    if kept.is_empty() {
        bail!(
            "build `{build}` and skip `{skip}` leave none of the builds the images offer: {}",
            ids.join(" ")
        );
    }
    Ok(kept)
}

/// Whether one pattern (braces and all) matches `id`.
pub fn pattern_matches(pattern: &str, id: &str) -> bool {
    expand_braces(pattern)
        .iter()
        .any(|p| glob(p.as_bytes(), id.as_bytes()))
}

/// Expands the first brace group, then the rest; empty when braces do not balance.
fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return if pattern.contains('}') {
            Vec::new()
        } else {
            vec![pattern.to_string()]
        };
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return Vec::new();
    };
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let alternatives: Vec<String> = if commas.is_empty() {
        match inner
            .split_once("..")
            .map(|(a, b)| (a.parse::<u32>(), b.parse::<u32>()))
        {
            Some((Ok(a), Ok(b))) if a <= b => (a..=b).map(|n| n.to_string()).collect(),
            // `{x}` with neither comma nor range stays as it is, as in a shell.
            _ => {
                return expand_braces(tail)
                    .into_iter()
                    .map(|t| format!("{head}{{{inner}}}{t}"))
                    .collect()
            }
        }
    } else {
        bounds
            .windows(2)
            .map(|w| pattern[w[0] + 1..w[1]].to_string())
            .collect()
    };
    let mut out = Vec::new();
    for alt in alternatives {
        let expanded = expand_braces(&format!("{head}{alt}{tail}"));
        if expanded.is_empty() {
            return Vec::new();
        }
        out.extend(expanded);
    }
    out
}

/// fnmatch: `*`, `?`, `[set]`, `[!set]`; other bytes match themselves.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((b'[', rest)) => match (s.split_first(), class(rest)) {
            (Some((&c, s_rest)), Some((matches, p_rest))) => matches(c) && glob(p_rest, s_rest),
            // An unclosed `[` is a literal, as in fnmatch.
            (Some((&c, s_rest)), None) => c == b'[' && glob(rest, s_rest),
            (None, _) => false,
        },
        Some((&c, rest)) => s.first() == Some(&c) && glob(rest, &s[1..]),
    }
}

/// A bracket expression after its `[`: a test for one byte, and the rest of the pattern.
fn class(p: &[u8]) -> Option<(impl Fn(u8) -> bool + '_, &[u8])> {
    let (negate, body) = match p.first() {
        Some(b'!') => (true, &p[1..]),
        _ => (false, p),
    };
    // A `]` first in the set is a member, not the end.
    let end = body.iter().skip(1).position(|&b| b == b']')? + 1;
    let set = &body[..end];
    let test = move |c: u8| {
        let mut hit = false;
        let mut i = 0;
        while i < set.len() {
            if i + 2 < set.len() && set[i + 1] == b'-' {
                hit |= set[i] <= c && c <= set[i + 2];
                i += 3;
            } else {
                hit |= set[i] == c;
                i += 1;
            }
        }
        hit != negate
    };
    Some((test, &body[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(s: &str) -> Patterns {
        Patterns::parse(&[s]).unwrap()
    }

    /// The examples of cibuildwheel's documentation of `build` and `skip`,
    /// on Linux identifiers.
    #[test]
    fn patterns_as_cibuildwheel_documents_them() {
        let ids = [
            "cp38-manylinux_x86_64",
            "cp310-manylinux_x86_64",
            "cp311-manylinux_x86_64",
            "cp311-manylinux_aarch64",
            "cp313t-manylinux_x86_64",
            "pp39-manylinux_x86_64",
            "pp310-manylinux_aarch64",
        ];
        let hits = |p: &str| -> Vec<&str> {
            let p = pats(p);
            ids.iter().copied().filter(|id| p.matches(id)).collect()
        };
        // "Only build on CPython 3.11": `cp311-*`.
        assert_eq!(
            hits("cp311-*"),
            ["cp311-manylinux_x86_64", "cp311-manylinux_aarch64"]
        );
        // "Skip PyPy": `pp*`.
        assert_eq!(
            hits("pp*"),
            ["pp39-manylinux_x86_64", "pp310-manylinux_aarch64"]
        );
        // Several patterns, space-separated.
        assert_eq!(
            hits("cp38-* pp39-*"),
            ["cp38-manylinux_x86_64", "pp39-manylinux_x86_64"]
        );
        // `?` is one character: cp31? is 3.10 to 3.19, and not cp313t.
        assert_eq!(
            hits("cp31?-*"),
            [
                "cp310-manylinux_x86_64",
                "cp311-manylinux_x86_64",
                "cp311-manylinux_aarch64"
            ]
        );
        // "Skip every aarch64 build": `*-manylinux_aarch64`.
        assert_eq!(
            hits("*-manylinux_aarch64"),
            ["cp311-manylinux_aarch64", "pp310-manylinux_aarch64"]
        );
        // Braces: `cp3{10,11}-*`, and numeric ranges.
        assert_eq!(
            hits("cp3{10,11}-manylinux_x86_64"),
            ["cp310-manylinux_x86_64", "cp311-manylinux_x86_64"]
        );
        assert_eq!(
            hits("cp3{8..10}-*"),
            ["cp38-manylinux_x86_64", "cp310-manylinux_x86_64"]
        );
        // Free-threaded builds: `cp3??t-*` (cibuildwheel's own test for them).
        assert_eq!(hits("cp3??t-*"), ["cp313t-manylinux_x86_64"]);
        // Sets and negated sets.
        assert_eq!(hits("cp3[8]-*"), ["cp38-manylinux_x86_64"]);
        assert_eq!(hits("[!c]*aarch64"), ["pp310-manylinux_aarch64"]);
        // `*` alone is everything; matching is case-sensitive, as fnmatch on Linux.
        assert_eq!(hits("*").len(), ids.len());
        assert!(hits("CP311-*").is_empty());
        assert!(Patterns::parse(&["cp3{10,11-*"]).is_err());
        assert!(Patterns::parse(&["cp3}-*"]).is_err());
        assert_eq!(Patterns::parse(&["  "]).unwrap(), Patterns::default());
    }

    #[test]
    fn patterns_rule_out_arches_before_anything_starts() {
        let none = Patterns::default();
        assert!(could_select(&none, &none, Arch::Aarch64, Libc::Glibc));
        let x86 = pats("*-manylinux_x86_64");
        assert!(!could_select(&x86, &none, Arch::Aarch64, Libc::Glibc));
        assert!(could_select(&x86, &none, Arch::X86_64, Libc::Glibc));
        assert!(!could_select(&x86, &none, Arch::X86_64, Libc::Musl));
        let musl = pats("*-musllinux_*");
        assert!(could_select(&musl, &none, Arch::Aarch64, Libc::Musl));
        assert!(!could_select(&none, &musl, Arch::Aarch64, Libc::Musl));
        assert!(could_select(&none, &musl, Arch::Aarch64, Libc::Glibc));
        assert!(!could_select(
            &none,
            &pats("*aarch64"),
            Arch::Aarch64,
            Libc::Glibc
        ));
        assert!(could_select(
            &pats("cp3??t-*"),
            &none,
            Arch::Aarch64,
            Libc::Glibc
        ));
    }

    #[test]
    fn filtering_builds() {
        let offered: Vec<(BuildId, ())> = [
            "cp311-manylinux_x86_64",
            "pp39-manylinux_x86_64",
            "cp311-manylinux_aarch64",
        ]
        .iter()
        .map(|s| (BuildId::parse(s).unwrap(), ()))
        .collect();
        let kept = filter_builds(offered.clone(), &pats("cp*"), &pats("*aarch64")).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0.to_string(), "cp311-manylinux_x86_64");
        let e = filter_builds(
            offered.clone(),
            &pats("cp311-* cp399-*"),
            &Patterns::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "build pattern `cp399-*` selects none of the builds the images offer: cp311-manylinux_x86_64 pp39-manylinux_x86_64 cp311-manylinux_aarch64"
        );
        let e = filter_builds(offered, &Patterns::default(), &pats("*")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("build `` and skip `*` leave none"),
            "{e}"
        );
    }
}
