//! The container engine: which program, what its images are, and the
//! containers a run starts (always labelled, always removed).

use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::platform::Arch;
use crate::util::{Runner, Undo, UndoGuard};

/// Every container, volume and image this tool creates carries this label,
/// so that what a run leaves behind can be found.
pub const LABEL: &str = "org.xtask-wheels";

#[derive(Clone, Debug, PartialEq)]
pub struct Engine {
    pub program: Utf8PathBuf,
    /// Global options that pick the daemon (such as `--host URL`); empty for
    /// the client's own default.
    pub endpoint: Vec<String>,
}

impl Engine {
    /// `XTASK_ENGINE` first, then `docker`, then `podman` on PATH.
    pub fn detect() -> Result<Engine> {
        let explicit = std::env::var("XTASK_ENGINE").ok().filter(|s| !s.is_empty());
        let candidates: Vec<String> = match &explicit {
            Some(e) => vec![e.clone()],
            None => vec!["docker".into(), "podman".into()],
        };
        for name in &candidates {
            if let Ok(path) = which::which(name) {
                let program = Utf8PathBuf::from_path_buf(path)
                    .map_err(|p| anyhow::anyhow!("engine path {} is not UTF-8", p.display()))?;
                return Ok(Engine {
                    program,
                    endpoint: Vec::new(),
                });
            }
        }
        match explicit {
            Some(e) => bail!("container engine `{e}` (from XTASK_ENGINE) is not on PATH: install it or unset XTASK_ENGINE"),
            None => bail!(
                "no container engine: neither `docker` nor `podman` is on PATH; install Docker (Debian/Ubuntu: `apt-get install docker.io`)"
            ),
        }
    }

    /// The engine a subcommand runs with: found, and its daemon answering.
    /// Under `--dry-run` nothing is asked of the daemon, and an engine that is
    /// not installed is named `docker` in the printed commands.
    pub fn ready(sh: &Shell, dry_run: bool) -> Result<Engine> {
        if dry_run {
            return Ok(Engine::detect().unwrap_or(Engine {
                program: "docker".into(),
                endpoint: Vec::new(),
            }));
        }
        let engine = Engine::detect()?;
        engine.check_daemon(sh)?;
        Ok(engine)
    }

    /// The client, with the options that pick this engine's daemon.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.program.as_str());
        cmd.args(&self.endpoint);
        cmd
    }

    pub fn name(&self) -> &str {
        self.program.file_name().unwrap_or("docker")
    }

    /// Fails with the fix when the daemon does not answer.
    pub fn check_daemon(&self, sh: &Shell) -> Result<String> {
        let (program, endpoint) = (&self.program, &self.endpoint);
        let format = "{{.Server.Version}}";
        let out = cmd!(sh, "{program} {endpoint...} version --format {format}")
            .quiet()
            .ignore_status()
            .output()?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no answer")
            .trim();
        bail!("the {} daemon is not reachable ({reason}): start it (`sudo systemctl start docker`, or `sudo dockerd &`)", self.name())
    }

    /// What the engine knows of a local image, or None when it has no such image.
    pub fn inspect_image(&self, sh: &Shell, image: &str) -> Result<Option<ImageInfo>> {
        let (program, endpoint) = (&self.program, &self.endpoint);
        let format = "{{.Id}}\n{{.Architecture}}\n{{range $k, $v := .Config.Labels}}label {{$k}}={{$v}}\n{{end}}{{range .Config.Env}}env {{.}}\n{{end}}";
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
        run: &Runner,
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
        run.run(cmd!(sh, "{program} {endpoint...} pull --platform {platform} {image}")).map_err(|_| {
            anyhow::anyhow!(
                "image `{image}` is not here and could not be pulled (the engine's reason is above): check the name and your registry login; without a registry, `cargo xtask standin` builds offline stand-ins (`wheels --standin` uses them)"
            )
        })?;
        if run.dry_run {
            return Ok(local);
        }
        self.inspect_image(sh, image)?
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("`{image}` is still missing after the pull"))
    }

    /// Builds an image from a context unless an image with that tag already
    /// carries the same inputs hash. Returns whether it built.
    pub fn build_if_changed(&self, sh: &Shell, run: &Runner, spec: &ImageBuild) -> Result<bool> {
        if self.up_to_date(sh, &spec.tag, &spec.inputs)? {
            return Ok(false);
        }
        run.run(self.build_command(sh, spec))?;
        Ok(true)
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
        run: &Runner,
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
        let info = self.ensure_image(sh, run, base, arch, pull)?;
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
        self.build_if_changed(sh, run, &spec)
    }

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
            "{program} {endpoint...} build --platform {platform} {args...} --tag {tag} {context}"
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

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub arch: String,
    pub labels: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
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

