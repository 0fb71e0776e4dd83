//! The GitLab CI/CD pipeline of `ci gitlab`: the same release as `ci
//! github`'s, on GitLab.com's hosted runners. Jobs that run engines get a
//! Docker-in-Docker service; each build job's wheels land in a folder of
//! its own (`parts/NAME`), which the gather job verifies into `dist`; the
//! publish job uploads with PyPI's trusted publishing through GitLab's ID
//! tokens (no password or token stored), with PEP 740 attestations signed
//! by Sigstore through a second ID token.

use std::fmt::Write as _;

use super::{q, Publish, Release};
use crate::platform::Arch;

/// The image of the jobs that run `cargo xtask`, and its engine's service.
const RUST_IMAGE: &str = "rust:1-bookworm";
const DIND: &str = "docker:27-dind";
/// The image of the sdist and publish jobs.
const PYTHON_IMAGE: &str = "python:3.13-slim-bookworm";

/// The hosted runner that builds an arch natively, where GitLab has one.
fn runner(arch: Arch) -> (&'static str, Arch) {
    match arch {
        Arch::Aarch64 => ("saas-linux-small-arm64", Arch::Aarch64),
        _ => ("saas-linux-small-amd64", Arch::X86_64),
    }
}

/// The pipeline text. Every value is quoted, so that no identifier, pattern
/// or flag can be read as YAML syntax.
pub fn pipeline(r: &Release) -> String {
    let mut y = String::new();
    y.push_str(
        "# Written by `cargo xtask ci gitlab`; run it again after changing the\n\
         # configuration. Each build job runs on a runner of its own arch\n\
         # (aarch64 on arm64, no QEMU); the arches GitLab has no runner of build\n\
         # on amd64 under QEMU, registered by the tool itself, with the native\n\
         # compiler. The gather job verifies every wheel and the sdist into one\n\
         # folder with one SHA256SUMS and one manifest.json (the artifact dist/).\n",
    );
    if let Some((env, _, _)) = r.publish.index() {
        let _ = write!(
            y,
            "# On a tag v*, the publish job uploads dist/ with trusted publishing: add\n\
             # this project, .gitlab-ci.yml and the environment `{env}` as a trusted\n\
             # publisher of the project on {}, and protect the tags v*.\n",
            match r.publish {
                Publish::TestPypi => "test.pypi.org",
                _ => "pypi.org",
            }
        );
    }
    let _ = write!(
        y,
        "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG =~ /^v/\n    - if: $CI_PIPELINE_SOURCE == \"web\"\n\
         stages: [build, gather{}]\n\
         .engine:\n  image: {}\n  services:\n    - name: {}\n      alias: docker\n\
         \x20 variables:\n    DOCKER_HOST: tcp://docker:2375\n    DOCKER_TLS_CERTDIR: \"\"\n\
         \x20 before_script:\n    - \"apt-get update -qq && apt-get install -y -qq docker.io >/dev/null\"\n",
        match r.publish.index() {
            Some(_) => ", publish",
            None => "",
        },
        q(RUST_IMAGE),
        q(DIND),
    );
    let mut folders = "parts/*".to_string();
    if let Some(folder) = &r.sdist {
        folders.push_str(" sdist");
        let _ = write!(
            y,
            "sdist:\n  stage: build\n  image: {}\n  script:\n    - \"python -m pip install --quiet build\"\n    - {}\n  artifacts:\n    paths: [sdist/]\n",
            q(PYTHON_IMAGE),
            q(&format!(
                "python -m build --sdist --outdir sdist {}",
                crate::util::shell_quote(folder)
            ))
        );
    }
    y.push_str("build:\n  stage: build\n  extends: .engine\n  parallel:\n    matrix:\n");
    for job in r.jobs() {
        let (tag, machine) = runner(job.arch);
        let (emulate, select) = job.on(machine);
        let _ = writeln!(
            y,
            "      - {{NAME: {}, RUNNER: {}, EMULATE: {}, SELECT: {}}}",
            q(&job.name),
            q(tag),
            q(emulate),
            q(&select)
        );
    }
    let _ = write!(
        y,
        "  tags: [$RUNNER]\n  script:\n\
         \x20   - \"if [ -n \\\"$EMULATE\\\" ]; then cargo xtask qemu-register --arch \\\"$EMULATE\\\"; fi\"\n\
         \x20   - {}\n  artifacts:\n    paths: [parts/]\n",
        q(&format!(
            "cargo xtask wheels $SELECT{} --out \"parts/$NAME\"",
            r.extra_words()
        ))
    );
    y.push_str("gather:\n  stage: gather\n  extends: .engine\n  script:\n");
    let emulated = r.emulated_for_checks();
    if !emulated.is_empty() {
        let arches: Vec<&str> = emulated.iter().map(|a| a.name()).collect();
        let _ = writeln!(
            y,
            "    - {}",
            q(&format!(
                "cargo xtask qemu-register --arch {}",
                arches.join(",")
            ))
        );
    }
    let standin = r.standin();
    let _ = write!(
        y,
        "    - {}\n  artifacts:\n    paths: [dist/]\n",
        q(&format!(
            "cargo xtask verify {folders}{standin} --into dist"
        ))
    );
    if let Some((env, upload, project_page)) = r.publish.index() {
        let _ = write!(
            y,
            "publish:\n  stage: publish\n  image: {}\n  needs: [gather]\n  rules:\n    - if: $CI_COMMIT_TAG =~ /^v/\n  environment:\n    name: {env}\n",
            q(PYTHON_IMAGE)
        );
        if let Some(project) = &r.project {
            let _ = writeln!(y, "    url: {}", q(&format!("{project_page}{project}")));
        }
        let _ = write!(
            y,
            "  id_tokens:\n    PYPI_ID_TOKEN:\n      aud: {env}\n    SIGSTORE_ID_TOKEN:\n      aud: sigstore\n\
             \x20 script:\n\
             \x20   - \"mkdir checks && mv dist/SHA256SUMS dist/manifest.json checks/\"\n\
             \x20   - \"python -m pip install --quiet 'twine>=6.1' pypi-attestations\"\n\
             \x20   - \"python -m pypi_attestations sign dist/*\"\n\
             \x20   - {}\n",
            q(&format!(
                "python -m twine upload --attestations --repository-url {upload} dist/*"
            ))
        );
    }
    y
}

