//! The GitHub Actions workflow of `ci github`. Every action pinned to a
//! full commit (its version in a comment), no permission at the top and the
//! least per job (`id-token: write` in the publish job alone), checkout's
//! credentials never persisted, and no `${{ }}` expansion inside a `run:`
//! (values reach the shell through `env:`). No cache is restored: a release
//! workflow that restores a cache another run wrote can be poisoned by it.

use std::fmt::Write as _;

use super::{q, Publish, Release};
use crate::matrix::github_runner;
use crate::platform::Arch;

/// The actions the workflow uses, each at a full commit: the release each
/// names, as its repository tags it.
const CHECKOUT: &str = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1";
const UPLOAD: &str = "actions/upload-artifact@043fb46d1a93c77aae656e7c1c64a875d1fc6a0a # v7.0.1";
const DOWNLOAD: &str =
    "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1";
const ATTEST: &str = "actions/attest@1e69f48acb82d1966a394da916b4c1698aa569d6 # v4.2.2";
const PYPI_PUBLISH: &str =
    "pypa/gh-action-pypi-publish@dc37677b2e1c63e2034f94d8a5b11f265b73ba33 # v1.14.2";

/// The runner of the sdist, gather and publish jobs.
const RUNNER: &str = "ubuntu-24.04";

/// The arch of a GitHub runner's machine.
fn runner_machine(runner: &str) -> Arch {
    match runner.ends_with("-arm") {
        true => Arch::Aarch64,
        false => Arch::X86_64,
    }
}

/// A checkout that leaves no token behind in the workspace.
fn checkout(y: &mut String) {
    let _ = write!(
        y,
        "      - uses: {CHECKOUT}\n        with:\n          persist-credentials: false\n"
    );
}

