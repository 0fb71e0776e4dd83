//! An engine's images: inspected, pulled, listed without running them,
//! and built (labelled with their inputs, so an unchanged one is not built
//! again).

use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use super::{Engine, CONTAINER_LABEL, LABEL};
use crate::cleanup::{Undo, UndoGuard};
use crate::platform::Arch;
use crate::util::Runner;

impl Engine {
    /// What the engine knows of a local image, or None when it has no such image.
    pub fn inspect_image(&self, sh: &Shell, image: &str) -> Result<Option<ImageInfo>> {
        let (program, endpoint) = (&self.program, &self.endpoint);
        let format = "{{.Id}}\n{{.Architecture}}\n{{range $k, $v := .Config.Labels}}label {{$k}}={{$v}}\n{{end}}{{range .Config.Env}}env {{.}}\n{{end}}{{range .RepoDigests}}digest {{.}}\n{{end}}";
        let out = cmd!(
            sh,
            "{program} {endpoint...} image inspect --format {format} {image}"
        )
        .quiet()
        .ignore_status()
        .output()?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.to_lowercase().contains("no such image") || stderr.contains("image not known")
            {
                return Ok(None);
            }
            bail!(
                "`{} image inspect {image}` failed: {}",
                self.name(),
                stderr.trim()
            );
        }
        Ok(Some(ImageInfo::parse(&String::from_utf8_lossy(
            &out.stdout,
        ))))
    }

    /// The image, pulled when it is not here (or always, with `pull`).
    pub fn ensure_image(
        &self,
        sh: &Shell,
        runner: &Runner,
        image: &str,
        arch: Arch,
        pull: bool,
    ) -> Result<Option<ImageInfo>> {
        let local = self.inspect_image(sh, image)?;
        if local.is_some() && !pull {
            return Ok(local);
        }
        let (program, endpoint) = (&self.program, &self.endpoint);
        let platform = arch.docker_platform();
        runner.run(cmd!(sh, "{program} {endpoint...} pull --platform {platform} {image}")).map_err(|_| match local {
            Some(_) => anyhow::anyhow!(
                "image `{image}` could not be pulled again, as --pull asks (the engine's reason is above): check your registry login, or leave --pull out to build with the copy this engine has"
            ),
            None => anyhow::anyhow!(
                "image `{image}` is not here and could not be pulled (the engine's reason is above): check the name and your registry login; without a registry, `cargo xtask standin` builds offline stand-ins (`wheels --standin` uses them)"
            ),
        })?;
        if runner.dry_run {
            return Ok(local);
        }
        self.inspect_image(sh, image)?
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("`{image}` is still missing after the pull"))
    }

    /// The interpreter folders of image `image` (whose id is `id`): its
    /// /opt/python, listed once per image id (an id names its content) and
    /// kept under target/xtask/listings, so a run lists before it starts
    /// anything at the cost of a file read.
    pub fn list_interpreters(&self, image: &str, id: &str, arch: Arch) -> Result<Vec<String>> {
        let key: String = id
            .trim_start_matches("sha256:")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let file = crate::util::project_root().join(format!("target/xtask/listings/{key}"));
        if !key.is_empty() {
            if let Ok(text) = std::fs::read_to_string(&file) {
                return Ok(text.lines().map(String::from).collect());
            }
        }
        let names = self.list_image_dir(image, arch, "/opt/python")?;
        // Whole or not at all: another run may be reading it. A listing
        // that cannot be kept is listed again next time.
        if !key.is_empty()
            && file
                .parent()
                .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
        {
            let _ = crate::cleanup::write_whole(&file, &names.join("\n"));
        }
        Ok(names)
    }

    /// The entries of a folder of an image, read without running anything in
    /// it (a created container, copied from), so no emulation is needed.
    pub fn list_image_dir(&self, image: &str, arch: Arch, dir: &str) -> Result<Vec<String>> {
        let name = format!("xtask-list-{}", crate::util::run_id());
        let _guard = UndoGuard::new(Undo::run(&self.rm(&name)));
        let create = self
            .command()
            .args(["create", "--name", &name, "--label"])
            .arg(CONTAINER_LABEL)
            .args([
                "--platform",
                &arch.docker_platform(),
                "--entrypoint",
                "true",
                image,
            ])
            .stdin(Stdio::null())
            .output()
            .context("creating a container to list the image")?;
        if !create.status.success() {
            bail!(
                "cannot create a container of `{image}` on {}: {}",
                self.describe(),
                String::from_utf8_lossy(&create.stderr).trim()
            );
        }
        let mut cp = self
            .command()
            .args(["cp", &format!("{name}:{dir}"), "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("copying from the listing container")?;
        let list = Command::new("tar")
            .args(["--list", "--file=-"])
            .stdin(cp.stdout.take().expect("piped"))
            .output()
            .context("starting tar (is it installed?)")?;
        let cp = cp.wait_with_output()?;
        if !cp.status.success() {
            bail!(
                "image `{image}` has no {dir}: {}",
                String::from_utf8_lossy(&cp.stderr).trim()
            );
        }
        // Entries are `python/`, `python/cp312-cp312/...`: keep the second part, once.
        let mut names: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&list.stdout).lines() {
            if let Some(entry) = line.split('/').nth(1).filter(|e| !e.is_empty()) {
                if !names.iter().any(|n| n == entry) {
                    names.push(entry.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Builds an image from a context unless an image with that tag already
    /// carries the same inputs hash. Returns whether it built.
    pub fn build_if_changed(&self, sh: &Shell, runner: &Runner, spec: &ImageBuild) -> Result<bool> {
        if self.up_to_date(sh, &spec.tag, &spec.inputs)? {
            return Ok(false);
        }
        self.build(sh, runner, spec)?;
        Ok(true)
    }

    /// Builds `spec`'s image, its output in a log of its own
    /// (target/xtask/image-logs/<tag>.log) and one line of progress.
    pub fn build(&self, sh: &Shell, runner: &Runner, spec: &ImageBuild) -> Result<()> {
        let name: String = spec
            .tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let log = crate::util::project_root().join(format!("target/xtask/image-logs/{name}.log"));
        runner.run_logged(
            self.build_command(sh, spec),
            &format!("building image {} ({})", spec.tag, spec.arch),
            &log,
        )
    }

    /// Whether an image `tag` exists that was built from `inputs` (says so when it is).
    pub fn up_to_date(&self, sh: &Shell, tag: &str, inputs: &str) -> Result<bool> {
        let info = self.inspect_image(sh, tag)?;
        let fresh = info.is_some_and(|i| i.label(INPUTS_LABEL) == Some(inputs));
        if fresh {
            eprintln!("{tag} is up to date (inputs {inputs})");
        }
        Ok(fresh)
    }

    /// Builds `tag` from a context whose Dockerfile starts `FROM ${BASE}`: the
    /// base is pulled only when missing (or with `pull`), and nothing is built
    /// when neither the context nor the base image changed.
    pub fn build_on_base(
        &self,
        sh: &Shell,
        runner: &Runner,
        derived: DerivedImage<'_>,
    ) -> Result<bool> {
        let DerivedImage {
            base,
            tag,
            arch,
            context,
            mut build_args,
            pull,
        } = derived;
        let info = self.ensure_image(sh, runner, base, arch, pull)?;
        if let Some(info) = &info {
            info.check_arch(base, arch)?;
        }
        let mut hash = crate::util::Fnv::default();
        hash.write_tree(context)?;
        hash.write(info.map(|i| i.id).unwrap_or_default().as_bytes());
        build_args.insert(0, ("BASE".to_string(), base.to_string()));
        for (k, v) in &build_args {
            hash.write(format!("{k}={v}").as_bytes());
        }
        let spec = ImageBuild {
            tag: tag.to_string(),
            arch,
            context: context.to_path_buf(),
            build_args,
            inputs: hash.hex(),
        };
        self.build_if_changed(sh, runner, &spec)
    }

    /// A failed step's container is removed too (`--force-rm`): nothing of
    /// ours outlives the command.
    pub fn build_command(&self, sh: &Shell, spec: &ImageBuild) -> Command {
        let (program, endpoint) = (&self.program, &self.endpoint);
        let platform = spec.arch.docker_platform();
        let tag = &spec.tag;
        let context = &spec.context;
        let mut args = vec![
            "--label".to_string(),
            format!("{LABEL}=image"),
            "--label".to_string(),
            format!("{INPUTS_LABEL}={}", spec.inputs),
            "--label".to_string(),
            format!("{ARCH_LABEL}={}", spec.arch),
        ];
        for (k, v) in &spec.build_args {
            args.push("--build-arg".into());
            args.push(format!("{k}={v}"));
        }
        cmd!(
            sh,
            "{program} {endpoint...} build --platform {platform} {args...} --force-rm --tag {tag} {context}"
        )
        .into()
    }
}

pub const INPUTS_LABEL: &str = "org.xtask-wheels.inputs";
pub const ARCH_LABEL: &str = "org.xtask-wheels.arch";

pub struct DerivedImage<'a> {
    pub base: &'a str,
    pub tag: &'a str,
    pub arch: Arch,
    pub context: &'a Utf8Path,
    pub build_args: Vec<(String, String)>,
    pub pull: bool,
}

pub struct ImageBuild {
    pub tag: String,
    pub arch: Arch,
    pub context: Utf8PathBuf,
    pub build_args: Vec<(String, String)>,
    /// Hash of everything the image is made from.
    pub inputs: String,
}

/// An image id as people read it: its first twelve hex digits.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub arch: String,
    pub labels: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    /// The registry digests it was pulled by (`repo@sha256:...`), none
    /// for an image built here.
    pub digests: Vec<String>,
}

impl ImageInfo {
    fn parse(text: &str) -> ImageInfo {
        let mut lines = text.lines();
        let mut info = ImageInfo {
            id: lines.next().unwrap_or_default().trim().to_string(),
            arch: lines.next().unwrap_or_default().trim().to_string(),
            ..ImageInfo::default()
        };
        for line in lines {
            let split = |s: &str| {
                s.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            };
            if let Some(kv) = line.strip_prefix("label ").and_then(split) {
                info.labels.push(kv);
            } else if let Some(kv) = line.strip_prefix("env ").and_then(split) {
                info.env.push(kv);
            } else if let Some(digest) = line.strip_prefix("digest ") {
                info.digests.push(digest.to_string());
            }
        }
        info
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Fails unless the image is built for `arch`.
    pub fn check_arch(&self, image: &str, arch: Arch) -> Result<()> {
        if self.arch != arch.docker_name() {
            bail!(
                "image `{image}` is built for {}, but {arch} needs a {} image: pick the image for {arch}",
                self.arch,
                arch.docker_name()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_info() {
        let info = ImageInfo::parse(
            "sha256:abc\narm64\nlabel org.xtask-wheels.inputs=123\nenv PATH=/usr/bin:/bin\nenv AUDITWHEEL_PLAT=manylinux2014_aarch64\n",
        );
        assert_eq!(info.id, "sha256:abc");
        assert_eq!(info.label(INPUTS_LABEL), Some("123"));
        assert_eq!(info.env("AUDITWHEEL_PLAT"), Some("manylinux2014_aarch64"));
        assert_eq!(info.env("PATH"), Some("/usr/bin:/bin"));
        info.check_arch("x", Arch::Aarch64).unwrap();
        let err = info
            .check_arch("img", Arch::X86_64)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "image `img` is built for arm64, but x86_64 needs a amd64 image: pick the image for x86_64");
    }

    #[test]
    fn build_line() {
        let sh = Shell::new().unwrap();
        let engine = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
            api: None,
        };
        let spec = ImageBuild {
            tag: "manylinux_aarch64".into(),
            arch: Arch::Aarch64,
            context: "/repo/scripts/arm-image".into(),
            build_args: vec![("BASE".into(), "quay.io/pypa/manylinux2014_aarch64".into())],
            inputs: "00ff".into(),
        };
        let cmd = engine.build_command(&sh, &spec);
        assert_eq!(
            crate::util::command_line(&cmd, &[]),
            "docker build --platform linux/arm64 --label org.xtask-wheels=image --label org.xtask-wheels.inputs=00ff \
             --label org.xtask-wheels.arch=aarch64 --build-arg BASE=quay.io/pypa/manylinux2014_aarch64 \
             --force-rm --tag manylinux_aarch64 /repo/scripts/arm-image"
        );
    }
}