#[cfg(test)]
mod tests {
    use super::super::{Per, Release};
    use super::*;
    use crate::platform::BuildId;

    #[test]
    fn a_release_on_gitlab() {
        let r = Release {
            ids: [
                "cp312-manylinux_x86_64",
                "cp312-manylinux_aarch64",
                "cp312-manylinux_s390x",
            ]
            .iter()
            .map(|s| BuildId::parse(s).unwrap())
            .collect(),
            per: Per::Build,
            extra: vec![],
            publish: Publish::Pypi,
            sdist: Some("python".into()),
            project: Some("demo-codec".into()),
        };
        let y = pipeline(&r);
        assert!(y.contains(r#"- {NAME: "cp312-manylinux_aarch64", RUNNER: "saas-linux-small-arm64", EMULATE: "", SELECT: "--only cp312-manylinux_aarch64"}"#), "{y}");
        assert!(y.contains(r#"- {NAME: "cp312-manylinux_s390x", RUNNER: "saas-linux-small-amd64", EMULATE: "s390x", SELECT: "--only cp312-manylinux_s390x --native-compiler"}"#), "{y}");
        assert!(
            y.contains(r#"- "cargo xtask verify parts/* sdist --into dist""#),
            "{y}"
        );
        assert!(
            y.contains(r#"- "cargo xtask qemu-register --arch aarch64,s390x""#),
            "{y}"
        );
        assert!(
            y.contains("  id_tokens:\n    PYPI_ID_TOKEN:\n      aud: pypi\n"),
            "{y}"
        );
        assert!(y.contains("url: \"https://pypi.org/p/demo-codec\""), "{y}");
        assert!(!y.contains("PASSWORD") && !y.contains("password"), "{y}");
        // Without --publish there is no publish stage and no ID token.
        let none = pipeline(&Release {
            publish: Publish::None,
            ..r
        });
        assert!(
            !none.contains("id_tokens") && none.contains("stages: [build, gather]\n"),
            "{none}"
        );
    }
}