/// The workflow text. Every value is quoted, so that no identifier, pattern
/// or flag can be read as YAML syntax.
pub fn workflow(r: &Release) -> String {
    let mut y = String::new();
    y.push_str(
        "# Written by `cargo xtask ci github`; run it again after changing the\n\
         # configuration. Each build job runs on a runner of its own arch\n\
         # (x86_64 and i686 on x86_64, aarch64 on arm64, no QEMU); the arches\n\
         # GitHub has no runner of build on x86_64 under QEMU, registered by\n\
         # the tool itself, with the native compiler. The gather job verifies\n\
         # every wheel and the sdist into one folder with one SHA256SUMS and\n\
         # one manifest.json (the artifact `dist`).\n",
    );
    if let Some((env, _, _)) = r.publish.index() {
        let _ = write!(
            y,
            "# On a tag v*, the publish job attests and uploads `dist` to {} with\n\
             # trusted publishing: add this repository, this workflow (wheels.yml) and\n\
             # the environment `{env}` as a trusted publisher of the project on\n\
             # {}, and protect the environment in the repository's settings.\n",
            match r.publish {
                Publish::TestPypi => "TestPyPI",
                _ => "PyPI",
            },
            match r.publish {
                Publish::TestPypi => "test.pypi.org",
                _ => "pypi.org",
            },
        );
    }
    y.push_str(
        "name: wheels\n\
         on:\n  push:\n    tags: [\"v*\"]\n  workflow_dispatch:\n\
         # One run per tag or branch at a time; a release under way is never cancelled.\n\
         concurrency:\n  group: ${{ github.workflow }}-${{ github.ref }}\n  cancel-in-progress: false\n\
         permissions: {}\n\
         jobs:\n",
    );
    let mut needs = vec!["build"];
    if let Some(folder) = &r.sdist {
        needs.insert(0, "sdist");
        let _ = write!(
            y,
            "  sdist:\n    name: sdist\n    runs-on: {RUNNER}\n    permissions:\n      contents: read\n    steps:\n"
        );
        checkout(&mut y);
        let _ = write!(
            y,
            "      - name: sdist\n        run: {}\n      - uses: {UPLOAD}\n        with:\n          name: sdist\n          path: sdist/\n",
            q(&format!(
                "pipx run build --sdist --outdir sdist {}",
                crate::util::shell_quote(folder)
            ))
        );
    }
    y.push_str(
        "  build:\n    name: ${{ matrix.name }}\n    runs-on: ${{ matrix.runner }}\n\
         \x20   permissions:\n      contents: read\n\
         \x20   strategy:\n      fail-fast: false\n      matrix:\n        include:\n",
    );
    for job in r.jobs() {
        let runner = github_runner(job.arch);
        let (emulate, select) = job.on(runner_machine(runner));
        let _ = writeln!(
            y,
            "          - {{name: {}, runner: {}, emulate: {}, select: {}}}",
            q(&job.name),
            q(runner),
            q(emulate),
            q(&select)
        );
    }
    y.push_str("    steps:\n");
    checkout(&mut y);
    let _ = write!(
        y,
        "      - name: QEMU\n\
         \x20       if: matrix.emulate != ''\n\
         \x20       env:\n          EMULATE: ${{{{ matrix.emulate }}}}\n\
         \x20       run: \"cargo xtask qemu-register --arch \\\"$EMULATE\\\"\"\n\
         \x20     - name: Build\n\
         \x20       env:\n          SELECT: ${{{{ matrix.select }}}}\n\
         \x20       run: {}\n\
         \x20     - uses: {UPLOAD}\n\
         \x20       with:\n\
         \x20         name: wheels-${{{{ matrix.name }}}}\n\
         \x20         path: wheelhouse/\n",
        // SELECT is several words: split by the shell, as intended.
        q(&format!(
            "cargo xtask wheels $SELECT{} --out wheelhouse",
            r.extra_words()
        ))
    );
    let _ = write!(
        y,
        "  gather:\n    name: gather\n    needs: [{}]\n    runs-on: {RUNNER}\n    permissions:\n      contents: read\n    steps:\n",
        needs.join(", ")
    );
    checkout(&mut y);
    let _ = write!(
        y,
        "      - uses: {DOWNLOAD}\n        with:\n          path: parts\n"
    );
    let emulated = r.emulated_for_checks();
    if !emulated.is_empty() {
        let arches: Vec<&str> = emulated.iter().map(|a| a.name()).collect();
        let _ = write!(
            y,
            "      - name: QEMU (auditwheel runs in an image of each wheel's arch)\n        run: {}\n",
            q(&format!("cargo xtask qemu-register --arch {}", arches.join(",")))
        );
    }
    let standin = r.standin();
    let _ = write!(
        y,
        "      - name: Verify\n        run: {}\n      - uses: {UPLOAD}\n        with:\n          name: dist\n          path: dist/\n",
        q(&format!("cargo xtask verify parts/*{standin} --into dist"))
    );
    if let Some((env, upload, project_page)) = r.publish.index() {
        let _ = write!(
            y,
            "  publish:\n    name: publish\n    needs: [gather]\n\
             \x20   if: github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')\n\
             \x20   runs-on: {RUNNER}\n    environment:\n      name: {env}\n"
        );
        if let Some(project) = &r.project {
            let _ = writeln!(y, "      url: {}", q(&format!("{project_page}{project}")));
        }
        let _ = write!(
            y,
            "    permissions:\n      id-token: write # the OIDC token of trusted publishing and of the attestations' signatures\n      attestations: write # storing the attestations\n    steps:\n\
             \x20     - uses: {DOWNLOAD}\n        with:\n          name: dist\n          path: dist\n\
             \x20     - name: The checksums and manifest stay in the artifact, not on the index\n\
             \x20       run: \"mkdir checks && mv dist/SHA256SUMS dist/manifest.json checks/\"\n\
             \x20     - uses: {ATTEST}\n        with:\n          subject-path: \"dist/*\"\n\
             \x20     - uses: {PYPI_PUBLISH}\n        with:\n          packages-dir: dist/\n\
             \x20         repository-url: {upload}\n          attestations: true\n"
        );
    }
    y
}

#[cfg(test)]
mod tests {
    use super::super::{Per, Release};
    use super::*;
    use crate::platform::BuildId;

    fn release(ids: &[&str], per: Per, extra: &[&str], publish: Publish) -> Release {
        Release {
            ids: ids.iter().map(|s| BuildId::parse(s).unwrap()).collect(),
            per,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            publish,
            sdist: Some("python".into()),
            project: Some("demo-codec".into()),
        }
    }

