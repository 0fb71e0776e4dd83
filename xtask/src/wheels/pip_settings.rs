//! pip's settings, told to uv: under emulation the native uv makes the
//! isolated build and test environments, and it must install what pip
//! would. It reads none of pip's variables, and decides differently where
//! it is not told otherwise (it stops at the first index that has a
//! package). So the variables a build sees (the image's, then the run's,
//! then the project's `environment`) become uv's configuration here, on the
//! host, where the dry run shows it; a setting uv cannot be told the same
//! way makes pip make the environments, and the build's log says why.

/// pip's variables that change nothing uv installs.
const HARMLESS: &[&str] = &[
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_ROOT_USER_ACTION",
    "PIP_NO_CACHE_DIR",
    "PIP_PROGRESS_BAR",
    "PIP_NO_INPUT",
    "PIP_NO_WARN_SCRIPT_LOCATION",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_QUIET",
    "PIP_VERBOSE",
    "PIP_CACHE_DIR",
];

/// Certificates pip (through requests) reads and uv does not.
const CERTIFICATES: &[&str] = &["PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"];

/// Whether variable `name` goes into uv's configuration (or stops it).
pub fn reads(name: &str) -> bool {
    name.starts_with("PIP_") || CERTIFICATES.contains(&name)
}

/// uv's configuration (a uv.toml) for the variables `env` sets, later
/// entries winning; or why pip makes the environments. `words` are the
/// project's `environment`: bash words the container evaluates, taken
/// when they are plain text.
pub fn uv_config(env: &[(String, String)], words: &[(String, String)]) -> Result<String, String> {
    let mut vars: Vec<(&str, String)> = Vec::new();
    fn set<'a>(vars: &mut Vec<(&'a str, String)>, k: &'a str, v: String) {
        vars.retain(|(name, _)| *name != k);
        vars.push((k, v));
    }
    for (k, v) in env {
        set(&mut vars, k, v.clone());
    }
    for (k, word) in words {
        if !(k.starts_with("PIP_") || CERTIFICATES.contains(&k.as_str())) {
            continue;
        }
        match plain(word) {
            Some(v) => set(&mut vars, k, v),
            None => {
                return Err(format!(
                    "environment sets {k} to `{word}`, which the container evaluates"
                ))
            }
        }
    }
    // Certificates: both read SSL_CERT_FILE, and otherwise trust the
    // same public roots (certifi's, uv's own); uv's `system-certs` is not
    // set, as it fails in an image without a system store.
    let mut toml = Vec::new();
    for (k, v) in vars {
        if HARMLESS.contains(&k) || v.is_empty() {
            continue;
        }
        if CERTIFICATES.contains(&k) {
            return Err(format!("{k} is set, and uv does not read it"));
        }
        let list = |v: &str| {
            let items: Vec<String> = v.split_whitespace().map(quoted).collect();
            format!("[{}]", items.join(", "))
        };
        match k {
            "PIP_NO_INDEX" if truthy(&v) => toml.push("no-index = true".into()),
            "PIP_NO_INDEX" => {}
            "PIP_INDEX_URL" => toml.push(format!("index-url = {}", quoted(&v))),
            "PIP_FIND_LINKS" => toml.push(format!("find-links = {}", list(&v))),
            // pip takes the best version across every index.
            "PIP_EXTRA_INDEX_URL" => {
                toml.push(format!("extra-index-url = {}", list(&v)));
                toml.push("index-strategy = \"unsafe-best-match\"".into());
            }
            "PIP_PRE" if truthy(&v) => toml.push("prerelease = \"allow\"".into()),
            "PIP_PRE" => {}
            k if k.starts_with("PIP_") => {
                return Err(format!("{k} is set, and uv is not told it"));
            }
            _ => {}
        }
    }
    Ok(toml.iter().map(|line| format!("{line}\n")).collect())
}

/// pip's reading of a yes/no variable.
fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

/// A bash word that is plain text (nothing to expand, no quotes) as itself.
fn plain(word: &str) -> Option<String> {
    let special = |c: char| "$`\\\"'(){}[]*?~;&|<>!#".contains(c) || c.is_whitespace();
    (!word.contains(special)).then(|| word.to_string())
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pips_settings_become_uvs() {
        let image = env(&[
            ("PATH", "/usr/bin"),
            ("PIP_NO_INDEX", "1"),
            ("PIP_FIND_LINKS", "/opt/wheelhouse /opt/more"),
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        ]);
        assert_eq!(
            uv_config(&image, &[]).unwrap(),
            "no-index = true\nfind-links = [\"/opt/wheelhouse\", \"/opt/more\"]\n"
        );
        // Extra indexes: the best version across all of them, as pip.
        let run = env(&[
            ("PIP_INDEX_URL", "https://a.example/simple"),
            ("PIP_EXTRA_INDEX_URL", "https://b.example/simple"),
            ("PIP_PRE", "yes"),
        ]);
        assert_eq!(
            uv_config(&run, &[]).unwrap(),
            "index-url = \"https://a.example/simple\"\nextra-index-url = [\"https://b.example/simple\"]\nindex-strategy = \"unsafe-best-match\"\nprerelease = \"allow\"\n"
        );
        // The project's plain words count, and win over the run's.
        let config = uv_config(
            &env(&[("PIP_NO_INDEX", "1")]),
            &[("PIP_NO_INDEX".into(), "0".into())],
        )
        .unwrap();
        assert_eq!(config, "");
    }

    #[test]
    fn what_uv_cannot_be_told_leaves_it_to_pip() {
        for (k, v, why) in [
            (
                "PIP_CONSTRAINT",
                "/c.txt",
                "PIP_CONSTRAINT is set, and uv is not told it",
            ),
            (
                "PIP_BUILD_CONSTRAINT",
                "/c.txt",
                "PIP_BUILD_CONSTRAINT is set, and uv is not told it",
            ),
            (
                "PIP_ONLY_BINARY",
                ":all:",
                "PIP_ONLY_BINARY is set, and uv is not told it",
            ),
            (
                "PIP_CERT",
                "/ca.pem",
                "PIP_CERT is set, and uv does not read it",
            ),
            (
                "REQUESTS_CA_BUNDLE",
                "/ca.pem",
                "REQUESTS_CA_BUNDLE is set, and uv does not read it",
            ),
        ] {
            assert_eq!(uv_config(&env(&[(k, v)]), &[]), Err(why.to_string()));
        }
        assert_eq!(
            uv_config(&[], &[("PIP_INDEX_URL".into(), "$MIRROR/simple".into())]),
            Err(
                "environment sets PIP_INDEX_URL to `$MIRROR/simple`, which the container evaluates"
                    .into()
            )
        );
        // Other variables of the project's environment are not pip's business.
        assert!(uv_config(&[], &[("CFLAGS".into(), "\"-O3 $CFLAGS\"".into())]).is_ok());
    }
}