/// `docker exec` with the build's environment. A secret goes as `--env NAME`
/// with its value in the client's own environment, so that it appears in no
/// command line (not in `ps`, not in a log).
pub fn exec_command(
    engine: &Engine,
    container: &str,
    env: &[(String, String)],
    secrets: &[String],
    args: &[&str],
) -> Command {
    let mut cmd = engine.command();
    cmd.arg("exec");
    for (k, v) in env {
        if secrets.contains(k) {
            cmd.arg("--env").arg(k).env(k, v);
        } else {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
    }
    cmd.arg(container).args(args);
    cmd
}

/// A container that lives as long as this value (and no longer, also on Ctrl-C).
pub struct Container {
    pub engine: Engine,
    pub name: String,
    _guard: UndoGuard,
}

impl Container {
    /// The `docker run` line of a long-lived build container.
    /// The `docker run` line of a long-lived build container; `volumes` are `name:/path` mounts.
    pub fn run_args(
        name: &str,
        run_id: &str,
        image: &str,
        arch: Arch,
        volumes: &[String],
    ) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--detach",
            "--rm",
            "--name",
            name,
            "--label",
            &format!("{LABEL}=container"),
            "--label",
            &format!("{LABEL}.run={run_id}"),
            "--platform",
            &arch.docker_platform(),
            "--entrypoint",
            "",
            "--workdir",
            "/",
        ]
        .map(str::to_string)
        .to_vec();
        for v in volumes {
            args.push("--volume".into());
            args.push(v.clone());
        }
        args.extend([image, "sleep", "infinity"].map(str::to_string));
        args
    }

    /// Starts it; registered for removal before it exists, so no signal can leak it.
    pub fn start(
        engine: &Engine,
        run: &Runner,
        name: String,
        run_id: &str,
        image: &str,
        arch: Arch,
        volumes: &[String],
    ) -> Result<Container> {
        let guard = UndoGuard::new(Undo::Container {
            engine: engine.clone(),
            name: name.clone(),
        });
        let mut cmd = engine.command();
        cmd.args(Container::run_args(&name, run_id, image, arch, volumes))
            .stdout(Stdio::null());
        run.run(cmd)
            .with_context(|| format!("starting a container of `{image}`"))?;
        Ok(Container {
            engine: engine.clone(),
            name,
            _guard: guard,
        })
    }

    /// `docker exec` of a command in the container.
    pub fn exec(&self, env: &[(String, String)], secrets: &[String], args: &[&str]) -> Command {
        exec_command(&self.engine, &self.name, env, secrets, args)
    }

    /// Output of a quick command in the container.
    pub fn read(&self, args: &[&str]) -> Result<String> {
        let out = self.exec(&[], &[], args).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `docker cp` of a host folder's contents into the container.
    pub fn copy_in(&self, run: &Runner, from: &Utf8Path, to: &str) -> Result<()> {
        let mut cmd = self.engine.command();
        cmd.args([
            "cp",
            "--quiet",
            &format!("{from}/."),
            &format!("{}:{to}", self.name),
        ]);
        run.run_captured(cmd)
    }

    /// `docker cp` from the container to a host folder (files then belong to the caller).
    pub fn copy_out(&self, run: &Runner, from: &str, to: &Utf8Path) -> Result<()> {
        let mut cmd = self.engine.command();
        cmd.args([
            "cp",
            "--quiet",
            &format!("{}:{from}", self.name),
            to.as_str(),
        ]);
        run.run_captured(cmd)
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
    fn container_run_line() {
        assert_eq!(
            Container::run_args("xtask-1-x86_64", "1", "manylinux:latest", Arch::X86_64, &["c:/root/.cache/pip".into()]).join(" "),
            "run --detach --rm --name xtask-1-x86_64 --label org.xtask-wheels=container --label org.xtask-wheels.run=1 \
             --platform linux/amd64 --entrypoint  --workdir / --volume c:/root/.cache/pip manylinux:latest sleep infinity"
        );
    }

    #[test]
    fn exec_line_keeps_secrets_off_the_command_line() {
        let env = vec![
            ("MODE".to_string(), "a b".to_string()),
            ("TOKEN".to_string(), "s3cret".to_string()),
        ];
        let docker = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
        };
        let cmd = exec_command(
            &docker,
            "c1",
            &env,
            &["TOKEN".to_string()],
            &["bash", "x.sh"],
        );
        assert_eq!(
            crate::util::command_line(&cmd, &[]),
            "docker exec --env 'MODE=a b' --env TOKEN c1 bash x.sh"
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            envs,
            [(
                std::ffi::OsStr::new("TOKEN"),
                Some(std::ffi::OsStr::new("s3cret"))
            )]
        );
    }

    #[test]
    fn build_line() {
        let sh = Shell::new().unwrap();
        let engine = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
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
             --tag manylinux_aarch64 /repo/scripts/arm-image"
        );
    }
}