    #[test]
    fn one_job_per_build() {
        let r = release(
            &["cp311-manylinux_x86_64", "cp311-manylinux_aarch64"],
            Per::Build,
            &["--standin"],
            Publish::None,
        );
        let y = workflow(&r);
        assert!(y.contains(r#"- {name: "cp311-manylinux_aarch64", runner: "ubuntu-24.04-arm", emulate: "", select: "--only cp311-manylinux_aarch64"}"#), "{y}");
        assert!(
            y.contains(r#"run: "cargo xtask wheels $SELECT --standin --out wheelhouse""#),
            "{y}"
        );
        assert_eq!(y.matches("- {name:").count(), 2);
        // aarch64 wheels are checked under QEMU in the gather job.
        assert!(
            y.contains(r#"run: "cargo xtask qemu-register --arch aarch64""#),
            "{y}"
        );
        assert!(
            y.contains(r#"run: "cargo xtask verify parts/* --standin --into dist""#),
            "{y}"
        );
        assert!(!y.contains("publish") && !y.contains("id-token"), "{y}");
    }

    #[test]
    fn arches_without_a_runner_build_emulated_with_the_helpers() {
        let r = release(
            &[
                "cp313-manylinux_i686",
                "cp313-manylinux_s390x",
                "cp313-musllinux_s390x",
            ],
            Per::Build,
            &[],
            Publish::None,
        );
        let y = workflow(&r);
        assert!(y.contains(r#"- {name: "cp313-manylinux_i686", runner: "ubuntu-24.04", emulate: "", select: "--only cp313-manylinux_i686"}"#), "{y}");
        assert!(y.contains(r#"- {name: "cp313-manylinux_s390x", runner: "ubuntu-24.04", emulate: "s390x", select: "--only cp313-manylinux_s390x --native-compiler"}"#), "{y}");
        // The native compiler is of glibc builds.
        assert!(y.contains(r#"- {name: "cp313-musllinux_s390x", runner: "ubuntu-24.04", emulate: "s390x", select: "--only cp313-musllinux_s390x"}"#), "{y}");
        assert!(y.contains("if: matrix.emulate != ''"), "{y}");
    }

    #[test]
    fn one_job_per_arch() {
        let r = release(
            &[
                "cp311-manylinux_x86_64",
                "pp311-manylinux_x86_64",
                "cp311-manylinux_aarch64",
            ],
            Per::Arch,
            &["--build", "cp3* pp*"],
            Publish::None,
        );
        let y = workflow(&r);
        assert_eq!(y.matches("- {name:").count(), 2, "{y}");
        assert!(y.contains(r#"select: "--arch aarch64""#), "{y}");
        assert!(
            y.contains(r#"$SELECT --build 'cp3* pp*' --out wheelhouse"#),
            "{y}"
        );
    }

    #[test]
    fn a_release_publishes_on_a_tag_with_trusted_publishing_and_attestations() {
        let r = release(&["cp312-manylinux_x86_64"], Per::Build, &[], Publish::Pypi);
        let y = workflow(&r);
        let publish = &y[y.find("  publish:").unwrap()..];
        assert!(
            publish.contains(
                "if: github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')"
            ),
            "{publish}"
        );
        assert!(
            publish.contains(
                "environment:\n      name: pypi\n      url: \"https://pypi.org/p/demo-codec\"\n"
            ),
            "{publish}"
        );
        assert!(
            publish.contains("repository-url: https://upload.pypi.org/legacy/"),
            "{publish}"
        );
        assert!(
            publish.contains(&format!(
                "- uses: {ATTEST}\n        with:\n          subject-path: \"dist/*\""
            )),
            "{publish}"
        );
        assert!(!y.contains("password") && !y.contains("secrets."), "{y}");
        // The sdist job feeds the gather job; no emulation when all is x86_64.
        assert!(y.contains("needs: [sdist, build]"), "{y}");
        assert!(
            y.contains(r#"run: "pipx run build --sdist --outdir sdist python""#),
            "{y}"
        );
        assert!(!y.contains("qemu-register --arch x86_64"), "{y}");
        let test = workflow(&release(
            &["cp312-manylinux_x86_64"],
            Per::Build,
            &[],
            Publish::TestPypi,
        ));
        assert!(
            test.contains("name: testpypi\n      url: \"https://test.pypi.org/p/demo-codec\""),
            "{test}"
        );
        assert!(
            test.contains("repository-url: https://test.pypi.org/legacy/"),
            "{test}"
        );
    }
}
